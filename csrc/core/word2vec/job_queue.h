// A bounded queue of jobs between the one reader (or Python) and the workers. Closing it lets
// workers drain and stop; aborting drops what is queued and wakes everyone.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "core/word2vec/job.h"

namespace embedforge::core::w2v {

class JobQueue {
 public:
  explicit JobQueue(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // Waits up to `timeout` for room. Returns false on timeout; throws nothing. When the queue was
  // aborted the job is dropped and true is returned (the caller checks aborted()).
  bool push(Job& job, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mu_);
    if (!not_full_.wait_for(lk, timeout, [&] { return aborted_ || q_.size() < capacity_; })) return false;
    if (aborted_) return true;
    q_.push_back(std::move(job));
    not_empty_.notify_one();
    return true;
  }
  // Blocks until a job is available; nullopt once closed and drained, or aborted.
  std::optional<Job> pop() {
    std::unique_lock<std::mutex> lk(mu_);
    not_empty_.wait(lk, [&] { return aborted_ || closed_ || !q_.empty(); });
    if (aborted_ || q_.empty()) return std::nullopt;
    Job j = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return j;
  }
  void close() {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }
  void abort() {
    std::lock_guard<std::mutex> lk(mu_);
    aborted_ = true;
    q_.clear();
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  bool aborted() const {
    std::lock_guard<std::mutex> lk(mu_);
    return aborted_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Job> q_;
  size_t capacity_;
  bool closed_ = false;
  bool aborted_ = false;
};

}  // namespace embedforge::core::w2v
