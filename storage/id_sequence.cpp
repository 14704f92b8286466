#include "storage/id_sequence.h"

#include <algorithm>
#include <chrono>

namespace pchat::storage {

uint64_t id_sequence::next() {
  auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::max(last_ + 1, now);
  return last_;
}

}  // namespace pchat::storage
