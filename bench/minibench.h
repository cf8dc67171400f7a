// A small stand-in for the part of Google Benchmark's API that qmm_bench.cpp uses, for machines
// without the library (the GPU machine has none and no network). It is not a general
// replacement: just enough to run the same benchmark source with the same protocol.
//
// Per registered benchmark: one warm-up call of one iteration (which also estimates the time of
// one iteration), then --benchmark_repetitions calls, each running as many iterations as fill
// --benchmark_min_time (at least one). Reported: median, min and max time per iteration over the
// repetitions, and the counters evaluated at the median time. Flags understood:
// --benchmark_filter=REGEX, --benchmark_min_time=SECONDS[s], --benchmark_repetitions=N,
// --benchmark_out=PATH (JSON), --benchmark_list_tests=true; others are ignored.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace benchmark {

enum TimeUnit { kNanosecond, kMicrosecond, kMillisecond, kSecond };

class Counter {
 public:
  enum Flags {
    kDefaults = 0,
    kIsRate = 1,
    kIsIterationInvariant = 2,
    kIsIterationInvariantRate = 3,
  };
  enum OneK { kIs1000 = 1000, kIs1024 = 1024 };
  Counter(double v = 0.0, Flags f = kDefaults, OneK k = kIs1000) : value(v), flags(f), oneK(k) {}
  double value;
  Flags flags;
  OneK oneK;
};

template <class T>
inline void DoNotOptimize(T const& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}
inline void ClobberMemory() { asm volatile("" : : : "memory"); }

class State {
 public:
  explicit State(int64_t iterations, bool manual) : max_iters_(iterations), manual_(manual) {}

  struct Iterator {
    State* s;
    int64_t left;
    bool operator!=(const Iterator&) const {
      if (left > 0) return true;
      s->stop();
      return false;
    }
    void operator++() { --left; }
    int operator*() const { return 0; }
  };
  Iterator begin() {
    start_ = std::chrono::steady_clock::now();
    return Iterator{this, error_ ? 0 : max_iters_};
  }
  Iterator end() { return Iterator{this, 0}; }

  void SetIterationTime(double seconds) { manual_seconds_ += seconds; }
  void SkipWithError(const char* msg) {
    error_ = true;
    error_message_ = msg ? msg : "error";
  }
  void SetLabel(const std::string& label) { label_ = label; }
  void SetBytesProcessed(int64_t b) { counters["bytes_per_second"] = Counter(double(b), Counter::kIsRate); }
  int64_t iterations() const { return max_iters_; }
  int64_t max_iterations() const { return max_iters_; }
  bool error_occurred() const { return error_; }

  std::map<std::string, Counter> counters;

  // Results, read by the runner.
  double seconds() const { return manual_ ? manual_seconds_ : wall_seconds_; }
  const std::string& label() const { return label_; }
  const std::string& error_message() const { return error_message_; }

 private:
  void stop() {
    wall_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  int64_t max_iters_;
  bool manual_;
  bool error_ = false;
  double manual_seconds_ = 0.0;
  double wall_seconds_ = 0.0;
  std::chrono::steady_clock::time_point start_;
  std::string label_, error_message_;
};

namespace internal {

struct Benchmark {
  std::string name;
  std::function<void(State&)> fn;
  bool manual = false;
  TimeUnit unit = kNanosecond;
  double min_time = -1.0;
  int repetitions = 0;
  int64_t iterations = 0;
  Benchmark* UseManualTime() { manual = true; return this; }
  Benchmark* UseRealTime() { return this; }
  Benchmark* Unit(TimeUnit u) { unit = u; return this; }
  Benchmark* MinTime(double t) { min_time = t; return this; }
  Benchmark* Repetitions(int n) { repetitions = n; return this; }
  Benchmark* Iterations(int64_t n) { iterations = n; return this; }
  Benchmark* ReportAggregatesOnly(bool = true) { return this; }
  template <class F>
  Benchmark* ComputeStatistics(const char*, F) { return this; }  // median/min/max are always reported
};

struct Registry {
  std::vector<std::unique_ptr<Benchmark>> benchmarks;
  std::vector<std::pair<std::string, std::string>> context;
  std::string filter = ".";
  double min_time = 0.5;
  int repetitions = 5;
  std::string out_path;
  bool list_only = false;
  static Registry& get() {
    static Registry r;
    return r;
  }
};

inline const char* unit_name(TimeUnit u) {
  switch (u) {
    case kNanosecond: return "ns";
    case kMicrosecond: return "us";
    case kMillisecond: return "ms";
    default: return "s";
  }
}
inline double unit_scale(TimeUnit u) {
  switch (u) {
    case kNanosecond: return 1e9;
    case kMicrosecond: return 1e6;
    case kMillisecond: return 1e3;
    default: return 1.0;
  }
}
inline std::string human(double v) {
  const char* suffix[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (std::fabs(v) >= 1000.0 && i < 5) { v /= 1000.0; ++i; }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", v, suffix[i]);
  return buf;
}
inline std::string fixed(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 100.0 ? "%.1f" : "%.4g", v);
  return buf;
}
inline std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += c; }
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += c;
  }
  return o;
}

}  // namespace internal

template <class Fn>
internal::Benchmark* RegisterBenchmark(const char* name, Fn&& fn) {
  auto b = std::make_unique<internal::Benchmark>();
  b->name = name;
  b->fn = std::forward<Fn>(fn);
  auto* p = b.get();
  internal::Registry::get().benchmarks.push_back(std::move(b));
  return p;
}

