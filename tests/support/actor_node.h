// One server node without SIP, in the test's process: a real store in a folder and the
// node pchatd builds (actors/server_node.h: commit actor, reader pool, directory) on a
// two-thread actor system, sessions spawned on demand; the SIP edge is a recording_sender
// (`edge`) that records what actors send. Everyone in the domain (example.com) may chat: a
// "global" policy with chat enabled, the users alice, bob and carol (as pchatd's demo
// content), and session() makes its user in the identity registry unless it is known (the
// registry admits no unknown user). `adjust` changes the node's parts (settings, faulty
// actors interposed) before it is built: the context never changes once actors exist.
// A node given parts.pool gets BASP (the middleman, heartbeats on) as pchatd's pool nodes
// do; the test calls server->start_pool() to join.
//
// The destructor closes every session and stops the node (server_node::stop: every actor
// awaited), and only then drops the context, the actor system and the store.
//
// Threads: the test thread calls it; the actors run on CAF workers. Members are public so
// that a test can reach the store, the context and the system directly.
#pragma once

#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/server_context.h"
#include "actors/server_node.h"
#include "protocol/sip/sip_endpoint.h"
#include "storage/database.h"
#include "tests/support/recording_sender.h"

namespace pchat::testing {

struct actor_node {
  // Opens (creates) the store in `dir`. A store that fails to open is a test failure.
  // A pool node (`adjust` sets node_parts::pool): its actor system gets CAF's network layer
  // and pchat's message types, so that nodes in one process talk over loopback BASP as
  // separate processes would. Its view has no live node (owns no room) until the test
  // joins it (server->start_pool()), calls serve_alone(), or publishes views itself.
  explicit actor_node(const std::string& dir, bool compliance_enabled = false,
                      const std::function<void(actors::node_parts&)>& adjust = {});
  ~actor_node();
  // A pool node only: publishes a view of this node alone (serving, with its relays), so it
  // owns every room without etcd.
  void serve_alone();
  actor_node(const actor_node&) = delete;
  actor_node& operator=(const actor_node&) = delete;

  // A room in a category of its own ("cat-<name>") made through the directory; its URI.
  // `chat_history` sets the category's ChatHistory; nullopt keeps the record's default.
  std::string make_room(const std::string& name, std::optional<bool> chat_history = std::nullopt);
  // The URI of the room called `name` as the directory lists it ("" if none).
  std::string room_uri(const std::string& name);
  // A session actor for dialog `id` signed in as `user` ("sip:alice@example.com"). Ids
  // are the edge's own (untagged) here and in cmd()/join(): a pool node tags them as its
  // SIP bridge does.
  caf::actor session(sip::dialog_id id, const std::string& user);
  // Hands `body` to session `s` as an INFO and waits (10 s) for its SIP final response;
  // the status, 0 if none came.
  int cmd(caf::actor& s, const std::string& body);
  // The (untagged) txn of the last cmd() (what the edge records its response under).
  uint64_t last_txn = 0;
  // cmd(join_cmd(uri)) answered 200 and its XCCOS reply (rpl:join) reached dialog `d`.
  bool join(caf::actor& s, sip::dialog_id d, const std::string& uri);

  std::unique_ptr<storage::database> store;
  recording_sender edge;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<actors::server_node> server;
  std::shared_ptr<const actors::server_context> ctx;  // server->context()
  std::vector<caf::actor> sessions;
};

}  // namespace pchat::testing
