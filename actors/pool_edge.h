// pool_edge: the SIP edge of a pool node as its actors see it (docs/POOL.md, "Ids").
//
// In a pool, the dialog and transaction ids the actors hold carry the tag of the node whose
// SIP edge owns them (pool/node_tag.h; actors/sip_bridge.cpp tags what it hands over). A
// room answers and fans out through server_context::edge, which in a pool is this sender:
//   - ids with this node's tag (or none: tag 0 is "this node's own", pool/node_tag.h) go
//     to the local endpoint, untagged, as standalone;
//   - the others are grouped per tag and become ONE message (edge_atom, edge_batch) per
//     node, to that node's edge relay (node_entry::relay), which hands them to its own
//     endpoint. A fan-out to members on three nodes is one local send_info_many plus one
//     message per other node; a post's 200 and its echo to the author's node travel in the
//     same message (respond_then_send_info_many).
// Order: a room's sends to one node leave from the room's thread, one after the other, to
// the same relay, over one BASP connection: they arrive in the order sent (an answer before
// the fan-out that follows it, as standalone). Ids of a node that is not in the view (it
// died: its dialogs are gone) are dropped.
//
// Standalone pchatd has no pool_edge: server_context::edge is the endpoint itself.
//
// Threads: every method from any thread (the endpoint's and CAF's sends are thread-safe;
// the view is read once per call).
#pragma once

#include <caf/fwd.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "protocol/sip/sip_endpoint.h"

namespace pchat::actors {

class pool_membership;

class pool_edge final : public sip::dialog_sender {
 public:
  // REQUIRES: `local` (this node's endpoint) outlives this; `pool` non-null; `tag` is this
  // node's tag (non-zero).
  pool_edge(sip::dialog_sender& local, uint16_t tag, std::shared_ptr<const pool_membership> pool);

  void respond(sip::txn_id txn, int code) override;
  void send_info(sip::dialog_id d, std::shared_ptr<const std::string> body) override;
  void send_info_many(std::vector<sip::dialog_id> targets,
                      std::shared_ptr<const std::string> body) override;
  void respond_then_send_info_many(sip::txn_id txn, int code, std::vector<sip::dialog_id> targets,
                                   std::shared_ptr<const std::string> body) override;
  void answer(sip::txn_id txn, int code, sip::dialog_id d, std::shared_ptr<const std::string> reply) override;

  // Messages sent to other nodes' relays since start, and ids dropped because their node
  // was not in the view (what the pool's metrics and tests count).
  uint64_t batches_sent() const { return batches_sent_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  bool local(uint64_t id) const;  // this node's (its tag, or untagged)
  // txn 0: no response. Local ids go to the endpoint (the response first), the others
  // one message per node.
  void route(sip::txn_id txn, int code, std::vector<sip::dialog_id> targets,
             const std::shared_ptr<const std::string>& body);

  sip::dialog_sender& local_;
  const uint16_t tag_;
  std::shared_ptr<const pool_membership> pool_;
  std::atomic<uint64_t> batches_sent_{0};
  std::atomic<uint64_t> dropped_{0};
};

// The edge relay of a node: takes (edge_atom, edge_batch) from other nodes' pool_edges and
// hands it to `local` (responses first, then the INFO), ids with another tag dropped.
// Event-based (it answers nothing and only enqueues to the endpoint). REQUIRES: `local`
// outlives the actor.
caf::actor spawn_edge_relay(caf::actor_system& sys, sip::dialog_sender& local, uint16_t tag);

}  // namespace pchat::actors
