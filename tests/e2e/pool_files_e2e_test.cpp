// Uploaded files across the pool end to end (docs/POOL.md "Uploaded files in a pool"): a
// loopback etcd and three pchatd processes. An upload through a node that is neither the
// room's owner nor its follower is on both of them, synced, when it is answered 201, so
// the room's files survive the owner's kill -9 and the uploading node's; a node that has
// not got a file copies it from one that has when it is asked for it. What is checked is
// what an HTTP client sees: the status and the bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "pool/placement.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using pchat::testing::eventually;
using pchat::testing::http;
using pchat::testing::pool_cluster;

namespace {

class PoolFilesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool_.start()) << pool_.error();
    pchat::testing::ctl_ok(pool_.node(0), "category new --name Desk --allowed-members domain:example.com");
    for (size_t i = 1; i < pool_.size(); ++i)
      ASSERT_TRUE(eventually([&] { return pool_.admin_get(i, "/api/v1/categories/Desk").first == 200; }, 2s)) << i;
    ASSERT_TRUE(pool_.ensure_user("alice@example.com")) << pool_.error();
  }

  // The id of a room made through node 0 whose owner and follower are `owner`, `follower`.
  std::string room_placed(size_t owner, size_t follower) {
    for (int k = 0; k < 64; ++k) {
      std::string name = "desk" + std::to_string(k);
      pchat::testing::ctl_ok(pool_.node(0), "room new --name " + name + " --category Desk --privacy open");
      std::string uri = pool_.room_uri(0, name);
      if (uri.empty()) continue;
      std::string id = uri.substr(uri.rfind('/') + 1);
      auto r = pchat::pool::rank(id, {"n1", "n2", "n3"});
      if (r[0] != pool_cluster::name(owner) || r[1] != pool_cluster::name(follower)) continue;
      for (size_t i = 0; i < pool_.size(); ++i)
        if (!eventually([&] { return !pool_.room_uri(i, name).empty(); }, 2s)) return "";
      return id;
    }
    return "";
  }
  pchat::testing::http_reply get(size_t node, const std::string& target) {
    return http(pool_.node(node).http_port(), "GET", target, {"X-PChat-User: sip:alice@example.com"});
  }

  pchat::testing::temp_dir dir_{"pool-files-e2e"};
  pool_cluster pool_{dir_.path(), 3, {"--demo-content=false", "--auth=none"}, "files"};
};

std::string random_bytes(size_t n) {
  std::mt19937 gen(12);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xFF);
  return out;
}

}  // namespace

// Upload through n1 into a room n2 owns and n3 follows (700 KiB: three chunks over BASP);
// n2 is killed (-9), then n1: n3 serves the same bytes from its own copy.
TEST_F(PoolFilesE2E, AnUploadIsOnTheOwnerAndFollowerBeforeIts201AndSurvivesTheirNeighboursKill) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  const std::string bytes = random_bytes(700 * 1024);
  auto up = http(pool_.node(0).http_port(), "POST", "/files/v1/rooms/" + room + "?name=plan.bin",
                 {"X-PChat-User: sip:alice@example.com"}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  ASSERT_FALSE(id.empty());
  const std::string target = "/files/v1/rooms/" + room + "/" + id;
  pool_.kill(1);
  pool_.kill(0);
  auto down = get(2, target);
  ASSERT_EQ(down.status, 200) << down.body.substr(0, 200);
  EXPECT_TRUE(down.body == bytes) << "n3 served " << down.body.size() << " bytes of " << bytes.size();
}

// Upload through n1 into a room n2 owns and n1 follows; n3 (neither) is asked for the file
// after n2's kill -9: it copies it from n1 and serves the same bytes.
TEST_F(PoolFilesE2E, ANodeWithoutTheFileCopiesItFromOneThatHasIt) {
  std::string room = room_placed(1, 0);
  ASSERT_FALSE(room.empty());
  const std::string bytes = random_bytes(300 * 1024 + 7);
  auto up = http(pool_.node(0).http_port(), "POST", "/files/v1/rooms/" + room + "?name=notes.txt",
                 {"X-PChat-User: sip:alice@example.com"}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  const std::string target = "/files/v1/rooms/" + room + "/" + id;
  pool_.kill(1);
  auto down = get(2, target);
  ASSERT_EQ(down.status, 200) << down.body.substr(0, 200);
  EXPECT_TRUE(down.body == bytes) << "n3 served " << down.body.size() << " bytes of " << bytes.size();
  EXPECT_EQ(get(2, "/files/v1/rooms/" + room + "/999").status, 404);
}
