// Post ids (docs/POOL.md "post ids"): a post sent again with the same id (a session
// re-sending after its room was lost) is stored once and acknowledged every time, also by a
// room actor started later (idle retire, node restart), which loads the ids of its newest
// kPostIdWindow messages from the log.
#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "actors/messages.h"
#include "actors/room_actor.h"
#include "pool/pool_settings.h"
#include "storage/database.h"
#include "actors/pool_view.h"
#include "tests/support/actor_node.h"
#include "tests/support/claim_book.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xccos_commands.h"

using namespace pchat;
using namespace std::chrono_literals;

namespace {

using pchat::testing::temp_dir;
using node = pchat::testing::actor_node;

constexpr sip::dialog_id kDialog = 7;
const std::string kUser = "sip:alice@example.com";

// Stands in for a session: looks the room up, joins it as `self` on dialog kDialog and
// hands it posts with chosen post ids, as a session re-sending after a failover does.
struct poster {
  poster(node& n, const std::string& uri) : n(n), self(*n.sys), uri(uri) {}

  bool join() {
    room = {};
    self->request(n.ctx->directory, 5s, actors::lookup_atom::value, uri, kUser)
        .receive([&](caf::actor& r) { room = r; }, [&](caf::error&) {});
    if (!room) return false;
    bool joined = false;
    self->request(room, 5s, actors::join_atom::value, kUser, kDialog, caf::actor{self})
        .receive([&](actors::join_result&) { joined = true; }, [&](caf::error&) {});
    if (joined) self->send(room, actors::ready_atom::value, caf::actor{self});
    return joined;
  }

  // Hands the post over as INFO `txn`; its SIP final response (0: none within 10 s).
  int post(uint64_t txn, const std::string& text, storage::post_id pid) {
    bool taken = false;
    self->request(room, 5s, actors::post_atom::value, kUser, text, std::string(), pid,
                  actors::info_ticket{txn, kDialog, "1", "1"})
        .receive([&](caf::ok_atom) { taken = true; }, [&](caf::error&) {});
    if (!taken) return 0;
    return n.edge.wait_response(txn) ? n.edge.response(txn) : 0;
  }

  node& n;
  caf::scoped_actor self;
  std::string uri;
  caf::actor room;
};

std::vector<storage::message_record> stored(node& n, const std::string& uri) {
  std::vector<storage::message_record> ms;
  std::string id = uri.substr(uri.rfind('/') + 1);
  EXPECT_TRUE(n.store->messages().read_latest(id, 100, &ms).is_ok());
  return ms;
}

size_t chat_events(node& n) {
  std::vector<storage::compliance_record> evs;
  EXPECT_TRUE(n.store->compliance().read(1, 1000, &evs).is_ok());
  size_t k = 0;
  for (auto& e : evs) k += e.kind == storage::compliance_kind::chat;
  return k;
}

std::atomic<uint64_t> next_txn{50000};

}  // namespace

TEST(PostIds, ThePostSentTwiceIsStoredOnceFannedOutOnceAndAcknowledgedTwice) {
  temp_dir dir("postids");
  node n(dir.path(), /*compliance_enabled=*/true);
  std::string uri = n.make_room("Twice");
  poster p(n, uri);
  ASSERT_TRUE(p.join());
  const storage::post_id pid{0xfeedULL, 1};
  uint64_t t1 = next_txn++, t2 = next_txn++;
  EXPECT_EQ(p.post(t1, "only once", pid), 200);
  EXPECT_EQ(p.post(t2, "only once", pid), 200);
  // Another post id with the same text is another post.
  uint64_t t3 = next_txn++;
  EXPECT_EQ(p.post(t3, "only once", {0xfeedULL, 2}), 200);
  auto ms = stored(n, uri);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].pid, pid);
  EXPECT_EQ(ms[0].seq, 1u);
  EXPECT_EQ(ms[1].seq, 2u);
  EXPECT_TRUE(n.edge.wait_count(kDialog, ">only once<", 2));
  EXPECT_EQ(n.edge.count(kDialog, ">only once<"), 2u) << "the repeat was fanned out again";
  EXPECT_EQ(chat_events(n), 2u) << "the repeat made a second compliance event";
}

