// Unique, increasing ids for records that need no dense numbering (uploaded files,
// invitations): microseconds since the epoch, bumped past the last one handed out, so they
// also increase across restarts. Each family holds its own, started at open from the
// highest id it has stored (a clock set back cannot make an id repeat).
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>

namespace pchat::storage {

class id_sequence {
 public:
  explicit id_sequence(uint64_t last = 0) : last_(last) {}
  uint64_t next();

 private:
  std::mutex mu_;
  uint64_t last_;  // GUARDED_BY(mu_)
};

}  // namespace pchat::storage
