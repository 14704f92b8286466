// A latency histogram for the load bench: fixed memory, O(1) record, mergeable, quantiles
// within about 3 % of the true value (log-linear buckets as in HdrHistogram with 5
// significant bits).
//
// Bucket layout over microseconds v:
//   v < 64:                 one bucket per microsecond (exact);
//   2^e <= v < 2^(e+1), e>=6: 32 equal buckets of width 2^(e-5).
// Values from 2^41 µs (about 25 days) up are clamped into the last bucket.
//
// Threading: a plain value; one thread at a time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace pchat::bench {

class latency_histogram {
 public:
  void record(std::chrono::nanoseconds d);
  void record_us(uint64_t micros);
  void merge(const latency_histogram& other);
  void clear() { *this = latency_histogram(); }

  uint64_t count() const { return count_; }
  // Value (microseconds) at quantile q in [0, 1]: the middle of the bucket holding the
  // q-th sample; 0 when empty. max_us() is exact.
  uint64_t quantile_us(double q) const;
  uint64_t max_us() const { return max_; }
  double quantile_ms(double q) const { return quantile_us(q) / 1000.0; }
  double mean_us() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

 private:
  static constexpr int kLinear = 64;
  static constexpr int kSubBuckets = 32;
  static constexpr int kMaxExponent = 40;
  static constexpr int kBuckets = kLinear + (kMaxExponent - 6 + 1) * kSubBuckets;

  static int bucket_of(uint64_t v);
  static uint64_t bucket_middle(int b);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace pchat::bench
