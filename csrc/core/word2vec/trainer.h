// The trainer: one epoch at a time, a source of sentences (the file reader thread, or pushes from
// the caller) cut into jobs, a bounded queue, and `workers` Hogwild threads each with its own
// WorkerState. A worker's exception stops the epoch and is rethrown by join() on the caller's
// thread. deterministic=true trains on one thread (jobs in order, RNG seeded per job), which gives
// the same bits for any `workers`.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/word2vec/job_queue.h"
#include "core/word2vec/model.h"
#include "core/word2vec/vocab.h"

namespace embedforge::core::w2v {

struct EpochStats {
  int64_t words = 0;     // in-vocabulary words processed (before subsampling)
  int64_t examples = 0;  // predictions made
  double loss = 0;       // summed logistic loss (compute_loss only)
  double seconds = 0;
};

class Trainer {
 public:
  Trainer(const TrainConfig& cfg, const Tables& tables, const int64_t* counts);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Where the learning-rate schedule starts (words already trained in this schedule).
  void set_words_before(int64_t w) { words_before_ = w; }
  int64_t words_before() const { return words_before_; }

  // --- an epoch fed by the caller -----------------------------------------------------------
  void begin_epoch(int64_t epoch);
  // Adds sentences in CSR form: ids (-1 = out of vocabulary, dropped), ends[i] = end of sentence i.
  // Ids must be < vocab (checked by the binding). Jobs go to an outbox; flush() moves them on.
  void add_sentences(const int32_t* ids, const int64_t* ends, int64_t n_sentences);
  // Moves outbox jobs into the queue, waiting at most `timeout`. True when the outbox is empty.
  bool flush(std::chrono::milliseconds timeout);
  // No more input this epoch: the last partial job goes to the outbox; keep calling flush().
  void end_input();
  void close_queue() { queue_->close(); }

  // --- an epoch read from a file by one reader thread ----------------------------------------
  void begin_file_epoch(int64_t epoch, const std::string& path, const Vocab* vocab);

  // --- both -----------------------------------------------------------------------------------
  // True once every thread of the epoch has finished (or failed).
  bool wait(std::chrono::milliseconds timeout);
  // Joins the threads; rethrows the first worker/reader exception; returns the epoch's figures.
  EpochStats join();
  // Stops the epoch as soon as possible (Ctrl-C, an error in the caller); join() still needed.
  void abort();

  int64_t words_done() const { return words_done_.load(std::memory_order_relaxed); }
  float current_lr() const { return model_.lr_at(words_before_ + words_done()); }
  const Model& model() const { return model_; }
  int threads() const { return model_.cfg.deterministic ? 1 : std::max(1, model_.cfg.workers); }

 private:
  void start_workers(int64_t epoch);
  void worker_main(int index);
  void fail(std::exception_ptr e);

  Model model_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<JobBuilder> builder_;
  std::vector<Job> outbox_;
  size_t outbox_head_ = 0;
  std::vector<std::thread> threads_;
  std::vector<WorkerState> states_;
  std::atomic<int> running_{0};
  std::atomic<int64_t> words_done_{0};
  std::atomic<bool> stop_{false};
  std::mutex err_mu_;
  std::exception_ptr error_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  int64_t words_before_ = 0;
  int64_t epoch_ = 0;
  bool active_ = false;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace embedforge::core::w2v
