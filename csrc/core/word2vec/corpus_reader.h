// Streaming a whitespace-tokenised text file (one sentence per line) in fixed-size chunks: the one
// reader that feeds the workers. Memory is bounded by the chunk size plus the longest token.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace embedforge::core::w2v {

inline bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

class LineTokenizer {
 public:
  static constexpr size_t kChunkBytes = size_t{1} << 20;

  explicit LineTokenizer(std::string path) : path_(std::move(path)) {}

  // Calls on_token(std::string_view) for each token and on_line_end() after each line (also the
  // last one, even without a trailing newline). Stops early when *stop becomes true.
  template <typename OnToken, typename OnLineEnd>
  void run(OnToken&& on_token, OnLineEnd&& on_line_end, const std::atomic<bool>* stop) {
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open corpus file '" + path_ + "'");
    struct Closer {
      std::FILE* f;
      ~Closer() { std::fclose(f); }
    } closer{f};
    std::vector<char> buf(kChunkBytes);
    std::string carry;  // a token cut by the chunk boundary
    bool pending_line = false;
    for (;;) {
      if (stop && stop->load(std::memory_order_relaxed)) return;
      const size_t n = std::fread(buf.data(), 1, buf.size(), f);
      if (n == 0) {
        if (std::ferror(f)) throw std::runtime_error("read error in corpus file '" + path_ + "'");
        break;
      }
      const char* p = buf.data();
      const char* end = p + n;
      while (p < end) {
        if (is_space(*p)) {
          if (!carry.empty()) {
            on_token(std::string_view(carry));
            carry.clear();
          }
          if (*p == '\n') {
            on_line_end();
            pending_line = false;
          }
          ++p;
          continue;
        }
        const char* s = p;
        while (p < end && !is_space(*p)) ++p;
        pending_line = true;
        if (p == end) {
          carry.append(s, p - s);
          break;
        }
        if (carry.empty()) {
          on_token(std::string_view(s, p - s));
        } else {
          carry.append(s, p - s);
          on_token(std::string_view(carry));
          carry.clear();
        }
      }
    }
    if (!carry.empty()) on_token(std::string_view(carry));
    if (pending_line || !carry.empty()) on_line_end();
  }

 private:
  std::string path_;
};

}  // namespace embedforge::core::w2v
