// Streaming a whitespace-tokenised text file (one sentence per line) in fixed-size chunks: the one
// reader that feeds the workers. Memory is bounded by the chunk size plus the longest token.
//
// Tokens are split where Python's str.split() splits (gensim's LineSentence, our Python readers):
// ASCII whitespace including the separators 0x1C-0x1F, and the UTF-8 encodings of the Unicode spaces
// U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000. Lines end at '\n'
// only (a lone '\r' is whitespace), so a sentence is what a binary line read gives.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace embedforge::core::w2v {

// Bytes of whitespace starting at p: 0 when p starts no whitespace, kSpaceIncomplete when the bytes
// before end are the start of a multi-byte space that the next read may complete.
constexpr int kSpaceIncomplete = -1;

inline int space_len(const char* p, const char* end) {
  const auto c = static_cast<unsigned char>(*p);
  if (c < 0x80) return ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) ? 1 : 0;
  const int need = c == 0xC2 ? 2 : (c >= 0xE1 && c <= 0xE3) ? 3 : 0;
  if (need == 0) return 0;
  const auto avail = end - p;
  const auto b1 = avail > 1 ? static_cast<unsigned char>(p[1]) : 0;
  const auto b2 = avail > 2 ? static_cast<unsigned char>(p[2]) : 0;
  // Matching so far but cut by the end of the buffer: let the caller read more.
  if (avail < need) {
    if (avail == 1) return kSpaceIncomplete;
    if (c == 0xE1) return b1 == 0x9A ? kSpaceIncomplete : 0;
    if (c == 0xE2) return (b1 == 0x80 || b1 == 0x81) ? kSpaceIncomplete : 0;
    return b1 == 0x80 ? kSpaceIncomplete : 0;  // 0xE3
  }
  switch (c) {
    case 0xC2: return (b1 == 0x85 || b1 == 0xA0) ? 2 : 0;
    case 0xE1: return (b1 == 0x9A && b2 == 0x80) ? 3 : 0;
    case 0xE2:
      if (b1 == 0x80) return ((b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF) ? 3 : 0;
      return (b1 == 0x81 && b2 == 0x9F) ? 3 : 0;
    default: return (b1 == 0x80 && b2 == 0x80) ? 3 : 0;  // 0xE3: U+3000
  }
}

class LineTokenizer {
 public:
  static constexpr size_t kChunkBytes = size_t{1} << 20;
  static constexpr int64_t kToEnd = -1;

  // The whole file, or the lines that START in the byte range [begin, end) (end = kToEnd: to the end
  // of the file). Ranges that tile a file, cut anywhere, read every line exactly once between them.
  explicit LineTokenizer(std::string path, int64_t begin = 0, int64_t end = kToEnd)
      : path_(std::move(path)), begin_(begin), end_(end) {
    if (begin < 0 || (end != kToEnd && end < begin))
      throw std::invalid_argument("corpus byte range [" + std::to_string(begin) + ", " + std::to_string(end) +
                                  ") is not a range of file offsets");
  }

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
    int64_t pos = skip_to_first_line(f);  // file offset of the next byte read
    if (pos < 0) return;                  // no line starts in the range
    std::vector<char> buf(kChunkBytes);
    std::string carry;  // a token cut by the chunk boundary
    size_t keep = 0;    // bytes of a possibly multi-byte space cut by the boundary, moved to buf's front
    bool pending_line = false;
    bool at_line_start = true;
    for (;;) {
      if (stop && stop->load(std::memory_order_relaxed)) return;
      const size_t n = std::fread(buf.data() + keep, 1, buf.size() - keep, f);
      if (n == 0) {
        if (std::ferror(f)) throw std::runtime_error("read error in corpus file '" + path_ + "'");
        break;
      }
      const char* p = buf.data();
      const char* end = p + keep + n;
      const int64_t base = pos - static_cast<int64_t>(keep);  // file offset of buf[0]
      pos += static_cast<int64_t>(n);
      keep = 0;
      while (p < end) {
        // A line starting at or past the range's end belongs to the next range.
        if (at_line_start && end_ != kToEnd && base + (p - buf.data()) >= end_) return;
        at_line_start = false;
        int s = space_len(p, end);
        if (s == kSpaceIncomplete) {
          keep = static_cast<size_t>(end - p);
          std::memmove(buf.data(), p, keep);
          break;
        }
        if (s > 0) {
          if (!carry.empty()) {
            on_token(std::string_view(carry));
            carry.clear();
          }
          if (*p == '\n') {
            on_line_end();
            pending_line = false;
            at_line_start = true;
          }
          p += s;
          continue;
        }
        const char* t = p;
        while (p < end && (s = space_len(p, end)) == 0) ++p;
        pending_line = true;
        if (p == end || s == kSpaceIncomplete) {
          carry.append(t, p - t);
          if (p != end) {
            keep = static_cast<size_t>(end - p);
            std::memmove(buf.data(), p, keep);
          }
          break;
        }
        if (carry.empty()) {
          on_token(std::string_view(t, p - t));
        } else {
          carry.append(t, p - t);
          on_token(std::string_view(carry));
          carry.clear();
        }
      }
    }
    carry.append(buf.data(), keep);  // the file ended inside a would-be space: those bytes are a token's
    if (!carry.empty()) on_token(std::string_view(carry));
    if (pending_line || !carry.empty()) on_line_end();
  }

 private:
  // Positions f at the first line starting at or after begin_; returns that offset, or -1 when no
  // line starts inside the range.
  int64_t skip_to_first_line(std::FILE* f) const {
    if (begin_ == 0) return 0;
    // The line starting at begin_ is ours only if the byte before it ends a line.
    if (std::fseek(f, static_cast<long>(begin_ - 1), SEEK_SET) != 0)
      throw std::runtime_error("cannot seek in corpus file '" + path_ + "'");
    int64_t pos = begin_ - 1;
    for (int ch; (ch = std::fgetc(f)) != EOF;) {
      ++pos;
      if (ch == '\n') break;
    }
    if (std::ferror(f)) throw std::runtime_error("read error in corpus file '" + path_ + "'");
    if (std::feof(f) || (end_ != kToEnd && pos >= end_)) return -1;
    return pos;
  }

  std::string path_;
  int64_t begin_;
  int64_t end_;
};

}  // namespace embedforge::core::w2v
