// pybind11 bindings of the word2vec engine (numpy buffers in, no torch types). Two phases at the
// boundary: arguments are checked and marshalled with the GIL held; training runs without it,
// waking every 200 ms to check Ctrl-C and call the progress callback.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/word2vec/model.h"
#include "core/word2vec/pair_stream.h"
#include "core/word2vec/subwords.h"
#include "core/word2vec/trainer.h"
#include "core/word2vec/vocab.h"

namespace py = pybind11;
namespace w2v = embedforge::core::w2v;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;
using I64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using I32Array = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

constexpr auto kTick = std::chrono::milliseconds(200);

// A float32 C-contiguous writable 2-D table with `cols` columns (rows checked when rows >= 0).
float* table_ptr(const py::object& obj, const char* name, int64_t rows, int64_t cols) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error(std::string(name) + " must be a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(name) + " must be float32, got " + std::string(py::str(a.dtype())));
  if (a.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-D");
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
  if (!a.writeable()) throw py::value_error(std::string(name) + " must be writable");
  if (a.shape(1) != cols)
    throw py::value_error(std::string(name) + " has " + std::to_string(a.shape(1)) + " columns, expected " +
                          std::to_string(cols));
  if (rows >= 0 && a.shape(0) != rows)
    throw py::value_error(std::string(name) + " has " + std::to_string(a.shape(0)) + " rows, expected " +
                          std::to_string(rows));
  return static_cast<float*>(a.mutable_data());
}

// Sentences in CSR form, as both engines take them: ids in [-1, V) (-1 = out of vocabulary),
// ends non-decreasing, the last one len(ids).
void check_sentences(const I32Array& ids, const I64Array& ends, int64_t V) {
  if (ids.ndim() != 1 || ends.ndim() != 1) throw py::value_error("ids and ends must be 1-D arrays");
  const int64_t n = ids.size(), ns = ends.size();
  const int32_t* id = ids.data();
  const int64_t* e = ends.data();
  int64_t prev = 0;
  for (int64_t s = 0; s < ns; ++s) {
    if (e[s] < prev || e[s] > n) throw py::value_error("ends must be non-decreasing and <= len(ids)");
    prev = e[s];
  }
  if (ns > 0 && prev != n) throw py::value_error("ends[-1] must equal len(ids)");
  for (int64_t k = 0; k < n; ++k)
    if (id[k] < -1 || id[k] >= V)
      throw py::value_error("ids[" + std::to_string(k) + "]=" + std::to_string(id[k]) +
                            " is out of range for a vocabulary of " + std::to_string(V));
}

// The vocabulary the file readers look words up in: `words` (a list of str, in index order).
void fill_vocab(const py::object& words, int64_t n, w2v::Vocab& vocab) {
  for (auto item : words.cast<py::list>()) {
    const std::string w = item.cast<std::string>();
    const int32_t id = vocab.insert(w);
    if (id != vocab.size() - 1) throw py::value_error("duplicate word in vocabulary: '" + w + "'");
  }
  if (vocab.size() != n) throw py::value_error("words and counts differ in length");
}

class PyTrainer {
 public:
  PyTrainer(py::object in_table, py::object out_neg, py::object out_hs, I64Array counts, py::object words,
            py::object sub_offsets, py::object sub_rows, const w2v::TrainConfig& cfg) {
    if (cfg.dim <= 0) throw py::value_error("vector_size must be positive, got " + std::to_string(cfg.dim));
    if (cfg.window <= 0) throw py::value_error("window must be positive, got " + std::to_string(cfg.window));
    if (cfg.negative < 0) throw py::value_error("negative must be >= 0, got " + std::to_string(cfg.negative));
    if (cfg.negative == 0 && !cfg.hs)
      throw py::value_error("negative=0 and hs=0 leave nothing to train; set one of them");
    if (cfg.workers <= 0) throw py::value_error("workers must be >= 1, got " + std::to_string(cfg.workers));

    counts_ = counts;
    w2v::Tables t;
    t.vocab = counts.shape(0);
    if (counts.ndim() != 1 || t.vocab == 0) throw py::value_error("counts must be a non-empty 1-D array");
    keep_ = {in_table, out_neg, out_hs, sub_offsets, sub_rows};
    t.in = table_ptr(in_table, "in_table", -1, cfg.dim);
    t.in_rows = py::reinterpret_borrow<py::array>(in_table).shape(0);
    if (cfg.negative > 0) t.out_neg = table_ptr(out_neg, "out_neg", t.vocab, cfg.dim);
    if (cfg.hs) t.out_hs = table_ptr(out_hs, "out_hs", t.vocab, cfg.dim);
    if (!sub_offsets.is_none()) {
      offs_ = sub_offsets.cast<I64Array>();
      rows_ = sub_rows.cast<I32Array>();
      if (offs_.ndim() != 1 || offs_.shape(0) != t.vocab + 1)
        throw py::value_error("sub_offsets must have vocab+1 entries");
      const int64_t* o = offs_.data();
      const int64_t nr = rows_.shape(0);
      for (int64_t w = 0; w < t.vocab; ++w)
        if (o[w] < 0 || o[w + 1] <= o[w] || o[w + 1] > nr)
          throw py::value_error("sub_offsets must be increasing and within sub_rows");
      const int32_t* r = rows_.data();
      for (int64_t k = 0; k < nr; ++k)
        if (r[k] < 0 || r[k] >= t.in_rows)
          throw py::value_error("sub_rows[" + std::to_string(k) + "]=" + std::to_string(r[k]) + " is out of range");
      t.sub_offsets = o;
      t.sub_rows = r;
    } else if (t.in_rows < t.vocab) {
      throw py::value_error("in_table has fewer rows than the vocabulary");
    }
    if (!words.is_none()) {
      fill_vocab(words, t.vocab, vocab_);
      has_vocab_ = true;
    }
    trainer_ = std::make_unique<w2v::Trainer>(cfg, t, counts_.data());
  }

  void begin_epoch(int64_t epoch) { trainer_->begin_epoch(epoch); }

  void push(I32Array ids, I64Array ends) {
    check_sentences(ids, ends, trainer_->model().t.vocab);
    {
      py::gil_scoped_release r;
      trainer_->add_sentences(ids.data(), ends.data(), ends.size());
    }
    flush_loop(py::none());
  }

  py::dict end_epoch(py::object progress) {
    trainer_->end_input();
    flush_loop(progress);
    trainer_->close_queue();
    return wait_loop(progress);
  }

  py::dict train_file_epoch(int64_t epoch, const std::string& path, py::object progress) {
    if (!has_vocab_) throw py::value_error("this trainer was built without words; corpus_file needs them");
    trainer_->begin_file_epoch(epoch, path, &vocab_);
    return wait_loop(progress);
  }

  void abort() {
    trainer_->abort();
    py::gil_scoped_release r;
    try {
      trainer_->join();
    } catch (...) {
    }
  }

  int64_t words_done() const { return trainer_->words_done(); }
  float lr() const { return trainer_->current_lr(); }
  int64_t words_before() const { return trainer_->words_before(); }
  void set_words_before(int64_t w) { trainer_->set_words_before(w); }

 private:
  [[noreturn]] void stop_and_rethrow() {
    abort();
    throw;
  }

  void check_interrupt(const py::object& progress) {
    if (PyErr_CheckSignals() != 0) {
      py::error_already_set err;
      abort();
      throw err;
    }
    if (!progress.is_none()) {
      try {
        progress(trainer_->words_done(), trainer_->current_lr());
      } catch (py::error_already_set&) {
        stop_and_rethrow();
      }
    }
  }

  void flush_loop(const py::object& progress) {
    for (;;) {
      bool ok;
      {
        py::gil_scoped_release r;
        ok = trainer_->flush(kTick);
      }
      if (ok) return;
      check_interrupt(progress);
    }
  }

  py::dict wait_loop(const py::object& progress) {
    for (;;) {
      bool done;
      {
        py::gil_scoped_release r;
        done = trainer_->wait(kTick);
      }
      if (done) break;
      check_interrupt(progress);
    }
    w2v::EpochStats st;
    try {
      py::gil_scoped_release r;
      st = trainer_->join();
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("word2vec training failed: ") + e.what());
    }
    py::dict d;
    d["words"] = st.words;
    d["examples"] = st.examples;
    d["loss"] = st.loss;
    d["seconds"] = st.seconds;
    return d;
  }

  // Declared before trainer_ so they outlive it: the trainer's threads read these buffers until
  // its destructor has stopped and joined them.
  I64Array counts_;
  I64Array offs_;
  I32Array rows_;
  std::vector<py::object> keep_;
  w2v::Vocab vocab_;
  bool has_vocab_ = false;
  std::unique_ptr<w2v::Trainer> trainer_;
};

