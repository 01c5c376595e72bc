#include "core/word2vec/trainer.h"

#include <stdexcept>

#include "core/word2vec/file_jobs.h"

namespace embedforge::core::w2v {

Trainer::Trainer(const TrainConfig& cfg, const Tables& tables, const int64_t* counts) : model_(cfg, tables, counts) {}

Trainer::~Trainer() {
  if (active_) {
    abort();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
}

void Trainer::fail(std::exception_ptr e) {
  {
    std::lock_guard<std::mutex> lk(err_mu_);
    if (!error_) error_ = e;
  }
  abort();
}

void Trainer::abort() {
  stop_.store(true);
  if (queue_) queue_->abort();
}

void Trainer::start_workers(int64_t epoch) {
  if (active_) throw std::logic_error("an epoch is already running; join() it first");
  epoch_ = epoch;
  stop_.store(false);
  error_ = nullptr;
  words_done_.store(0);
  const int n = threads();
  queue_ = std::make_unique<JobQueue>(static_cast<size_t>(2 * n));
  states_.assign(n, WorkerState());  // value-initialised: Rng's default constructor is explicit
  for (auto& s : states_) s.reserve(model_);
  threads_.clear();
  active_ = true;
  t0_ = std::chrono::steady_clock::now();
  running_.store(n);
  for (int i = 0; i < n; ++i) threads_.emplace_back(&Trainer::worker_main, this, i);
}

void Trainer::worker_main(int index) {
  WorkerState& ws = states_[index];
  try {
    for (;;) {
      std::optional<Job> job = queue_->pop();
      if (!job) break;
      ws.rng = Rng::for_job(model_.cfg.seed, static_cast<uint64_t>(job->epoch), static_cast<uint64_t>(job->index));
      const int64_t before = ws.words;
      train_job(model_, ws, *job);
      words_done_.fetch_add(ws.words - before, std::memory_order_relaxed);
      if (stop_.load(std::memory_order_relaxed)) break;
    }
  } catch (...) {
    fail(std::current_exception());
  }
  if (running_.fetch_sub(1) == 1) {
    std::lock_guard<std::mutex> lk(done_mu_);
    done_cv_.notify_all();
  }
}

void Trainer::begin_epoch(int64_t epoch) {
  start_workers(epoch);
  outbox_.clear();
  outbox_head_ = 0;
  builder_ = std::make_unique<JobBuilder>(
      epoch, words_before_, [this](Job&& j) { outbox_.push_back(std::move(j)); }, model_.cfg.job_words);
}

void Trainer::add_sentences(const int32_t* ids, const int64_t* ends, int64_t n_sentences) {
  int64_t b = 0;
  for (int64_t s = 0; s < n_sentences; ++s) {
    for (int64_t k = b; k < ends[s]; ++k)
      if (ids[k] >= 0) builder_->add(ids[k]);
    builder_->end_sentence();
    b = ends[s];
  }
}

bool Trainer::flush(std::chrono::milliseconds timeout) {
  while (outbox_head_ < outbox_.size()) {
    if (stop_.load()) {
      outbox_.clear();
      outbox_head_ = 0;
      return true;
    }
    if (!queue_->push(outbox_[outbox_head_], timeout)) return false;
    ++outbox_head_;
  }
  outbox_.clear();
  outbox_head_ = 0;
  return true;
}

void Trainer::end_input() { builder_->finish(); }

void Trainer::begin_file_epoch(int64_t epoch, const std::string& path, const Vocab* vocab) {
  start_workers(epoch);
  running_.fetch_add(1);
  const int64_t start = words_before_;
  threads_.emplace_back([this, epoch, path, vocab, start] {
    try {
      read_file_jobs(path, *vocab, epoch, start, model_.cfg.job_words, *queue_, stop_);
    } catch (...) {
      fail(std::current_exception());
    }
    queue_->close();
    if (running_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lk(done_mu_);
      done_cv_.notify_all();
    }
  });
}

bool Trainer::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(done_mu_);
  return done_cv_.wait_for(lk, timeout, [&] { return running_.load() == 0; });
}

EpochStats Trainer::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  active_ = false;
  builder_.reset();
  EpochStats st;
  for (const auto& s : states_) {
    st.words += s.words;
    st.examples += s.examples;
    st.loss += s.loss;
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  words_before_ += st.words;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return st;
}

}  // namespace embedforge::core::w2v
