#include "core/word2vec/subwords.h"

#include <string>

namespace embedforge::core::w2v {

void ngram_buckets(std::string_view word, const SubwordSpec& spec, std::vector<int64_t>& out) {
  if (spec.bucket <= 0 || spec.max_n < spec.min_n || spec.max_n <= 0) return;
  std::string w;
  w.reserve(word.size() + 2);
  w.push_back('<');
  w.append(word.data(), word.size());
  w.push_back('>');
  // Start byte of each code point (UTF-8 continuation bytes are 10xxxxxx), plus the end.
  std::vector<size_t> starts;
  for (size_t i = 0; i < w.size(); ++i)
    if ((static_cast<unsigned char>(w[i]) & 0xC0) != 0x80) starts.push_back(i);
  const size_t nchar = starts.size();
  starts.push_back(w.size());
  for (size_t i = 0; i < nchar; ++i) {
    for (int n = spec.min_n < 1 ? 1 : spec.min_n; n <= spec.max_n && i + n <= nchar; ++n) {
      if (n == 1 && (i == 0 || i + 1 == nchar)) continue;  // a lone "<" or ">" says nothing
      // FNV-1a as fastText computes it: each byte is xored as a sign-extended char, so bytes >= 0x80
      // (every byte of a non-ASCII character) hash as fastText's and gensim's buckets do.
      uint32_t h = 2166136261u;
      for (size_t b = starts[i]; b < starts[i + n]; ++b)
        h = (h ^ static_cast<uint32_t>(static_cast<signed char>(w[b]))) * 16777619u;
      out.push_back(static_cast<int64_t>(h % static_cast<uint64_t>(spec.bucket)));
    }
  }
}

}  // namespace embedforge::core::w2v
