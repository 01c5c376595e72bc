#include "core/word2vec/pair_stream.h"

#include <chrono>
#include <stdexcept>
#include <utility>

#include "core/word2vec/file_jobs.h"

namespace embedforge::core::w2v {

PairStream::PairStream(const TrainConfig& cfg, const Tables& tables, const int64_t* counts)
    : model_(cfg, tables, counts), neg_rng_(cfg.seed) {
  if (!cfg.sg || cfg.negative <= 0 || cfg.hs)
    throw std::invalid_argument("the pair stream serves skip-gram with negative sampling only");
  sentence_.reserve(JobBuilder::kMaxSentence);
}

PairStream::~PairStream() { stop_reader(); }

void PairStream::stop_reader() {
  stop_.store(true);
  if (queue_) queue_->abort();
  if (reader_.joinable()) reader_.join();
  queue_.reset();
}

void PairStream::abort() {
  stop_reader();
  builder_.reset();
  pushed_.clear();
}

void PairStream::begin_epoch(int64_t epoch) {
  abort();
  stop_.store(false);
  error_ = nullptr;
  words_before_ += words_done_;  // the schedule goes on where the last epoch ended
  words_done_ = 0;
  // Negatives: their own stream per epoch, apart from the jobs' (which follow the trainer's).
  neg_rng_ = Rng::for_job(model_.cfg.seed ^ 0x5DEECE66DULL, static_cast<uint64_t>(epoch), 0);
  builder_ = std::make_unique<JobBuilder>(
      epoch, words_before_, [this](Job&& j) { pushed_.push_back(std::move(j)); }, model_.cfg.job_words);
}

void PairStream::add_sentences(const int32_t* ids, const int64_t* ends, int64_t n_sentences) {
  if (!builder_) throw std::logic_error("add_sentences before begin_epoch");
  int64_t b = 0;
  for (int64_t s = 0; s < n_sentences; ++s) {
    for (int64_t k = b; k < ends[s]; ++k)
      if (ids[k] >= 0) builder_->add(ids[k]);
    builder_->end_sentence();
    b = ends[s];
  }
}

void PairStream::end_input() {
  if (builder_) builder_->finish();
}

void PairStream::begin_file_epoch(int64_t epoch, const std::string& path, const Vocab* vocab) {
  begin_epoch(epoch);  // also stops a reader left running by an epoch the caller did not drain
  builder_.reset();
  queue_ = std::make_unique<JobQueue>(4);
  const int64_t start = words_before_;
  reader_ = std::thread([this, epoch, path, vocab, start] {
    try {
      read_file_jobs(path, *vocab, epoch, start, model_.cfg.job_words, *queue_, stop_);
    } catch (...) {
      std::lock_guard<std::mutex> lk(err_mu_);
      error_ = std::current_exception();
    }
    queue_->close();
  });
}

bool PairStream::next(PairBatch& out) {
  Job job;
  if (queue_) {
    std::optional<Job> j = queue_->pop();
    if (!j) {
      std::exception_ptr e;
      {
        std::lock_guard<std::mutex> lk(err_mu_);
        e = error_;
      }
      stop_reader();
      if (e) std::rethrow_exception(e);
      return false;
    }
    job = std::move(*j);
  } else {
    if (pushed_.empty()) return false;
    job = std::move(pushed_.front());
    pushed_.pop_front();
  }
  pairs_of(job, out);
  return true;
}

void PairStream::pairs_of(const Job& job, PairBatch& out) {
  // What train_job and train_sentence do before their updates, in the same RNG order for the
  // subsampling (the windows are drawn without the negatives in between, so the draws differ).
  Rng rng = Rng::for_job(model_.cfg.seed, static_cast<uint64_t>(job.epoch), static_cast<uint64_t>(job.index));
  out.centers.clear();
  out.contexts.clear();
  out.lr = model_.lr_at(job.start_word);
  out.words = static_cast<int64_t>(job.ids.size());
  int64_t begin = 0;
  for (int64_t end : job.ends) {
    sentence_.clear();
    model_.subsample(job.ids.data() + begin, end - begin, rng, sentence_);
    begin = end;
    const int n = static_cast<int>(sentence_.size());
    if (n < 2) continue;
    for (int pos = 0; pos < n; ++pos) {
      const int w = model_.reach(rng);
      const int lo = pos - w < 0 ? 0 : pos - w;
      const int hi = pos + w >= n ? n - 1 : pos + w;
      for (int c = lo; c <= hi; ++c) {
        if (c == pos) continue;
        out.centers.push_back(sentence_[pos]);
        out.contexts.push_back(sentence_[c]);
      }
    }
  }
  // Shuffled (Fisher-Yates), so that a device batch mixes positions and sentences.
  for (size_t i = out.centers.size(); i > 1; --i) {
    const size_t j = rng.below(static_cast<uint32_t>(i));
    std::swap(out.centers[i - 1], out.centers[j]);
    std::swap(out.contexts[i - 1], out.contexts[j]);
  }
  words_done_ += out.words;
}

void PairStream::negatives(int64_t k, int64_t* out) {
  for (int64_t i = 0; i < k; ++i) out[i] = model_.sampler.draw(neg_rng_);
}

}  // namespace embedforge::core::w2v
