#include "bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pchat::bench {

int latency_histogram::bucket_of(uint64_t v) {
  if (v < kLinear) return static_cast<int>(v);
  int e = std::bit_width(v) - 1;  // 2^e <= v
  if (e > kMaxExponent) return kBuckets - 1;
  int shift = e - 5;
  return kLinear + (e - 6) * kSubBuckets + static_cast<int>((v >> shift) - kSubBuckets);
}

uint64_t latency_histogram::bucket_middle(int b) {
  if (b < kLinear) return static_cast<uint64_t>(b);
  int e = (b - kLinear) / kSubBuckets + 6;
  uint64_t sub = static_cast<uint64_t>((b - kLinear) % kSubBuckets) + kSubBuckets;
  uint64_t width = uint64_t{1} << (e - 5);
  return sub * width + width / 2;
}

void latency_histogram::record(std::chrono::nanoseconds d) {
  int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  record_us(us < 0 ? 0 : static_cast<uint64_t>(us));
}

void latency_histogram::record_us(uint64_t micros) {
  ++counts_[bucket_of(micros)];
  ++count_;
  sum_ += micros;
  max_ = std::max(max_, micros);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t latency_histogram::quantile_us(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the sample wanted, 1-based: the smallest value with at least q of the samples
  // at or below it.
  uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_middle(i), max_);
  }
  return max_;
}

}  // namespace pchat::bench
