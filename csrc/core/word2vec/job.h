// A job: a batch of sentences (word ids, out-of-vocabulary words already dropped) handed to one
// worker, and the builder that cuts any sentence stream into the same jobs whatever its source.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace embedforge::core::w2v {

struct Job {
  std::vector<int32_t> ids;
  std::vector<int64_t> ends;  // sentence i is ids[ends[i-1] (or 0), ends[i])
  int64_t start_word = 0;     // in-vocabulary words before this job since training began (for lr)
  int64_t epoch = 0;
  int64_t index = 0;  // position of the job within its epoch (seeds its RNG)
};

// Sentences longer than kMaxSentence ids are split into consecutive pieces (never cut); a job is
// emitted once it holds at least job_words ids (gensim's batch_words; kJobWords by default). Both the file reader and
// sentences pushed from Python go through here, so the same corpus gives the same jobs.
class JobBuilder {
 public:
  static constexpr int64_t kMaxSentence = 10000;
  static constexpr int64_t kJobWords = 10000;

  JobBuilder(int64_t epoch, int64_t start_word, std::function<void(Job&&)> emit, int64_t job_words = kJobWords)
      : emit_(std::move(emit)), epoch_(epoch), words_(start_word), job_words_(job_words < 1 ? 1 : job_words) {
    reset();
  }

  // Appends one in-vocabulary id to the current sentence.
  inline void add(int32_t id) {
    job_.ids.push_back(id);
    if (static_cast<int64_t>(job_.ids.size()) - sentence_start_ >= kMaxSentence) end_sentence();
  }
  // Closes the current sentence (no-op when empty).
  void end_sentence() {
    const int64_t n = static_cast<int64_t>(job_.ids.size());
    if (n == sentence_start_) return;
    job_.ends.push_back(n);
    sentence_start_ = n;
    if (n >= job_words_) flush();
  }
  // Emits what is left (call at the end of an epoch).
  void finish() {
    end_sentence();
    flush();
  }
  int64_t words() const { return words_ + static_cast<int64_t>(job_.ids.size()); }

 private:
  void reset() {
    job_ = Job{};
    job_.ids.reserve(std::min(job_words_, kJobWords) + kMaxSentence);
    job_.epoch = epoch_;
    job_.index = next_index_;
    job_.start_word = words_;
    sentence_start_ = 0;
  }
  void flush() {
    if (job_.ends.empty()) return;
    words_ += static_cast<int64_t>(job_.ids.size());
    ++next_index_;
    emit_(std::move(job_));
    reset();
  }

  std::function<void(Job&&)> emit_;
  Job job_;
  int64_t epoch_;
  int64_t words_;
  int64_t job_words_;
  int64_t next_index_ = 0;
  int64_t sentence_start_ = 0;
};

}  // namespace embedforge::core::w2v