inline void AddCustomContext(const std::string& key, const std::string& value) {
  internal::Registry::get().context.emplace_back(key, value);
}

inline void Initialize(int* argc, char** argv) {
  auto& r = internal::Registry::get();
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* flag) -> const char* {
      size_t n = std::strlen(flag);
      return a.compare(0, n, flag) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = val("--benchmark_filter=")) r.filter = v;
    else if (const char* v = val("--benchmark_min_time=")) r.min_time = std::atof(v);
    else if (const char* v = val("--benchmark_repetitions=")) r.repetitions = std::max(1, std::atoi(v));
    else if (const char* v = val("--benchmark_out=")) r.out_path = v;
    else if (const char* v = val("--benchmark_list_tests=")) r.list_only = std::strcmp(v, "false") != 0;
    else if (a.compare(0, 12, "--benchmark_") == 0) continue;  // other Google Benchmark flags: ignored
    else argv[out++] = argv[i];
  }
  *argc = out;
}
inline bool ReportUnrecognizedArguments(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) std::fprintf(stderr, "%s: error: unrecognized command-line flag: %s\n", argv[0], argv[i]);
  return argc > 1;
}

inline size_t RunSpecifiedBenchmarks() {
  using namespace internal;
  auto& r = Registry::get();
  std::regex re(r.filter);
  FILE* json = r.out_path.empty() ? nullptr : std::fopen(r.out_path.c_str(), "w");
  if (json) {
    std::fprintf(json, "{\n  \"context\": {\"harness\": \"minibench\"");
    for (auto& kv : r.context) std::fprintf(json, ", \"%s\": \"%s\"", json_escape(kv.first).c_str(), json_escape(kv.second).c_str());
    std::fprintf(json, "},\n  \"benchmarks\": [");
  }
  if (!r.list_only) {
    for (auto& kv : r.context) std::printf("%s: %s\n", kv.first.c_str(), kv.second.c_str());
    std::printf("minibench: median (min .. max) per iteration over %d repetitions, min_time %.3g s\n",
                r.repetitions, r.min_time);
  }
  size_t ran = 0;
  bool first_json = true;
  for (auto& b : r.benchmarks) {
    if (!std::regex_search(b->name, re)) continue;
    if (r.list_only) { std::printf("%s\n", b->name.c_str()); ++ran; continue; }
    const double min_time = b->min_time > 0 ? b->min_time : r.min_time;
    const int reps = b->repetitions > 0 ? b->repetitions : r.repetitions;
    State warm(1, b->manual);
    b->fn(warm);
    std::string error = warm.error_occurred() ? warm.error_message() : "";
    std::vector<double> per_iter;
    std::map<std::string, Counter> counters;
    std::string label = warm.label();
    int64_t iters = b->iterations;
    if (error.empty()) {
      if (iters <= 0) {
        double t1 = std::max(warm.seconds(), 1e-9);
        iters = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(min_time / t1)));
        iters = std::min<int64_t>(iters, 1000000000);
      }
      for (int rep = 0; rep < reps; ++rep) {
        State s(iters, b->manual);
        b->fn(s);
        if (s.error_occurred()) { error = s.error_message(); break; }
        per_iter.push_back(s.seconds() / double(iters));
        counters = s.counters;
        label = s.label();
      }
    }
    ++ran;
    if (!error.empty()) {
      std::printf("%-80s ERROR: %s\n", b->name.c_str(), error.c_str());
    } else {
      std::vector<double> sorted = per_iter;
      std::sort(sorted.begin(), sorted.end());
      size_t n = sorted.size();
      double med = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
      double sc = unit_scale(b->unit);
      std::printf("%-80s %10s %s (%s .. %s)", b->name.c_str(), fixed(med * sc).c_str(), unit_name(b->unit),
                  fixed(sorted.front() * sc).c_str(), fixed(sorted.back() * sc).c_str());
      auto eval = [&](const Counter& c) {
        double v = c.value;
        if (c.flags == Counter::kIsIterationInvariantRate) v = v / med;
        else if (c.flags == Counter::kIsRate) v = v / (med * double(iters));
        return v;
      };
      for (auto& kv : counters) std::printf(" %s=%s", kv.first.c_str(), human(eval(kv.second)).c_str());
      if (!label.empty()) std::printf(" %s", label.c_str());
      std::printf("\n");
      if (json) {
        std::fprintf(json, "%s\n    {\"name\": \"%s\", \"time_unit\": \"%s\", \"real_time\": %.9g, \"min_time\": %.9g, \"max_time\": %.9g, \"repetitions\": %zu",
                     first_json ? "" : ",", json_escape(b->name).c_str(), unit_name(b->unit), med * sc,
                     sorted.front() * sc, sorted.back() * sc, n);
        for (auto& kv : counters) std::fprintf(json, ", \"%s\": %.9g", json_escape(kv.first).c_str(), eval(kv.second));
        if (!label.empty()) std::fprintf(json, ", \"label\": \"%s\"", json_escape(label).c_str());
        std::fprintf(json, "}");
        first_json = false;
      }
    }
    std::fflush(stdout);
  }
  if (json) {
    std::fprintf(json, "\n  ]\n}\n");
    std::fclose(json);
  }
  return ran;
}

inline void Shutdown() {}

}  // namespace benchmark
