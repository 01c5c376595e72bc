// The skip-gram examples of an epoch as the native trainer forms them, for a caller that trains
// them elsewhere (the device path: sgns_step on a GPU). The same jobs (JobBuilder, from pushed
// sentences or from the file reader), the same per-job RNG, subsampling (Model::subsample), window
// shrinking (Model::reach) and learning-rate schedule (Model::lr_at) as the CPU workers; only the
// update differs. One job's pairs come out at a time, shuffled, on the caller's thread; a file is
// read ahead by one reader thread into a bounded queue.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/word2vec/job.h"
#include "core/word2vec/job_queue.h"
#include "core/word2vec/model.h"
#include "core/word2vec/vocab.h"

namespace embedforge::core::w2v {

struct PairBatch {
  std::vector<int64_t> centers;   // predicted words (rows of the output table)
  std::vector<int64_t> contexts;  // input words (rows of the input table)
  float lr = 0.f;                 // the schedule's learning rate at the job's first word
  int64_t words = 0;              // in-vocabulary words of the job (before subsampling)
};

class PairStream {
 public:
  // Skip-gram only (cfg.sg); `tables` needs only its vocabulary size.
  PairStream(const TrainConfig& cfg, const Tables& tables, const int64_t* counts);
  ~PairStream();
  PairStream(const PairStream&) = delete;
  PairStream& operator=(const PairStream&) = delete;

  // Where the learning-rate schedule starts (words already trained); each epoch then adds its words.
  void set_words_before(int64_t w) {
    words_before_ = w;
    words_done_ = 0;
  }
  int64_t words_before() const { return words_before_; }

  // An epoch of pushed sentences: add_sentences() as Trainer::add_sentences (-1 = out of
  // vocabulary, dropped), next() until it returns false, and so on; end_input() flushes the last job.
  void begin_epoch(int64_t epoch);
  void add_sentences(const int32_t* ids, const int64_t* ends, int64_t n_sentences);
  void end_input();
  // An epoch read from a text file (the trainer's reader and tokenizer).
  void begin_file_epoch(int64_t epoch, const std::string& path, const Vocab* vocab);

  // The next job's pairs into `out` (replaced). False when no job is ready (pushed sentences) or the
  // file is done. Rethrows the reader's exception.
  bool next(PairBatch& out);
  // k negatives drawn from the unigram distribution (the trainer's sampler), into out[0, k).
  void negatives(int64_t k, int64_t* out);
  // Stops the reader (Ctrl-C, an error in the caller); the stream can begin another epoch.
  void abort();

  int64_t words_done() const { return words_done_; }
  float current_lr() const { return model_.lr_at(words_before_ + words_done_); }
  const Model& model() const { return model_; }

 private:
  void stop_reader();
  void pairs_of(const Job& job, PairBatch& out);

  Model model_;
  std::unique_ptr<JobBuilder> builder_;
  std::deque<Job> pushed_;
  std::unique_ptr<JobQueue> queue_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  std::mutex err_mu_;
  std::exception_ptr error_;
  std::vector<int32_t> sentence_;
  Rng neg_rng_;
  int64_t words_before_ = 0;
  int64_t words_done_ = 0;
};

}  // namespace embedforge::core::w2v
