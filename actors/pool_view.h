// pool_view: the pool as one node sees it at one moment, and the holder that publishes it.
//
// A node in a pool (docs/POOL.md) knows the live nodes (each with the actors other nodes
// talk to) and ranks rooms over them (pool/placement.h). The membership actor
// (actors/pool_actor.h) builds a new view on every change (a node joined, left, died,
// started or stopped draining) and publishes it; every other actor and thread reads
// current() once per decision and asks that one view, as with identity_registry.
//
// Standalone pchatd has no pool: server_context::pool is null and every room is local.
//
// Threads: pool_membership::current() and publish() from any thread; a view is immutable.
#pragma once

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include <atomic>
#include <cstdint>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pool/node_record.h"

namespace pchat::actors {

// One node of the pool, as its hello says (messages.h: these travel between nodes).
struct node_entry {
  std::string name;        // stable, configured (--node-name); placement is over names
  uint16_t tag = 0;        // pool/node_tag.h: the top bits of its dialog and txn ids
  std::string host;        // its pool (BASP) address
  uint16_t pool_port = 0;
  uint16_t sip_port = 0;   // what `pchatctl pool status` shows
  uint16_t http_port = 0;
  bool draining = false;   // `pool drain`: owns and follows no room, still serves its clients
  caf::actor pool;         // its membership actor (monitored: a down_msg is the node's death)
  caf::actor directory;    // its directory relay (directory_relay.h): lookups and admin requests for rooms it owns
  caf::actor relay;        // its edge relay (actors/pool_edge.h): answers and fan-out to its dialogs
  caf::actor replica;      // its replica actor: the follower side of room logs
};

// The entry's registry record (what etcd and `pool status` show of it).
inline pool::node_record record_of(const node_entry& e) {
  return {e.name, e.tag, e.host, e.pool_port, e.sip_port, e.http_port, e.draining};
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_entry& x) {
  return f(caf::meta::type_name("node_entry"), x.name, x.tag, x.host, x.pool_port, x.sip_port,
           x.http_port, x.draining, x.pool, x.directory, x.relay, x.replica);
}

struct pool_view {
  std::string self;               // this node's name
  uint64_t version = 0;           // grows with every published view
  // False while this node holds no fresh etcd lease (not yet registered, or its keep-alive
  // has not succeeded for 1.5 s): it may have lost its rooms, so it owns none and ranks
  // none (docs/POOL.md "Node lease").
  bool serving = false;
  // Until when `serving` holds: the last successful keep-alive's send time plus the serve
  // grace. A view read later (the process was paused and its membership actor has not run
  // yet) serves nothing: it ranks and owns no room. Hand-built views: never ends.
  std::chrono::steady_clock::time_point serving_until = std::chrono::steady_clock::time_point::max();
  // Other nodes registered in etcd and not draining, linked or not. A node whose links dropped (paused, cut
  // off) still counts them: its rooms never acknowledge alone as a pool of one while other
  // nodes hold leases (they may have taken the rooms over).
  size_t others_registered = 0;
  // serving, and not past serving_until.
  bool fresh() const { return serving && std::chrono::steady_clock::now() < serving_until; }
  // Registered in etcd and linked over BASP, this node included (while serving), sorted by
  // name.
  std::vector<node_entry> live;

  // The live node called `name`, or nullptr.
  const node_entry* find(const std::string& name) const;
  const node_entry* find_tag(uint16_t tag) const;
  // Live, not draining node names ranked for `room_id` (pool/placement.h): [0] owner,
  // [1] follower. Empty when no node may own rooms (this one is not serving).
  std::vector<std::string> rank(const std::string& room_id) const;
  // rank(room_id)[0] == self.
  bool owns(const std::string& room_id) const;
};

class pool_membership {
 public:
  explicit pool_membership(std::shared_ptr<const pool_view> first);
  std::shared_ptr<const pool_view> current() const { return std::atomic_load(&view_); }
  void publish(std::shared_ptr<const pool_view> v) { std::atomic_store(&view_, std::move(v)); }

 private:
  std::shared_ptr<const pool_view> view_;
};

}  // namespace pchat::actors
