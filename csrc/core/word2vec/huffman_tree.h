// The binary Huffman tree over the vocabulary for hierarchical softmax: for each word, the inner
// nodes on its root-to-leaf path (rows of the output table) and the branch taken at each.
#pragma once
#include <cstdint>
#include <vector>

namespace embedforge::core::w2v {

class HuffmanTree {
 public:
  HuffmanTree() = default;
  HuffmanTree(const int64_t* counts, int64_t n);

  int64_t path_length(int32_t w) const { return offsets_[w + 1] - offsets_[w]; }
  const int32_t* points(int32_t w) const { return points_.data() + offsets_[w]; }
  const uint8_t* codes(int32_t w) const { return codes_.data() + offsets_[w]; }
  int64_t max_path_length() const { return max_len_; }

 private:
  std::vector<int64_t> offsets_;
  std::vector<int32_t> points_;
  std::vector<uint8_t> codes_;
  int64_t max_len_ = 0;
};

}  // namespace embedforge::core::w2v
