// The compliance runner: the `mgccomp` -> adapter stage (reference §4.2 steps 3-4).
//
// Consumes: the staging queue (store's compliance CF), oldest first.
// Emits:    adapter output (files named after each batch's sequence range).
// Deletes:  a batch's events, in one synced write, only after the adapter reported success.
//
//   start ──remove stale .tmp──> run ──ok──> wait RunInterval ──> run ...
//                                    └─fail─> wait backoff (base·2^k, at most RunInterval) ──> run
//
// One run delivers batches (at most max_batch_events each) until the queue is empty or the
// adapter fails; a failed batch stays staged, nothing is dropped, and the error is logged
// and kept for `compliance status`. Before each batch the runner asks the adapter whether
// output for a range starting at the queue's first event exists already (a crash after the
// rename, before the delete): then it re-delivers exactly that range (the adapter skips the
// files that exist) and deletes it, so the output never holds an event twice.
// Crash point "after_rename" fires between a successful delivery and the delete.
//
// Events are staged with their room's id and without display names; the runner gives each
// its room URI and the user's current display name before the adapter sees it (events
// staged by older versions carry the URI already).
//
// Live settings (live_settings.h): given them, the runner applies what is in force when
// told (creconf, messages.h): RunInterval (the next run is one interval after the change),
// the adapter and its switches (a new adapter from the next batch on; a batch in progress
// finishes with the old one), enabled (off: no scheduled run, staged events stay; on: a run
// at once, as at a start). Without them it keeps `opts`.
//
// Pool nodes (opts.pool): each run first delivers the CHAT events of the rooms this node
// owns (pool_compliance.h; a failure is recorded like a batch's and retried with the same
// backoff), then the node's queue (its other events).
//
// Runs detached (file I/O, fsync and etcd calls block). The store must outlive the actor.
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "pool/pool_settings.h"

namespace pchat::storage {
class database;
}

namespace pchat::compliance {
class adapter;
}

namespace pchat::actors {

class live_settings;

struct runner_options {
  std::shared_ptr<compliance::adapter> output;              // REQUIRES: non-null
  std::chrono::milliseconds run_interval{15 * 60 * 1000};  // RunInterval
  std::chrono::milliseconds backoff_base{1000}; // first retry after a failure
  size_t max_batch_events = 10000;
  std::string domain;                           // room URIs: ma-chan://<domain>/<room id>
  bool enabled = true;                          // scheduled runs happen; shown in status
  // A pool node: its rooms' CHAT events are delivered from beside the room logs, exactly
  // once across the pool (pool_compliance.h), before each run of the queue. `settle`: how
  // old a post's event must be (every post is acknowledged or refused by then).
  std::optional<pool::pool_settings> pool;
  std::chrono::milliseconds pool_settle{11000};
};

// Handles (crun), (crun, generation), (creconf) and (cstatus) -> compliance_status
// (messages.h). `live` may be null (tests): creconf is then ignored.
caf::actor spawn_compliance_runner(caf::actor_system& sys, storage::database* store,
                                   runner_options opts, std::shared_ptr<live_settings> live = nullptr);

}  // namespace pchat::actors
