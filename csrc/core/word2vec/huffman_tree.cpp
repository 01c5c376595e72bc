#include "core/word2vec/huffman_tree.h"

#include <algorithm>
#include <numeric>

namespace embedforge::core::w2v {

// Two-queue construction over the leaves sorted by count (ascending): O(n log n) for the sort,
// O(n) for the merges. Inner nodes are numbered so that the root is output row 0 and the last
// merged pair's parent comes right after it; paths are stored root first.
HuffmanTree::HuffmanTree(const int64_t* counts, int64_t n) {
  offsets_.assign(static_cast<size_t>(n) + 1, 0);
  if (n <= 1) return;  // a single word needs no decisions
  std::vector<int32_t> leaves(n);
  std::iota(leaves.begin(), leaves.end(), 0);
  std::stable_sort(leaves.begin(), leaves.end(), [&](int32_t a, int32_t b) { return counts[a] < counts[b]; });
  const int64_t total = 2 * n - 1;  // nodes: leaves 0..n-1, inner n..2n-2
  std::vector<int64_t> weight(total);
  std::vector<int64_t> parent(total, -1);
  std::vector<uint8_t> branch(total, 0);
  for (int64_t i = 0; i < n; ++i) weight[i] = counts[leaves[i]] > 0 ? counts[leaves[i]] : 0;  // node i = leaves[i]
  int64_t li = 0, ii = n, next = n;
  auto pick = [&]() -> int64_t {
    if (li < n && (ii >= next || weight[li] <= weight[ii])) return li++;
    return ii++;
  };
  for (; next < total; ++next) {
    const int64_t a = pick(), b = pick();
    weight[next] = weight[a] + weight[b];
    parent[a] = next;
    branch[a] = 0;
    parent[b] = next;
    branch[b] = 1;
  }
  const int64_t root = total - 1;
  // Per word: walk up to the root, then store reversed (root first). Inner node id -> row root-id.
  std::vector<std::vector<int32_t>> pts(n);
  std::vector<std::vector<uint8_t>> cds(n);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t w = leaves[i];
    for (int64_t node = i; node != root; node = parent[node]) {
      cds[w].push_back(branch[node]);
      pts[w].push_back(static_cast<int32_t>(root - parent[node]));
    }
    std::reverse(cds[w].begin(), cds[w].end());
    std::reverse(pts[w].begin(), pts[w].end());
  }
  for (int64_t w = 0; w < n; ++w) {
    offsets_[w + 1] = offsets_[w] + static_cast<int64_t>(pts[w].size());
    max_len_ = std::max<int64_t>(max_len_, static_cast<int64_t>(pts[w].size()));
  }
  points_.reserve(offsets_[n]);
  codes_.reserve(offsets_[n]);
  for (int64_t w = 0; w < n; ++w) {
    points_.insert(points_.end(), pts[w].begin(), pts[w].end());
    codes_.insert(codes_.end(), cds[w].begin(), cds[w].end());
  }
}

}  // namespace embedforge::core::w2v
