// The replicated room log (docs/POOL.md "Replicated room log", "Taking a room over") on
// several server nodes in one process: each node a real store and the node pchatd builds,
// in its own actor system; the pool view is published by hand and room claims come from a
// stand-in for etcd's compare-and-swap (claim_book). What a test checks is what each
// node's store holds and what the clients were answered.
#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "log/log.h"
#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/room_actor.h"
#include "actors/server_context.h"
#include "pool/placement.h"
#include "pool/pool_settings.h"
#include "protocol/xccos/chat_uri.h"
#include "storage/database.h"
#include "storage/message_log.h"
#include "tests/support/actor_node.h"
#include "tests/support/claim_book.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xccos_commands.h"

using namespace pchat;
using namespace std::chrono_literals;

namespace {

using pchat::testing::join_cmd;
using pchat::testing::post_cmd;
using pchat::testing::temp_dir;

using pchat::testing::claim_book;
using pchat::testing::claim_double;

// A commit actor in front of the real one that holds every write while stalled (a slow
// fsync on the follower) and passes them on when released.
struct gate_state {
  caf::actor real;
  bool stalled = false;
  std::vector<std::pair<caf::message, caf::response_promise>> held;
};
caf::behavior commit_gate(caf::stateful_actor<gate_state>* self, caf::actor real) {
  self->state.real = real;
  self->set_default_handler([](caf::scheduled_actor* s, caf::message_view& x) -> caf::result<caf::message> {
    auto* self = static_cast<caf::stateful_actor<gate_state>*>(s);
    auto rp = self->make_response_promise();
    if (self->state.stalled) {
      self->state.held.emplace_back(x.move_content_to_message(), rp);
    } else {
      rp.delegate(self->state.real, x.move_content_to_message());
    }
    return rp;
  });
  return {
      [=](caf::get_atom) { self->state.stalled = true; },
      [=](caf::ok_atom) {
        self->state.stalled = false;
        for (auto& [m, rp] : self->state.held) rp.delegate(self->state.real, std::move(m));
        self->state.held.clear();
      },
  };
}

struct pool_node {
  std::string name;
  std::shared_ptr<actors::pool_membership> membership;
  std::unique_ptr<pchat::testing::actor_node> n;
  caf::actor claims;
  caf::actor gate;  // its commit gate, if it has one
};

// Several nodes in one process. Nodes get their names when the test knows which room it
// uses (placement decides who owns it): name_for_owner().
class ReplicatedLog : public ::testing::Test {
 protected:
  void add_node(bool gated = false, std::chrono::milliseconds commit_timeout = 5s) {
    temps_.push_back(std::make_unique<temp_dir>("replica"));
    auto p = std::make_unique<pool_node>();
    auto* raw = p.get();
    p->n = std::make_unique<pchat::testing::actor_node>(
        temps_.back()->path(), compliance_, [&](actors::node_parts& parts) {
          pool::pool_settings ps;
          ps.node_name = "node-" + std::to_string(nodes_.size());  // views set `self` later
          parts.pool = ps;
          parts.settings.commit_timeout = commit_timeout;
          parts.settings.request_timeout = 3s;
          if (gated)
            parts.commit = [raw](caf::actor_system& sys, const caf::actor& real) {
              return raw->gate = sys.spawn(commit_gate, real);
            };
        });
    p->membership = p->n->ctx->pool;
    p->claims = p->n->sys->spawn(claim_double, book_, std::to_string(nodes_.size()));
    nodes_.push_back(std::move(p));
  }

  // Names the nodes so that `order[i]` is rank i of `room_id` over them (placement).
  void name_by_rank(const std::string& room_id, const std::vector<size_t>& order) {
    std::vector<std::string> names;
    for (size_t i = 0; i < nodes_.size(); ++i) names.push_back("node-" + std::to_string(i));
    auto ranked = pool::rank(room_id, names);
    for (size_t i = 0; i < order.size(); ++i) nodes_[order[i]]->name = ranked[i];
  }

  // Publishes to every node a view in which the nodes `live` (indexes) are up.
  void publish(const std::vector<size_t>& live) {
    for (size_t i = 0; i < nodes_.size(); ++i) publish_to(i, live);
  }
  // The same, to node `to` only (views differ around a change, or across a cut).
  void publish_to(size_t to, const std::vector<size_t>& live) {
    ++version_;
    {
      auto& p = nodes_[to];
      auto v = std::make_shared<actors::pool_view>();
      v->self = p->name;
      v->version = version_;
      v->serving = true;
      for (size_t i : live) {
        auto& q = nodes_[i];
        actors::node_entry e;
        e.name = q->name;
        e.tag = static_cast<uint16_t>(i + 1);
        e.pool = q->claims;
        e.replica = q->n->ctx->replica;
        e.directory = q->n->ctx->directory;
        v->live.push_back(e);
      }
      std::sort(v->live.begin(), v->live.end(), [](auto& a, auto& b) { return a.name < b.name; });
      p->membership->publish(v);
    }
  }