// The device path's source of examples (core/word2vec/pair_stream.h): the native engine's jobs,
// subsampling, windows and schedule; the caller trains the pairs with sgns_step on its device.
class PyPairStream {
 public:
  PyPairStream(I64Array counts, py::object words, const w2v::TrainConfig& cfg) {
    if (counts.ndim() != 1 || counts.shape(0) == 0) throw py::value_error("counts must be a non-empty 1-D array");
    if (cfg.window <= 0) throw py::value_error("window must be positive, got " + std::to_string(cfg.window));
    if (cfg.negative <= 0 || !cfg.sg || cfg.hs)
      throw py::value_error("the pair stream serves skip-gram with negative sampling only (sg=1, hs=0, negative>0)");
    counts_ = counts;
    w2v::Tables t;
    t.vocab = counts.shape(0);
    if (!words.is_none()) {
      fill_vocab(words, t.vocab, vocab_);
      has_vocab_ = true;
    }
    stream_ = std::make_unique<w2v::PairStream>(cfg, t, counts_.data());
  }

  void begin_epoch(int64_t epoch) { stream_->begin_epoch(epoch); }
  void push(I32Array ids, I64Array ends) {
    check_sentences(ids, ends, stream_->model().t.vocab);
    py::gil_scoped_release r;
    stream_->add_sentences(ids.data(), ends.data(), ends.size());
  }
  void end_input() { stream_->end_input(); }
  void begin_file_epoch(int64_t epoch, const std::string& path) {
    if (!has_vocab_) throw py::value_error("this stream was built without words; corpus_file needs them");
    stream_->begin_file_epoch(epoch, path, &vocab_);
  }

