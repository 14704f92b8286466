// coordinator_actor: the pool's blocking etcd calls (pool/etcd_client.h), on a thread of
// their own, for the membership actor (pool_actor.h). Detached because every call blocks
// (each at most the client's timeout, 1 s); it answers only its local pool actor, never a
// remote sender (a detached actor answering a remote node hangs shutdown, CAF 0.17).
//
// Messages (messages.h, "---- pool"): etjoin, etkeep, etscan, etrevoke, etput, etclaim,
// etdrop, etget. Every failure to reach etcd is errc::busy with the client's reason.
//
// Joining (etjoin) grants the node lease and creates the node's registry key and its tag
// key, both bound to the lease, only if absent: a key held by another lease is a live
// node with this name or tag, or the previous run of this node whose lease has not run out
// yet (a crash a moment ago). It is retried until `stale_wait`, then refused
// (errc::forbidden, naming the holder) and the new lease revoked.
//
// Ownership: the actor owns its etcd client. Threads: its own.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "pool/etcd_client.h"

namespace pchat::actors {

struct coordinator_config {
  std::string endpoints;     // "http://HOST:PORT[,...]" (REQUIRES: valid, pool_settings.h)
  std::string pool_name;     // the key prefix
  pool::etcd_options etcd;   // per call: timeout (1 s)
  int64_t lease_ttl_s = 2;   // the node lease (docs/POOL.md)
  std::chrono::milliseconds stale_wait{3000};  // how long a held name/tag key is waited for
};

caf::actor spawn_coordinator_actor(caf::actor_system& sys, coordinator_config cfg);

}  // namespace pchat::actors
