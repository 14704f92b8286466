// Instruments a hot path updates and a scrape reads: counters, gauges and histograms made of
// relaxed atomics. Updating one never locks, never allocates and never waits for a reader;
// a reader sees each value whole (a histogram's buckets may be a few observations apart
// from each other while it is being updated, never torn).
//
// Values are integers in a unit the owner chooses (microseconds, entries, bytes); the text
// codec (text_format.h) scales them when it writes them (e.g. microseconds as seconds).
//
// Thread safety: every method, from any thread. Ownership: plain members of whoever counts
// (node_metrics, the HTTP server, the db); they outlive every updater and reader.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

namespace pchat::metrics {

// Only goes up (Prometheus counter). Restarts at 0 with the process.
class counter {
 public:
  void add(uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Goes up and down (Prometheus gauge).
class gauge {
 public:
  void set(int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t n) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// What a histogram held when read: cumulative counts per upper bound (Prometheus "le"),
// the +Inf bucket being `count`.
struct histogram_snapshot {
  std::vector<uint64_t> bounds;      // upper bounds, ascending, in the histogram's unit
  std::vector<uint64_t> cumulative;  // observations <= bounds[i]
  uint64_t count = 0;                // every observation (the +Inf bucket)
  uint64_t sum = 0;                  // their sum, in the unit
};

// Counts observations into fixed buckets (upper bounds inclusive, as Prometheus's `le`).
// observe() is a short scan over the bounds and two relaxed atomic adds.
class histogram {
 public:
  // REQUIRES: bounds ascending, not empty.
  explicit histogram(std::initializer_list<uint64_t> bounds);
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  void observe(uint64_t v) noexcept;
  histogram_snapshot snapshot() const;

 private:
  std::vector<uint64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the last: above all)
  std::atomic<uint64_t> sum_{0};
};

}  // namespace pchat::metrics
