// server_node: builds one server node (its actors and their shared context) in dependency
// order, and stops it in the reverse order. The order itself, and the two cycles it breaks,
// are explained in server_context.h. pchatd and the in-process tests and benches all build
// their node here, so the order is written once.
//
// Threads: construct, start_edge() and stop() from one owning thread (main, or a test).
// Ownership: the caller owns the actor system, the store and the SIP endpoint, and keeps
// them alive until the node is destroyed; every copy of context() must be gone before the
// actor system is destroyed (it holds actor handles).
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/compliance_runner_actor.h"
#include "actors/pool_actor.h"
#include "actors/server_context.h"
#include "pool/pool_settings.h"

namespace pchat::sip {
class endpoint;
}

namespace pchat::actors {

class sip_bridge;
class pool_edge;
class web_edge;

// What a node is built from: everything that exists before its first actor.
struct node_parts {
  storage::database* store = nullptr;                 // REQUIRES: non-null, open
  std::shared_ptr<identity_registry> identities;   // null: every room command is denied
  std::shared_ptr<sip::sign_in_throttle> sign_in_throttle;  // server_context::sign_in_throttle
  // The edge. pchatd: its SIP endpoint, constructed and not started (start_edge() starts
  // it, stop() stops it first). Tests: a recording `edge` and no endpoint.
  sip::endpoint* sip = nullptr;
  sip::dialog_sender* edge = nullptr;              // used when `sip` is null
  server_settings settings;
  std::string search_dir;  // the history index's folder; empty: no indexer
  std::chrono::milliseconds index_step_delay{0};  // tests only (indexer_options::step_delay)
  // The compliance runner's options, when it runs (pchatd with compliance on; a test that
  // only reads what is staged runs none).
  std::optional<runner_options> compliance_runner;
  // The pool (docs/POOL.md): set when this node is one of a pool (pchatd --etcd); nullopt
  // is standalone: no pool port, no etcd, server_context::pool null, every room local.
  // With it, the context's pool membership exists from the start; its view has no live
  // node (no room may be owned anywhere) until the membership actor (pool_actor.h) holds
  // the node lease, after start_pool().
  std::optional<pool::pool_settings> pool;
  // Tests only: the membership actor's timings and settings before it is spawned.
  std::function<void(pool_actor_config&)> adjust_pool;
  // Tests only (fault injection): given a real service actor, return the one the context
  // names instead (a stalled commit, a flaky reader, a silent directory). The node stops
  // both.
  using interpose = std::function<caf::actor(caf::actor_system&, const caf::actor& real)>;
  interpose commit, reader, directory;
};

class server_node {
 public:
  // Spawns every service actor after what it uses, completes the context and only then
  // hands it out (the directory gets it first). REQUIRES: sys outlives the node.
  server_node(caf::actor_system& sys, node_parts parts);
  ~server_node();  // stop()
  server_node(const server_node&) = delete;
  server_node& operator=(const server_node&) = delete;

  // The node's context, complete and read-only. Valid until the node is destroyed; after
  // stop() its actors are gone.
  const std::shared_ptr<const server_context>& context() const { return ctx_; }
  // A pool node's edge (what it sends to other nodes); null standalone.
  const pool_edge* pool_sender() const { return pool_edge_.get(); }
  // The browsers' edge (actors/web_edge.h): web sessions open their dialogs on it. Never
  // null; valid until the node is destroyed.
  web_edge* web() const { return web_edge_.get(); }

  // The last step of a start: attaches the SIP bridge (which spawns a session per dialog)
  // and starts the endpoint. Returns "" or what failed. REQUIRES: parts.sip was given.
  std::string start_edge();

  // A pool node (parts.pool set): listens for the other nodes on the pool host and port
  // (the membership actor published there), then joins the pool: node lease, registry
  // entry, links to the other nodes. Blocks until joined (at most about 15 s). Returns ""
  // or what failed (the port taken, a live node with this name or tag, etcd not reached).
  // `sip_port` and `http_port` go into the registry entry (what pool status shows).
  // REQUIRES: parts.pool was given; called once.
  std::string start_pool(uint16_t sip_port, uint16_t http_port);
  // The pool port listened on (after start_pool), 0 before or when standalone.
  uint16_t pool_port() const { return pool_port_; }

  // Stops in the reverse order of the start: the SIP endpoint (no more dialogs or INFOs),
  // the bridge's sessions, then (in a pool) the node leaves (its lease revoked: its entry
  // and room claims go at once), then every service actor is told to exit and EVERY actor of
  // the system (rooms and sessions still handling parts too) is awaited. Nothing the
  // context names is released while an actor can still read it. Idempotent.
  // REQUIRES: nothing outside the actors uses the context any more (stop HTTP first).
  void stop();

 private:
  caf::actor keep(caf::actor a);  // a service actor that stop() ends

  caf::actor_system& sys_;
  node_parts parts_;
  std::vector<caf::actor> services_;  // in start order, interposed ones included
  std::shared_ptr<const server_context> ctx_;
  std::unique_ptr<sip_bridge> bridge_;
  caf::actor pool_actor_;  // invalid when standalone
  uint16_t pool_port_ = 0;
  bool pool_joined_ = false;
  std::unique_ptr<pool_edge> pool_edge_;  // a pool node's edge (ctx->edge); null standalone
  std::unique_ptr<web_edge> web_edge_;    // in front of the SIP edge (behind the pool edge)
  bool stopped_ = false;
};

}  // namespace pchat::actors