  // (centers, contexts, lr, words) of the next job, or None.
  py::object next() {
    w2v::PairBatch b;
    bool got;
    try {
      py::gil_scoped_release r;
      got = stream_->next(b);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("word2vec corpus reading failed: ") + e.what());
    }
    if (!got) return py::none();
    const auto n = static_cast<py::ssize_t>(b.centers.size());
    I64Array c(n), x(n);
    std::copy(b.centers.begin(), b.centers.end(), c.mutable_data());
    std::copy(b.contexts.begin(), b.contexts.end(), x.mutable_data());
    return py::make_tuple(c, x, b.lr, b.words);
  }

  I64Array negatives(int64_t k) {
    if (k < 0 || k > (int64_t{1} << 20)) throw py::value_error("k must be in [0, 2**20], got " + std::to_string(k));
    I64Array out(k);
    stream_->negatives(k, out.mutable_data());
    return out;
  }

  void abort() {
    py::gil_scoped_release r;
    stream_->abort();
  }
  int64_t words_done() const { return stream_->words_done(); }
  float lr() const { return stream_->current_lr(); }
  int64_t words_before() const { return stream_->words_before(); }
  void set_words_before(int64_t w) {
    if (w < 0) throw py::value_error("words_before must be >= 0");
    stream_->set_words_before(w);
  }

 private:
  I64Array counts_;  // declared before stream_: its sampler was built from these counts
  w2v::Vocab vocab_;
  bool has_vocab_ = false;
  std::unique_ptr<w2v::PairStream> stream_;
};

py::tuple count_file(const std::string& path, int64_t max_vocab_size) {
  w2v::CorpusCounts c;
  {
    py::gil_scoped_release r;
    c = w2v::count_corpus_file(path, max_vocab_size);
  }
  const int64_t n = c.vocab.size();
  py::list words(n);
  I64Array counts(n);
  int64_t* cp = counts.mutable_data();
  for (int32_t i = 0; i < n; ++i) {
    const auto w = c.vocab.word(i);
    PyObject* s = PyUnicode_DecodeUTF8(w.data(), static_cast<Py_ssize_t>(w.size()), "replace");
    if (!s) throw py::error_already_set();
    words[i] = py::reinterpret_steal<py::object>(s);
    cp[i] = c.vocab.count(i);
  }
  return py::make_tuple(words, counts, c.tokens, c.sentences, c.pruned_below);
}

py::tuple ngram_rows(const py::list& words, int min_n, int max_n, int64_t bucket, int64_t row_base) {
  w2v::SubwordSpec spec{min_n, max_n, bucket};
  const int64_t n = static_cast<int64_t>(words.size());
  std::vector<int64_t> offs(n + 1, 0);
  std::vector<int32_t> rows;
  std::vector<int64_t> tmp;
  for (int64_t i = 0; i < n; ++i) {
    const std::string w = words[i].cast<std::string>();
    if (row_base > 0) rows.push_back(static_cast<int32_t>(i));
    tmp.clear();
    w2v::ngram_buckets(w, spec, tmp);
    for (int64_t b : tmp) rows.push_back(static_cast<int32_t>(row_base + b));
    offs[i + 1] = static_cast<int64_t>(rows.size());
  }
  I64Array o(n + 1);
  std::copy(offs.begin(), offs.end(), o.mutable_data());
  I32Array r(static_cast<py::ssize_t>(rows.size()));
  std::copy(rows.begin(), rows.end(), r.mutable_data());
  return py::make_tuple(o, r);
}

}  // namespace