  std::vector<storage::message_record> log_of(size_t node, const std::string& room_id) {
    std::vector<storage::message_record> out;
    auto s = nodes_[node]->n->store->messages().read_from(room_id, 1, 10000, &out);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return out;
  }
  storage::room_log_state state_of(size_t node, const std::string& room_id) {
    storage::room_log_state out;
    EXPECT_TRUE(nodes_[node]->n->store->messages().read_state(room_id, &out).is_ok());
    return out;
  }
  static std::vector<std::string> texts(const std::vector<storage::message_record>& ms) {
    std::vector<std::string> out;
    for (auto& m : ms) out.push_back(m.text);
    return out;
  }

  // A room actor for `rec` on node `i`, outside its directory (as the pool's routing will
  // spawn one on a new owner); stopped by the fixture.
  caf::actor room_on(size_t i, const storage::room_record& rec) {
    auto r = actors::spawn_room_actor(*nodes_[i]->n->sys, nodes_[i]->n->ctx, rec);
    rooms_.push_back(r);
    return r;
  }
  // An announce (a post by alice) to `room`: its seq once acknowledged, 0 if refused.
  uint64_t announce(size_t i, caf::actor room, const std::string& text) {
    caf::scoped_actor self{*nodes_[i]->n->sys};
    uint64_t out = 0;
    self->request(room, 15s, actors::announce_atom::value, std::string("sip:alice@example.com"), text)
        .receive([&](uint64_t seq) { out = seq; }, [&](caf::error&) {});
    return out;
  }
  void stop_room(caf::actor& r) {
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    r = caf::actor{};
  }

  void TearDown() override {
    for (auto& r : rooms_) caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    rooms_.clear();
    for (auto& p : nodes_) caf::anon_send_exit(p->claims, caf::exit_reason::user_shutdown);
    // Rooms of one node hold handles of another's replica: stop them all before any node.
    for (auto& p : nodes_) p->membership->publish(std::make_shared<actors::pool_view>());
    while (!nodes_.empty()) nodes_.pop_back();
  }

  bool compliance_ = false;
  std::shared_ptr<claim_book> book_ = std::make_shared<claim_book>();
  std::vector<std::unique_ptr<temp_dir>> temps_;
  std::vector<std::unique_ptr<pool_node>> nodes_;
  std::vector<caf::actor> rooms_;
  uint64_t version_ = 0;
};

storage::room_record room_record_of(pchat::testing::actor_node& n, const std::string& uri) {
  auto parsed = xccos::parse_room_uri(uri);
  storage::room_record rec;
  EXPECT_TRUE(parsed.has_value());
  EXPECT_TRUE(n.store->directory().get_room(parsed->id, &rec).is_ok());
  return rec;
}

TEST_F(ReplicatedLog, APostIsAcknowledgedOnlyOnceTheFollowerHasSyncedIt) {
  compliance_ = true;
  add_node();
  add_node(/*gated=*/true);
  auto& owner = *nodes_[0]->n;
  std::string uri = owner.make_room("Replicated");
  auto rec = room_record_of(owner, uri);
  name_by_rank(rec.id, {0, 1});
  publish({0, 1});

  auto a = owner.session(1, "sip:alice@example.com");
  ASSERT_TRUE(owner.join(a, 1, uri));
  ASSERT_EQ(owner.cmd(a, post_cmd(uri, "first")), 200);
  EXPECT_EQ(texts(log_of(1, rec.id)), (std::vector<std::string>{"first"}));
  auto epoch = state_of(0, rec.id).epoch;
  EXPECT_GT(epoch, 100u);
  EXPECT_EQ(state_of(1, rec.id), (storage::room_log_state{epoch, epoch, false}));
  // The follower keeps the post's compliance event beside its log (not in its own queue).
  std::vector<storage::compliance_record> kept;
  ASSERT_TRUE(nodes_[1]->n->store->messages().read_events(rec.id, 1, 10, &kept).is_ok());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].text, "first");

  // The follower's disk stalls: the owner has the post, the client has no 200.
  caf::anon_send(nodes_[1]->gate, caf::get_atom::value);
  static uint64_t txn = 50000;
  uint64_t t = ++txn;
  caf::anon_send(a, actors::info_atom::value, t, post_cmd(uri, "second"));
  ASSERT_TRUE(pchat::testing::eventually([&] { return log_of(0, rec.id).size() == 2; }, 5s));
  EXPECT_FALSE(owner.edge.wait_response(t, 500ms));
  EXPECT_EQ(log_of(1, rec.id).size(), 1u);
  EXPECT_EQ(owner.edge.count(1, ">second<"), 0u);  // no fan-out either
  // It resumes: the 200, and the post is in the follower's store.
  caf::anon_send(nodes_[1]->gate, caf::ok_atom::value);
  ASSERT_TRUE(owner.edge.wait_response(t, 5s));
  EXPECT_EQ(owner.edge.response(t), 200);
  EXPECT_EQ(texts(log_of(1, rec.id)), (std::vector<std::string>{"first", "second"}));
  ASSERT_TRUE(owner.edge.wait_info(1, ">second<"));
}

