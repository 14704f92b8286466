// What a node's actors count for /metrics (app/metrics_api.h): the post path's outcomes and
// latencies, group commits, active rooms and the indexer's backlog. One per node, made by
// server_node and named by server_context::metrics; the commit actor and the indexer get it
// at spawn (they exist before the context).
//
// Cost on the post path: a post's outcome is one relaxed atomic add, its commit latency one
// steady_clock read and a histogram observation (a short scan and two relaxed adds); a
// group commit adds three observations. No lock, no allocation.
//
// Thread safety: every member from any thread (metrics/instruments.h).
#pragma once

#include <caf/fwd.hpp>

#include <array>
#include <cstdint>

#include "metrics/instruments.h"

namespace pchat::actors {

// How a post ended, as counted (a label of pchat_posts_total).
enum class post_outcome : uint8_t {
  accepted,         // durable (or relayed, ChatHistory and compliance off) and 200 sent
  not_found,        // our errc values, named as in messages.h
  forbidden,
  not_joined,
  storage_failure,  // the store refused the write (SIP 503)
  bad_request,
  busy,             // not confirmed within commit_timeout, history unreadable, room stopping
  quota_exceeded,
  moved,            // the room lives on another node now (the pool)
  timeout,          // an actor request timed out
  room_down,        // the room was gone
  other,
  count_            // not an outcome: the number of them
};
const char* name_of(post_outcome o);

// Buckets of the latency histograms, microseconds (100 us .. 10 s).
#define PCHAT_LATENCY_BOUNDS_US                                                                    \
  {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, \
   5000000, 10000000}

struct node_metrics {
  std::array<metrics::counter, static_cast<size_t>(post_outcome::count_)> posts;
  // A post from the room's write to its durable answer (the commit actor's queue, batch and
  // fsync), microseconds. Posts that need no write are not observed.
  metrics::histogram post_commit_us PCHAT_LATENCY_BOUNDS_US;
  // Group commits: batches committed (ok or not), failed ones, entries per batch and the
  // synced write's duration (microseconds).
  metrics::counter commit_batches, commit_failures;
  metrics::histogram commit_batch_entries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  metrics::histogram commit_sync_us PCHAT_LATENCY_BOUNDS_US;
  // Room actors running now (the directory spawns and loses them).
  metrics::gauge rooms_active;
  // Messages noted for the indexer (actors/index_feed.h) and messages it has indexed; its
  // lag is the feed's (server_context::index).
  metrics::counter index_queued, index_done;
  // Pool only (room_actor.cpp): posts shipped to a room's follower (one request each, the
  // replication cost), followers that failed (an error, a timeout, their node gone) and
  // followers caught up (a tail or full copy) before they count.
  metrics::counter pool_shipped, pool_follower_failures, pool_followers_caught_up;

  // Counts a post's end: accepted when `err` is null, else by the error's kind.
  void count_post(const caf::error* err) noexcept;
};

}  // namespace pchat::actors