TEST(PostIds, ARoomStartedAgainAfterItRetiredStillKnowsThePostIds) {
  temp_dir dir("postids");
  node n(dir.path(), false, [](actors::node_parts& parts) { parts.settings.room_idle_seconds = 1; });
  std::string uri = n.make_room("Napper");
  const storage::post_id first{0xabcULL, 1};
  caf::actor before;
  {
    poster p(n, uri);
    ASSERT_TRUE(p.join());
    ASSERT_EQ(p.post(next_txn++, "before the nap", first), 200);
    // More posts than the back-chat cache, fewer than the window: the id still comes from
    // the log, not from the cache.
    for (uint64_t i = 2; i <= 40; ++i) ASSERT_EQ(p.post(next_txn++, "filler", {0xabcULL, i}), 200);
    before = p.room;
  }  // the poster leaves: the room retires after room_idle_seconds
  caf::scoped_actor self{*n.sys};
  self->monitor(before);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  ASSERT_TRUE(down) << "idle room actor never retired";
  poster p(n, uri);
  ASSERT_TRUE(p.join());
  EXPECT_NE(p.room.address(), before.address());
  EXPECT_EQ(p.post(next_txn++, "before the nap", first), 200);
  EXPECT_EQ(stored(n, uri).size(), 40u);
}

TEST(PostIds, ANodeRestartedOnItsStoreStillKnowsThePostIds) {
  temp_dir dir("postids");
  const storage::post_id pid{0x5eedULL, 9};
  std::string uri;
  {
    node n(dir.path());
    uri = n.make_room("Restart");
    poster p(n, uri);
    ASSERT_TRUE(p.join());
    ASSERT_EQ(p.post(next_txn++, "survives a restart", pid), 200);
  }
  node n(dir.path());
  poster p(n, uri);
  ASSERT_TRUE(p.join());
  uint64_t t = next_txn++;
  EXPECT_EQ(p.post(t, "survives a restart", pid), 200);
  EXPECT_EQ(p.post(next_txn++, "a new one", {0x5eedULL, 10}), 200);
  auto ms = stored(n, uri);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].text, "survives a restart");
  EXPECT_EQ(ms[1].text, "a new one");
  // The repeat was not fanned out (only the new post was).
  EXPECT_TRUE(n.edge.wait_count(kDialog, ">a new one<", 1));
  EXPECT_EQ(n.edge.count(kDialog, ">survives a restart<"), 0u);
}

// Every session post gets an id of its node: stored, distinct, same origin.
TEST(PostIds, SessionPostsCarryTheirNodesIds) {
  temp_dir dir("postids");
  node n(dir.path());
  std::string uri = n.make_room("Ids");
  auto s = n.session(3, "sip:bob@example.com");
  ASSERT_TRUE(n.join(s, 3, uri));
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(n.cmd(s, pchat::testing::post_cmd(uri, "p" + std::to_string(i))), 200);
  auto ms = stored(n, uri);
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_FALSE(ms[0].pid.empty());
  EXPECT_EQ(ms[0].pid.origin, ms[2].pid.origin);
  EXPECT_NE(ms[0].pid.counter, ms[1].pid.counter);
  EXPECT_NE(ms[1].pid.counter, ms[2].pid.counter);
}

// In a pool the session keeps a post until its room answered it (to send it again if the
// room is lost): the room completes the post request only then, after the 200, also for a
// post it recognised.
TEST(PostIds, InAPoolThePostRequestCompletesOnlyOnceTheInfoIsAnswered) {
  temp_dir dir("postids");
  node n(dir.path(), false, [](actors::node_parts& parts) {
    pool::pool_settings ps;
    ps.node_name = "a";
    parts.pool = ps;
  });
  ASSERT_TRUE(n.ctx->pool);
  // A pool of one serving node that holds its room claims (etcd's stand-in).
  auto claims = n.sys->spawn(pchat::testing::claim_double, std::make_shared<pchat::testing::claim_book>(),
                             std::string("a"));
  struct stop_at_end {
    caf::actor a;
    ~stop_at_end() { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); }
  } stop_claims{claims};
  auto view = std::make_shared<actors::pool_view>();
  view->self = "a";
  view->serving = true;
  actors::node_entry me;
  me.name = "a";
  me.pool = claims;
  me.replica = n.ctx->replica;
  view->live.push_back(me);
  n.ctx->pool->publish(view);
  std::string uri = n.make_room("Pooled");
  poster p(n, uri);
  ASSERT_TRUE(p.join());
  for (int round = 0; round < 2; ++round) {  // the second time: recognised, answered again
    uint64_t txn = next_txn++;
    bool completed = false;
    p.self->request(p.room, 5s, actors::post_atom::value, kUser, std::string("held"), std::string(),
                    storage::post_id{0x900dULL, 1}, actors::info_ticket{txn, kDialog, "1", "1"})
        .receive([&](caf::ok_atom) { completed = true; }, [&](caf::error&) {});
    ASSERT_TRUE(completed) << "round " << round;
    EXPECT_EQ(n.edge.response(txn), 200) << "completed before the INFO was answered, round " << round;
  }
  EXPECT_EQ(stored(n, uri).size(), 1u);
  EXPECT_EQ(n.edge.count(kDialog, "<resp code"), 0u) << "a post was refused";
}