void bind_word2vec(py::module_& m) {
  py::class_<w2v::TrainConfig>(m, "TrainConfig", "The engine's training parameters (one train() call).")
      .def(py::init<>())
      .def_readwrite("vector_size", &w2v::TrainConfig::dim)
      .def_readwrite("sg", &w2v::TrainConfig::sg)
      .def_readwrite("hs", &w2v::TrainConfig::hs)
      .def_readwrite("negative", &w2v::TrainConfig::negative)
      .def_readwrite("ns_exponent", &w2v::TrainConfig::ns_exponent)
      .def_readwrite("window", &w2v::TrainConfig::window)
      .def_readwrite("cbow_mean", &w2v::TrainConfig::cbow_mean)
      .def_readwrite("sample", &w2v::TrainConfig::sample)
      .def_readwrite("alpha", &w2v::TrainConfig::alpha)
      .def_readwrite("min_alpha", &w2v::TrainConfig::min_alpha)
      .def_readwrite("shrink_windows", &w2v::TrainConfig::shrink_windows)
      .def_readwrite("compute_loss", &w2v::TrainConfig::compute_loss)
      .def_readwrite("workers", &w2v::TrainConfig::workers)
      .def_readwrite("seed", &w2v::TrainConfig::seed)
      .def_readwrite("deterministic", &w2v::TrainConfig::deterministic)
      .def_readwrite("schedule_words", &w2v::TrainConfig::schedule_words)
      .def_readwrite("batch_words", &w2v::TrainConfig::job_words);
  py::class_<PyTrainer>(m, "Word2VecTrainer",
                        "Native word2vec trainer over numpy tables (internal; use embedforge.Word2Vec).")
      .def(py::init<py::object, py::object, py::object, I64Array, py::object, py::object, py::object,
                    const w2v::TrainConfig&>(),
           py::arg("in_table"), py::arg("out_neg"), py::arg("out_hs"), py::arg("counts"), py::arg("words"),
           py::arg("sub_offsets"), py::arg("sub_rows"), py::arg("config"))
      .def("begin_epoch", &PyTrainer::begin_epoch)
      .def("push", &PyTrainer::push, py::arg("ids"), py::arg("ends"))
      .def("end_epoch", &PyTrainer::end_epoch, py::arg("progress") = py::none())
      .def("train_file_epoch", &PyTrainer::train_file_epoch, py::arg("epoch"), py::arg("path"),
           py::arg("progress") = py::none())
      .def("abort", &PyTrainer::abort)
      .def_property_readonly("words_done", &PyTrainer::words_done)
      .def_property_readonly("lr", &PyTrainer::lr)
      .def_property("words_before", &PyTrainer::words_before, &PyTrainer::set_words_before);
  py::class_<PyPairStream>(m, "Word2VecPairStream",
                           "The native engine's skip-gram pairs for a device step (internal; device=\"cuda\").")
      .def(py::init<I64Array, py::object, const w2v::TrainConfig&>(), py::arg("counts"), py::arg("words"),
           py::arg("config"))
      .def("begin_epoch", &PyPairStream::begin_epoch)
      .def("push", &PyPairStream::push, py::arg("ids"), py::arg("ends"))
      .def("end_input", &PyPairStream::end_input)
      .def("begin_file_epoch", &PyPairStream::begin_file_epoch, py::arg("epoch"), py::arg("path"))
      .def("next", &PyPairStream::next)
      .def("negatives", &PyPairStream::negatives, py::arg("k"))
      .def("abort", &PyPairStream::abort)
      .def_property_readonly("words_done", &PyPairStream::words_done)
      .def_property_readonly("lr", &PyPairStream::lr)
      .def_property("words_before", &PyPairStream::words_before, &PyPairStream::set_words_before);
  m.def("w2v_count_file", &count_file, py::arg("path"), py::arg("max_vocab_size") = 0,
        "Stream a text file once: (words, counts, tokens, sentences, pruned_below).");
  m.def("w2v_ngram_rows", &ngram_rows, py::arg("words"), py::arg("min_n"), py::arg("max_n"), py::arg("bucket"),
        py::arg("row_base"),
        "FastText input rows per word (CSR): the word's row (when row_base > 0), then n-gram buckets + row_base.");
}
