// The vocabulary: words <-> ids with counts, in an open-addressing hash table over one string
// pool (no per-word allocation), plus the corpus scan that counts a text file in a stream.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace embedforge::core::w2v {

class Vocab {
 public:
  Vocab() { rehash(1 << 16); }

  // Id of `word`, or -1.
  int32_t find(std::string_view word) const;
  // Id of `word`, adding it with count 0 when missing.
  int32_t insert(std::string_view word);
  void add(std::string_view word, int64_t n = 1) { counts_[insert(word)] += n; }

  int64_t size() const { return static_cast<int64_t>(counts_.size()); }
  std::string_view word(int32_t id) const {
    return {pool_.data() + starts_[id], static_cast<size_t>(starts_[id + 1] - starts_[id])};
  }
  int64_t count(int32_t id) const { return counts_[id]; }
  const std::vector<int64_t>& counts() const { return counts_; }

  // Drops every word whose count is <= min_count_to_drop (gensim's max_vocab_size pruning).
  void prune(int64_t min_count_to_drop);

 private:
  static uint64_t hash(std::string_view w);
  void rehash(size_t slots);

  std::string pool_;                // all words back to back
  std::vector<int64_t> starts_{0};  // word i is pool_[starts_[i], starts_[i+1])
  std::vector<int64_t> counts_;
  std::vector<int32_t> slots_;  // -1 empty, else word id
  size_t mask_ = 0;
};

// Result of streaming over a corpus file: every distinct token with its count, in first-seen order.
struct CorpusCounts {
  Vocab vocab;
  int64_t tokens = 0;        // whitespace-separated tokens read
  int64_t sentences = 0;     // non-empty lines
  int64_t pruned_below = 0;  // words with count <= this were dropped by max_vocab_size pruning (0: none)
};

// Reads `path` in fixed-size chunks (bounded memory whatever the line lengths), splitting on ASCII
// whitespace; a line is a sentence. max_vocab_size > 0 bounds the table as gensim does: when it
// overflows, words with count <= k are dropped, with k growing by one each time.
CorpusCounts count_corpus_file(const std::string& path, int64_t max_vocab_size);

}  // namespace embedforge::core::w2v