TEST_F(ReplicatedLog, AStaleOwnerGetsNothingAcceptedAndANewOwnerEndsWithTheAcknowledgedLog) {
  add_node();
  add_node();
  auto& n0 = *nodes_[0]->n;
  auto rec = room_record_of(n0, n0.make_room("Moving"));
  name_by_rank(rec.id, {0, 1});
  publish({0, 1});
  auto old_owner = room_on(0, rec);
  ASSERT_EQ(announce(0, old_owner, "one"), 1u);
  ASSERT_EQ(texts(log_of(1, rec.id)), (std::vector<std::string>{"one"}));

  // Node 0 is cut off: its lease goes, node 1 sees only itself and takes the room over.
  book_->release(rec.id);
  publish({1});
  publish_to(0, {0, 1});  // node 0 still thinks it owns the room
  auto new_owner = room_on(1, rec);
  ASSERT_EQ(announce(1, new_owner, "two"), 2u);  // one live node: its own copy
  auto e2 = state_of(1, rec.id).epoch;

  // The old owner's next post: written on its own disk at most, refused by node 1 (stale
  // epoch), never acknowledged; and it takes no more posts.
  EXPECT_EQ(announce(0, old_owner, "stale two"), 0u);
  EXPECT_EQ(texts(log_of(1, rec.id)), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(state_of(1, rec.id).epoch, e2);
  EXPECT_EQ(announce(0, old_owner, "stale three"), 0u);
  // Its own write of "stale two" runs beside the refused ship and may sync after the refusal.
  EXPECT_TRUE(pchat::testing::eventually([&] { return log_of(0, rec.id).size() == 2; }, 5s));
  EXPECT_EQ(texts(log_of(0, rec.id)), (std::vector<std::string>{"one", "stale two"}));  // divergent suffix
  stop_room(old_owner);

  // Node 1 goes on alone, then node 0 returns and takes its room back: its log is exactly
  // the acknowledged one (its divergent "stale two" dropped by a full copy), and so is its
  // follower's.
  ASSERT_EQ(announce(1, new_owner, "three"), 3u);
  stop_room(new_owner);
  book_->release(rec.id);
  publish({0, 1});
  auto back = room_on(0, rec);
  ASSERT_EQ(announce(0, back, "four"), 4u);
  std::vector<std::string> acknowledged{"one", "two", "three", "four"};
  EXPECT_EQ(texts(log_of(0, rec.id)), acknowledged);
  EXPECT_EQ(texts(log_of(1, rec.id)), acknowledged);
  auto e3 = state_of(0, rec.id).epoch;
  EXPECT_GT(e3, e2);
  EXPECT_EQ(state_of(1, rec.id), (storage::room_log_state{e3, e3, false}));
}

TEST_F(ReplicatedLog, ANewOwnerWithAShorterLogCopiesTheMissingTail) {
  add_node();
  add_node();
  auto& n0 = *nodes_[0]->n;
  auto rec = room_record_of(n0, n0.make_room("Tail"));
  name_by_rank(rec.id, {0, 1});
  publish({0, 1});
  auto first = room_on(0, rec);
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(announce(0, first, "m" + std::to_string(i)), uint64_t(i));
  stop_room(first);
  // Node 1 is away for a while: the room (started again) acknowledges on node 0's copy.
  publish({0});
  auto alone = room_on(0, rec);
  for (int i = 4; i <= 5; ++i) ASSERT_EQ(announce(0, alone, "m" + std::to_string(i)), uint64_t(i));
  EXPECT_EQ(log_of(1, rec.id).size(), 3u);
  stop_room(alone);
  // Node 1 is back and ranks first (as after a drain of node 0): same data epoch, shorter
  // log, so it copies the missing tail 4..5 before it serves.
  book_->release(rec.id);
  std::swap(nodes_[0]->name, nodes_[1]->name);
  publish({0, 1});
  auto second = room_on(1, rec);
  ASSERT_EQ(announce(1, second, "m6"), 6u);
  std::vector<std::string> all{"m1", "m2", "m3", "m4", "m5", "m6"};
  EXPECT_EQ(texts(log_of(1, rec.id)), all);
  EXPECT_EQ(texts(log_of(0, rec.id)), all);
}

TEST_F(ReplicatedLog, AFollowerThatDiesIsReplacedByTheNextOneAfterAFullCopy) {
  add_node();
  add_node();
  add_node();
  auto& n0 = *nodes_[0]->n;
  auto rec = room_record_of(n0, n0.make_room("Three"));
  name_by_rank(rec.id, {0, 1, 2});
  publish({0, 1, 2});
  auto room = room_on(0, rec);
  ASSERT_EQ(announce(0, room, "a"), 1u);
  EXPECT_EQ(log_of(1, rec.id).size(), 1u);
  EXPECT_EQ(log_of(2, rec.id).size(), 0u);
  // The follower's replica dies (its node's down_msg); the room copies its log to node 2.
  caf::anon_send_exit(nodes_[1]->n->ctx->replica, caf::exit_reason::kill);
  ASSERT_EQ(announce(0, room, "b"), 2u);
  EXPECT_EQ(texts(log_of(2, rec.id)), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
