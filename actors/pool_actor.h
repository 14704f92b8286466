// pool_actor: this node's membership in the pool (docs/POOL.md "Membership"). Event-based:
// it talks to the other nodes' pool actors over BASP; its blocking etcd calls go to two
// detached coordinators it spawns and links (coordinator_actor.h): one for the lease
// (grant, keep-alive) so that a slow registry scan or claim never delays a keep-alive, one
// for the rest.
//
// What it does:
//   - start (pstart, from server_node once SIP and HTTP listen and the actor is published
//     on the pool port): grants the node lease (TTL 2 s) and creates the registry entry
//     /<pool>/nodes/<name> and the tag key, refusing a name or tag a live node has;
//   - keeps the lease alive every 500 ms; when no keep-alive has succeeded for 1.5 s
//     (counted from when the last good one was sent, so always before etcd can expire the
//     lease) the view says not serving (owns and ranks no room) until one succeeds again;
//     a lease that is gone (expired, revoked by a peer) is joined again with a new one and
//     every room claim of the old one forgotten;
//   - scans /<pool>/nodes/ every 250 ms and connects (connect_atom through the middleman,
//     asynchronous) to every registered node it has no link to; a hello exchange of
//     node_entry (both sides) follows and each monitors the other's pool actor;
//   - on a peer's down_msg (its process died, ~10 ms; or BASP heartbeats stopped, 1 s)
//     drops it at once and, when this node itself holds a fresh lease, revokes the peer's
//     lease so its rooms can be claimed now rather than after its TTL ("Fast death");
//   - a node is live when registered in etcd and linked; every change publishes a new
//     pool_view (pool_membership) and tells the directory (pool_changed);
//   - room claims (pclaim/prelease/powner, messages.h) and the status (pstatus).
//
// Threads: an event-based actor; the coordinators run on their own threads.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <memory>

#include "actors/pool_view.h"
#include "pool/pool_settings.h"

namespace pchat::actors {

struct pool_actor_config {
  pool::pool_settings settings;                 // REQUIRES: pool::check(settings) ok
  std::shared_ptr<pool_membership> membership;  // REQUIRES: non-null; published to
  // This node's entry as others will see it: name, tag and host are set from `settings`
  // and the ports at start; the actors (directory, relay, replica) by server_node. Its
  // `pool` is the pool actor itself.
  node_entry self;
  caf::actor directory;  // told pool_changed (may be invalid)
  // Timings (docs/POOL.md); tests may shorten them.
  int64_t lease_ttl_s = 2;
  std::chrono::milliseconds keepalive_interval{500};
  std::chrono::milliseconds scan_interval{250};
  std::chrono::milliseconds serve_grace{1500};    // without a good keep-alive: not serving
  std::chrono::milliseconds revoke_fresh{1000};   // a peer's lease is revoked only by a node renewed this recently
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds etcd_timeout{1000};   // per etcd call
  std::chrono::milliseconds stale_wait{3000};     // a held name/tag key is waited for at start
};

caf::actor spawn_pool_actor(caf::actor_system& sys, pool_actor_config cfg);

}  // namespace pchat::actors
