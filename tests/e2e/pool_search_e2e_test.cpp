// History search across the pool end to end (docs/POOL.md "Search across the pool"): a
// loopback etcd and three pchatd processes. A node's index holds only the rooms whose log it
// keeps (owner and follower), so each node here lacks one of the three rooms: the admin
// search of every node must still find every post, and go on finding them all when a node is
// killed (each room is on two nodes).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "pool/placement.h"
#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::testing::eventually;
using pchat::testing::pool_cluster;

namespace {

class PoolSearchE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool_.start()) << pool_.error();
    pchat::testing::ctl_ok(pool_.node(0), "category new --name Desk --allowed-members domain:example.com");
    for (size_t i = 1; i < pool_.size(); ++i)
      ASSERT_TRUE(eventually([&] { return get(i, "/api/v1/categories/Desk").first == 200; }, 2s)) << i;
  }
  void TearDown() override { clients_.clear(); }

  std::pair<int, nlohmann::json> get(size_t i, const std::string& target) {
    return pool_.admin_get(i, target);
  }
  std::string uri_on(size_t i, const std::string& name) {
    return pool_.room_uri(i, name);
  }
  // A room made through node 0 whose log (owner and follower, pool/placement.h) is not on
  // node `k`, as every node lists it; its URI.
  std::string room_not_on(size_t k) {
    for (int n = 0; n < 64; ++n) {
      std::string name = "desk" + std::to_string(k) + "-" + std::to_string(n);
      pchat::testing::ctl_ok(pool_.node(0), "room new --name " + name + " --category Desk --privacy open");
      std::string uri = uri_on(0, name);
      if (uri.empty()) return "";
      auto rank = pchat::pool::rank(uri.substr(uri.rfind('/') + 1), {"n1", "n2", "n3"});
      if (rank[0] == pool_cluster::name(k) || rank[1] == pool_cluster::name(k)) continue;
      for (size_t i = 0; i < pool_.size(); ++i)
        if (!eventually([&] { return !uri_on(i, name).empty(); }, 2s)) return "";
      return uri;
    }
    return "";
  }
  // The texts node i's admin search finds for `q`, and the nodes it says did not answer.
  std::set<std::string> found(size_t i, const std::string& q, std::vector<std::string>* unanswered = nullptr) {
    auto [status, j] = get(i, "/api/v1/search?q=" + q + "&limit=100");
    std::set<std::string> texts;
    if (status != 200 || !j.is_object()) return texts;
    for (auto& r : j["results"]) texts.insert(r.value("text", ""));
    if (unanswered) *unanswered = j.value("unanswered_nodes", std::vector<std::string>{"<missing>"});
    return texts;
  }

  pchat::testing::temp_dir dir_{"pool-search-e2e"};
  pool_cluster pool_{dir_.path(), 3, {"--demo-content=false"}, "search"};
  pchat::testing::chat_clients clients_;
};

}  // namespace

TEST_F(PoolSearchE2E, EveryNodeFindsPostsOfRoomsItDoesNotHoldEvenWithANodeGone) {
  // Known on every node before ann posts in rooms other nodes own.
  ASSERT_TRUE(pool_.ensure_user("ann@example.com")) << pool_.error();
  auto& ann = clients_.add(pool_.node(0).sip_port(), "ann@example.com");
  ASSERT_TRUE(ann.sign_in(10s)) << ann.failure_reason();
  std::set<std::string> posted;
  for (size_t k = 0; k < 3; ++k) {
    std::string room = room_not_on(k);
    ASSERT_FALSE(room.empty()) << "no room kept away from " << pool_cluster::name(k);
    auto joined = ann.join_and_wait(room, 10s);
    ASSERT_TRUE(joined && joined->ok()) << pool_cluster::name(k);
    std::string text = "needle away from " + pool_cluster::name(k);
    ASSERT_TRUE(ann.post_and_wait_ack(room, text, 10s)) << text;
    posted.insert(text);
  }
  for (size_t i = 0; i < 3; ++i) {
    std::vector<std::string> unanswered;
    EXPECT_EQ(found(i, "needle", &unanswered), posted) << "search on " << pool_cluster::name(i);
    EXPECT_TRUE(unanswered.empty()) << pool_cluster::name(i) << ": " << unanswered.size() << " did not answer";
  }
  // n2 killed: each of its rooms has its other copy, so n1 and n3 still find every post.
  pool_.kill(1);
  for (size_t i : {size_t{0}, size_t{2}})
    EXPECT_TRUE(eventually([&] { return found(i, "needle") == posted; }, 5s))
        << "search on " << pool_cluster::name(i) << " after n2 was killed found " << found(i, "needle").size();
}
