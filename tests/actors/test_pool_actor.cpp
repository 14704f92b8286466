// The membership actor (actors/pool_actor.h) in-process: nodes in separate actor systems of
// this process, linked over loopback BASP, against a real local etcd.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "actors/messages.h"
#include "actors/pool_view.h"
#include "pool/node_tag.h"
#include "tests/support/actor_node.h"
#include "tests/support/etcd_server.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace pchat::testing {
namespace {

using namespace std::chrono_literals;

class PoolActor : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd.start()) << etcd.log_text(); }

  // A node called `name` in the pool, not yet joined; its store in a folder of its own.
  std::unique_ptr<actor_node> node(const std::string& name,
                                   std::function<void(actors::pool_actor_config&)> adjust = {}) {
    return std::make_unique<actor_node>(dir.path() + "/" + name + "-" + std::to_string(++nodes), false,
                                        [&](actors::node_parts& p) {
      pool::pool_settings s;
      s.node_name = name;
      s.etcd = etcd.endpoint();
      s.pool_name = "test";
      p.pool = s;
      p.adjust_pool = adjust;
    });
  }
  static std::shared_ptr<const actors::pool_view> view(actor_node& n) { return n.ctx->pool->current(); }
  static size_t live(actor_node& n) { return view(n)->live.size(); }

  // (pclaim, room) -> epoch, or 0 and *why (the errc and reason).
  static uint64_t claim(actor_node& n, const std::string& room, std::string* why = nullptr) {
    caf::scoped_actor self{*n.sys};
    uint64_t epoch = 0;
    self->request(n.ctx->pool_actor, 10s, actors::claim_atom::value, room)
        .receive([&](uint64_t e) { epoch = e; },
                 [&](caf::error& e) {
                   actors::errc code{};
                   std::string reason;
                   if (why && actors::decode_error(e, &code, &reason))
                     *why = std::to_string(static_cast<int>(code)) + ":" + reason;
                 });
    return epoch;
  }
  // (powner, room) -> "node@epoch", "" when unclaimed, "error" when not answered.
  static std::string owner(actor_node& n, const std::string& room) {
    caf::scoped_actor self{*n.sys};
    std::string out = "error";
    self->request(n.ctx->pool_actor, 10s, actors::owner_atom::value, room)
        .receive([&](std::string& node, uint64_t epoch) { out = node.empty() ? "" : node + "@" + std::to_string(epoch); },
                 [&](caf::error&) {});
    return out;
  }
  static bool release(actor_node& n, const std::string& room, uint64_t epoch) {
    caf::scoped_actor self{*n.sys};
    bool ok = false;
    self->request(n.ctx->pool_actor, 10s, actors::release_atom::value, room, epoch)
        .receive([&](caf::ok_atom) { ok = true; }, [&](caf::error&) {});
    return ok;
  }

  int nodes = 0;
  temp_dir dir;
  etcd_server etcd{dir.path() + "/etcd"};
};

TEST_F(PoolActor, NodesSeeEachOtherAndALeavingNodeIsDroppedAtOnce) {
  auto a = node("a"), b = node("b");
  EXPECT_FALSE(view(*a)->serving) << "no lease before start_pool";
  EXPECT_TRUE(view(*a)->rank("r1").empty());
  ASSERT_EQ(a->server->start_pool(5061, 8081), "");
  ASSERT_EQ(b->server->start_pool(5062, 8082), "");
  EXPECT_NE(a->server->pool_port(), 0);
  ASSERT_TRUE(eventually([&] { return live(*a) == 2 && live(*b) == 2; }, 5s));
  auto v = view(*a);
  EXPECT_TRUE(v->serving);
  auto* peer = v->find("b");
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->sip_port, 5062);
  EXPECT_EQ(peer->http_port, 8082);
  EXPECT_EQ(peer->pool_port, b->server->pool_port());
  EXPECT_EQ(peer->tag, pool::node_tag("b"));
  EXPECT_TRUE(peer->directory) << "a peer's directory handle comes with its hello";
  EXPECT_EQ(v->rank("r1").size(), 2u);
  EXPECT_EQ(view(*b)->rank("r1"), v->rank("r1")) << "both nodes rank alike";

  // b holds a room; b stops (leaves: its lease revoked): a drops it at once and can claim
  // b's room now, not after the lease's TTL.
  uint64_t epoch_b = claim(*b, "room-of-b");
  ASSERT_GT(epoch_b, 0u);
  auto stopped = std::chrono::steady_clock::now();
  b.reset();
  ASSERT_TRUE(eventually([&] { return live(*a) == 1; }, 1s));
  std::string why;
  ASSERT_TRUE(eventually([&] { return claim(*a, "room-of-b", &why) > epoch_b; }, 1s)) << why;
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2s);
}

