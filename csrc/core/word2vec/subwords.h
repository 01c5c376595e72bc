// FastText subwords: the character n-grams (min_n..max_n, counted in Unicode code points) of
// "<word>", hashed (FNV-1a, 32 bit) into `bucket` rows placed after the vocabulary rows.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace embedforge::core::w2v {

struct SubwordSpec {
  int min_n = 3;
  int max_n = 6;
  int64_t bucket = 2000000;
};

// Appends the bucket index (0..bucket-1) of every n-gram of `word` to out.
void ngram_buckets(std::string_view word, const SubwordSpec& spec, std::vector<int64_t>& out);

}  // namespace embedforge::core::w2v
