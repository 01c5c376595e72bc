// The file reader that both consumers of jobs (the trainer's workers, the pair stream) run on their
// reader thread: a text file's sentences cut into the same jobs as pushed sentences give.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/word2vec/corpus_reader.h"
#include "core/word2vec/job.h"
#include "core/word2vec/job_queue.h"
#include "core/word2vec/vocab.h"

namespace embedforge::core::w2v {

// Pushes the jobs of `path` (out-of-vocabulary words dropped) onto `queue`, waiting while it is
// full, until the file ends or `stop` is set. Throws what the reader throws (a file error).
inline void read_file_jobs(const std::string& path, const Vocab& vocab, int64_t epoch, int64_t start_word,
                           int64_t job_words, JobQueue& queue, const std::atomic<bool>& stop) {
  JobBuilder builder(
      epoch, start_word,
      [&](Job&& j) {
        while (!queue.push(j, std::chrono::milliseconds(200)))
          if (stop.load()) return;
      },
      job_words);
  LineTokenizer tok(path);
  tok.run(
      [&](std::string_view t) {
        const int32_t id = vocab.find(t);
        if (id >= 0) builder.add(id);
      },
      [&]() { builder.end_sentence(); }, &stop);
  if (!stop.load()) builder.finish();
}

}  // namespace embedforge::core::w2v
