#include "core/word2vec/vocab.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/word2vec/corpus_reader.h"

namespace embedforge::core::w2v {

uint64_t Vocab::hash(std::string_view w) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a, then a final mix
  for (unsigned char c : w) h = (h ^ c) * 1099511628211ULL;
  h ^= h >> 32;
  return h * 0x9E3779B97F4A7C15ULL;
}

void Vocab::rehash(size_t slots) {
  slots_.assign(slots, -1);
  mask_ = slots - 1;
  for (int32_t id = 0; id < static_cast<int32_t>(counts_.size()); ++id) {
    size_t s = hash(word(id)) & mask_;
    while (slots_[s] >= 0) s = (s + 1) & mask_;
    slots_[s] = id;
  }
}

int32_t Vocab::find(std::string_view w) const {
  size_t s = hash(w) & mask_;
  for (;;) {
    const int32_t id = slots_[s];
    if (id < 0) return -1;
    if (word(id) == w) return id;
    s = (s + 1) & mask_;
  }
}

int32_t Vocab::insert(std::string_view w) {
  size_t s = hash(w) & mask_;
  for (;;) {
    const int32_t id = slots_[s];
    if (id < 0) break;
    if (word(id) == w) return id;
    s = (s + 1) & mask_;
  }
  if (counts_.size() >= static_cast<size_t>(INT32_MAX - 1)) throw std::length_error("vocabulary exceeds 2^31 words");
  const int32_t id = static_cast<int32_t>(counts_.size());
  pool_.append(w.data(), w.size());
  starts_.push_back(static_cast<int64_t>(pool_.size()));
  counts_.push_back(0);
  slots_[s] = id;
  if (counts_.size() * 2 > slots_.size()) rehash(slots_.size() * 2);
  return id;
}

void Vocab::prune(int64_t min_count_to_drop) {
  Vocab kept;
  for (int32_t id = 0; id < static_cast<int32_t>(counts_.size()); ++id)
    if (counts_[id] > min_count_to_drop) kept.add(word(id), counts_[id]);
  *this = std::move(kept);
}

CorpusCounts count_corpus_file(const std::string& path, int64_t max_vocab_size) {
  CorpusCounts out;
  int64_t min_reduce = 1;
  bool line_has_token = false;
  LineTokenizer tok(path);
  tok.run(
      [&](std::string_view t) {
        out.vocab.add(t);
        ++out.tokens;
        line_has_token = true;
        if (max_vocab_size > 0 && out.vocab.size() > max_vocab_size) {
          out.vocab.prune(min_reduce);
          out.pruned_below = min_reduce;
          ++min_reduce;
        }
      },
      [&]() {
        if (line_has_token) ++out.sentences;
        line_has_token = false;
      },
      nullptr);
  return out;
}

}  // namespace embedforge::core::w2v
