// post_id_source: the post ids one node gives the posts its sessions take (storage::post_id,
// docs/POOL.md "post ids"). The origin is drawn at random (non-zero) when the node starts,
// so ids never repeat across restarts and no two nodes collide (2^-64 per pair of starts);
// the counter numbers that incarnation's posts from 1.
//
// A room answers a post whose id it already stored with the stored post's result, so a
// session may send the same post again (same id) after the room it was at was lost.
//
// Threads: next() from any thread (lock-free). Ownership: server_node makes one per node,
// server_context::post_ids shares it.
#pragma once

#include <atomic>
#include <cstdint>

#include "storage/records.h"

namespace pchat::actors {

class post_id_source {
 public:
  // REQUIRES: origin != 0.
  explicit post_id_source(uint64_t origin) : origin_(origin) {}
  // A source whose origin is a fresh random non-zero number (std::random_device).
  static uint64_t random_origin();

  storage::post_id next() { return {origin_, counter_.fetch_add(1, std::memory_order_relaxed) + 1}; }
  uint64_t origin() const { return origin_; }

 private:
  const uint64_t origin_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace pchat::actors
