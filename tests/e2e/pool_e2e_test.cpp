// The pool's membership end to end (docs/POOL.md "Membership", "Fast death"): three pchatd
// processes and a loopback etcd (tests/support/pool_cluster.h), seen through the admin API
// (GET /api/v1/pool) and `pchatctl pool status` only.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using pchat::testing::pool_cluster;

namespace {

using names = std::vector<std::string>;
using clock_type = std::chrono::steady_clock;

long ms_since(clock_type::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count());
}

// Waits until each of `watchers` shows exactly `expected` live; the longest wait in ms (or
// -1 when one did not within `deadline`).
long until_all_see(pool_cluster& pool, std::vector<size_t> watchers, const names& expected,
                   clock_type::time_point since, std::chrono::milliseconds deadline) {
  long longest = 0;
  for (size_t w : watchers) {
    if (!pool.wait_view(w, expected, deadline)) return -1;
    longest = std::max(longest, ms_since(since));
  }
  return longest;
}

}  // namespace

TEST(PoolE2E, ThreeNodesSeeEachOtherAndDropAKilledOrPausedNodeQuickly) {
  pchat::testing::temp_dir dir("pool-e2e");
  pool_cluster pool(dir.path(), 3);
  ASSERT_TRUE(pool.start()) << pool.error();

  // What an operator sees: every node, live, with its ports, and which one answered.
  auto status = pchat::testing::ctl_json(pool.node(0), "pool status");
  ASSERT_TRUE(status.is_object()) << status.dump();
  EXPECT_EQ(status.value("mode", ""), "pool");
  EXPECT_EQ(status.value("self", ""), "n1");
  EXPECT_EQ(status.value("serving", false), true);
  EXPECT_GT(status.value("view_version", 0), 0);
  ASSERT_EQ(status["nodes"].size(), 3u) << status.dump();
  for (size_t i = 0; i < 3; ++i) {
    auto& n = status["nodes"][i];
    EXPECT_EQ(n.value("name", ""), pool_cluster::name(i));
    EXPECT_TRUE(n.value("live", false)) << n.dump();
    EXPECT_EQ(n.value("self", true), i == 0) << n.dump();
    EXPECT_EQ(n.value("host", ""), "127.0.0.1");
    EXPECT_EQ(n.value("pool_port", 0), pool.node(i).pool_port()) << n.dump();
    EXPECT_EQ(n.value("sip_port", 0), pool.node(i).sip_port()) << n.dump();
    EXPECT_EQ(n.value("http_port", 0), pool.node(i).http_port()) << n.dump();
    EXPECT_FALSE(n.value("draining", true));
  }
  int rc = -1;
  std::string table = pool.node(1).ctl("pool status", &rc);
  EXPECT_EQ(rc, 0) << table;
  EXPECT_NE(table.find("pool pchat, this node n2 (serving)"), std::string::npos) << table;
  for (const char* line : {"n1", "n2", "n3"})
    EXPECT_NE(table.find(std::string(line) + "    live"), std::string::npos) << table;

  // kill -9 n3: its BASP links drop at once; n1 and n2 drop it (and revoke its lease).
  auto killed = clock_type::now();
  pool.kill(2);
  long kill_ms = until_all_see(pool, {0, 1}, {"n1", "n2"}, killed, 5s);
  ASSERT_GE(kill_ms, 0) << pool.pool_status(0).dump();
  std::printf("pool e2e: kill -9 of n3 dropped by n1 and n2 after %ld ms\n", kill_ms);
  EXPECT_LT(kill_ms, 1000) << "a killed node is out of the others' views within 1 s";
  table = pool.node(0).ctl("pool status", &rc);
  EXPECT_EQ(table.find("n3"), std::string::npos) << "its registry entry went with its lease:\n" << table;

  // It comes back (same name and data): every node sees three again.
  auto restarted = clock_type::now();
  ASSERT_TRUE(pool.restart(2)) << pool.error();
  long back_ms = until_all_see(pool, {0, 1, 2}, {"n1", "n2", "n3"}, restarted, 10s);
  ASSERT_GE(back_ms, 0) << pool.pool_status(0).dump() << pool.pool_status(2).dump();
  std::printf("pool e2e: n3 restarted and seen by all after %ld ms (start included)\n", back_ms);

  // SIGSTOP n2: BASP heartbeats (200 ms, connection timeout 1 s) find it.
  auto paused = clock_type::now();
  pool.pause(1);
  long pause_ms = until_all_see(pool, {0, 2}, {"n1", "n3"}, paused, 5s);
  ASSERT_GE(pause_ms, 0) << pool.pool_status(0).dump();
  std::printf("pool e2e: SIGSTOP of n2 dropped by n1 and n3 after %ld ms\n", pause_ms);
  EXPECT_LT(pause_ms, 2000) << "a paused node is out of the others' views within ~1.5 s";

  // Resumed, it finds its lease revoked, joins again with a new one, and is back.
  auto resumed = clock_type::now();
  pool.resume(1);
  long resume_ms = until_all_see(pool, {0, 1, 2}, {"n1", "n2", "n3"}, resumed, 10s);
  ASSERT_GE(resume_ms, 0) << pool.pool_status(1).dump() << pool.node(1).stderr_text();
  std::printf("pool e2e: n2 resumed and seen by all after %ld ms\n", resume_ms);
}

TEST(PoolE2E, AStandaloneNodeSaysSo) {
  pchat::testing::temp_dir dir("pool-e2e-standalone");
  pchat::testing::server_process server(dir.path() + "/data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_EQ(server.pool_port(), 0);
  auto status = pchat::testing::ctl_json(server, "pool status");
  EXPECT_EQ(status.value("mode", ""), "standalone") << status.dump();
  int rc = -1;
  std::string text = server.ctl("pool status", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(text.find("standalone node (not in a pool)"), std::string::npos) << text;
}