TEST_F(PoolActor, RoomClaimsAreEpochsAndOnlyOneNodeHoldsARoom) {
  auto a = node("a"), b = node("b");
  ASSERT_EQ(a->server->start_pool(0, 0), "");
  ASSERT_EQ(b->server->start_pool(0, 0), "");
  std::string why;
  uint64_t e1 = claim(*a, "r1", &why);
  ASSERT_GT(e1, 0u) << why;
  EXPECT_EQ(claim(*a, "r1"), e1) << "held already: the same epoch";
  EXPECT_EQ(owner(*b, "r1"), "a@" + std::to_string(e1)) << "any node asks who holds a room";
  EXPECT_EQ(owner(*b, "never-claimed"), "");
  EXPECT_EQ(claim(*b, "r1", &why), 0u);
  EXPECT_EQ(why, std::to_string(static_cast<int>(actors::errc::forbidden)) + ":a") << "names the holder";
  EXPECT_TRUE(release(*a, "r1", e1));
  uint64_t e2 = claim(*b, "r1", &why);
  EXPECT_GT(e2, e1) << why << ": a new claim is a higher epoch";
  EXPECT_EQ(owner(*a, "r1"), "b@" + std::to_string(e2));
  EXPECT_EQ(claim(*a, "r1", &why), 0u);
  EXPECT_EQ(why, std::to_string(static_cast<int>(actors::errc::forbidden)) + ":b");
  EXPECT_TRUE(release(*a, "r1", e1)) << "releasing an old epoch is harmless";
  EXPECT_EQ(claim(*b, "r1"), e2) << "and does not take the newer claim";
}

TEST_F(PoolActor, ANameOrTagInUseByALiveNodeIsRefused) {
  auto a = node("a");
  ASSERT_EQ(a->server->start_pool(0, 0), "");
  auto twin = node("a", [](actors::pool_actor_config& c) { c.stale_wait = 300ms; });
  std::string err = twin->server->start_pool(0, 0);
  EXPECT_NE(err.find("node name a is used by a node at 127.0.0.1:" + std::to_string(a->server->pool_port())),
            std::string::npos)
      << err;
  EXPECT_TRUE(view(*a)->serving) << "the refused twin did not disturb the live node";
}

TEST_F(PoolActor, ANodeThatCannotRenewItsLeaseStopsServingAndResumes) {
  auto a = node("a");
  ASSERT_EQ(a->server->start_pool(0, 0), "");
  ASSERT_TRUE(view(*a)->serving);
  etcd.pause();
  auto paused = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return !view(*a)->serving; }, 3s));
  // Within the serve grace (1.5 s) plus a keep-alive interval and a tick.
  EXPECT_LT(std::chrono::steady_clock::now() - paused, 2500ms);
  EXPECT_TRUE(view(*a)->rank("r1").empty()) << "a node without a fresh lease owns nothing";
  std::string why;
  EXPECT_EQ(claim(*a, "r1", &why), 0u);
  EXPECT_EQ(why.substr(0, 2), std::to_string(static_cast<int>(actors::errc::busy)) + ":");
  etcd.resume();
  ASSERT_TRUE(eventually([&] { return view(*a)->serving; }, 5s));
  EXPECT_GT(claim(*a, "r1", &why), 0u) << why;
}

}  // namespace
}  // namespace pchat::testing
