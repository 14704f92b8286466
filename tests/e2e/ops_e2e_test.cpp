// Operations surface of a running pchatd (issue 16 point 5), through HTTP and pchatctl only:
// /metrics moves as a signed-in SIP client posts (accepted and refused posts by reason,
// commit latency and group commits, sessions, rooms, the indexer, HTTP statuses, the
// process), `pchatctl status get` shows version, uptime, ports, data folder and counts, and
// /readyz turns 503 while the data disk is full and back to 200 once space is freed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/scrape.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tmpfs_mount.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::testing::eventually;
using pchat::testing::http;
using pchat::testing::scrape;
using pchat::testing::scrape_result;

namespace {

int post_status(chat_client& c, const std::string& room, const std::string& text) {
  auto r = c.wait_command(c.post(room, text), 15s);
  return r ? r->sip_status : 0;
}

}  // namespace

TEST(OpsE2E, MetricsMoveAsAClientPostsAndStatusShowsTheNode) {
  pchat::testing::temp_dir dir("ops");
  pchat::testing::server_process server(dir / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();

  auto live = http(server.http_port(), "GET", "/healthz");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  auto ready = http(server.http_port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(nlohmann::json::parse(ready.body, nullptr, false).value("ready", false), true) << ready.body;

  scrape_result before = scrape(server.http_port());
  ASSERT_EQ(before.status, 200) << before.error;
  ASSERT_TRUE(before.error.empty()) << before.error;
  EXPECT_EQ(before.value("pchat_build_info", {{"version", PCHAT_VERSION}}), 1);
  EXPECT_EQ(before.value("pchat_posts_total", {{"outcome", "accepted"}}), 0);
  EXPECT_EQ(before.value("pchat_sip_dialogs"), 0);
  EXPECT_EQ(before.value("pchat_store_writable"), 1);
  EXPECT_GT(before.value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(before.value("process_open_fds"), 3);
  EXPECT_GE(before.value("pchat_uptime_seconds"), 0);

  // An auditorium nobody presents in: a post there is refused by the room (forbidden).
  pchat::testing::ctl_ok(server, "room new --name Stage --category Demo --privacy open --type auditorium");
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  pchat::testing::chat_clients clients;
  chat_client& alice = clients.add(server.sip_port(), "alice@example.com");
  std::string room = pchat::testing::join_demo(alice);
  ASSERT_FALSE(room.empty()) << alice.failure_reason();
  constexpr int kPosts = 25;
  for (int i = 0; i < kPosts; ++i) ASSERT_EQ(post_status(alice, room, "metrics post " + std::to_string(i)), 200);
  auto stages = alice.search_rooms("Stage", 5s);
  ASSERT_TRUE(stages && !stages->empty());
  ASSERT_TRUE(alice.join_and_wait(stages->front().uri, 5s));
  EXPECT_EQ(post_status(alice, stages->front().uri, "not a presenter"), 200);  // refused inside XCCOS

  scrape_result after = scrape(server.http_port());
  ASSERT_TRUE(after.error.empty()) << after.error;
  EXPECT_EQ(after.value("pchat_posts_total", {{"outcome", "accepted"}}), kPosts);
  EXPECT_EQ(after.value("pchat_posts_total", {{"outcome", "forbidden"}}), 1);
  EXPECT_EQ(after.value("pchat_posts_total", {{"outcome", "storage_failure"}}), 0);
  // Every accepted post was written (ChatHistory on) and its commit latency observed.
  EXPECT_EQ(after.value("pchat_post_commit_seconds_count"), kPosts);
  EXPECT_EQ(after.value("pchat_post_commit_seconds_bucket", {{"le", "+Inf"}}), kPosts);
  EXPECT_GT(after.value("pchat_post_commit_seconds_sum"), 0);
  double batches = after.value("pchat_commit_batches_total");
  EXPECT_GE(batches, 1);
  EXPECT_EQ(after.value("pchat_commit_batch_entries_count"), batches);
  EXPECT_GE(after.value("pchat_commit_batch_entries_sum"), kPosts);
  EXPECT_EQ(after.value("pchat_commit_sync_seconds_count"), batches);
  EXPECT_GE(after.value("pchat_store_synced_writes_total"), before.value("pchat_store_synced_writes_total") + 1);
  EXPECT_EQ(after.value("pchat_sip_dialogs"), 1);
  EXPECT_GE(after.value("pchat_sip_connections"), 1);
  EXPECT_GE(after.value("pchat_sip_requests_received_total"), kPosts + 1);
  EXPECT_EQ(after.value("pchat_rooms_active"), 2);
  EXPECT_GE(after.value("pchat_index_queued_total"), kPosts);
  EXPECT_GT(after.value("pchat_http_responses_total", {{"code", "200"}}),
            before.value("pchat_http_responses_total", {{"code", "200"}}));
  EXPECT_TRUE(eventually([&] { return scrape(server.http_port()).value("pchat_index_backlog_messages") == 0; }, 10s));
  pchat::testing::expect_clean(alice);

  // The scrape is GET only; the rest of the admin API still wants its token.
  EXPECT_EQ(http(server.http_port(), "POST", "/metrics").status, 405);
  EXPECT_EQ(http(server.http_port(), "GET", "/api/v1/status").status, 401);

  auto st = pchat::testing::ctl_json(server, "status get");
  EXPECT_EQ(st.value("version", ""), PCHAT_VERSION) << st.dump();
  EXPECT_EQ(st.value("sip_port", 0), server.sip_port());
  EXPECT_EQ(st.value("sip_tls_port", 0), server.sip_tls_port());
  EXPECT_NE(server.sip_tls_port(), 0);
  EXPECT_EQ(st.value("http_port", 0), server.http_port());
  EXPECT_EQ(st.value("data_dir", ""), dir / "data");
  EXPECT_GE(st.value("uptime_seconds", -1), 0);
  EXPECT_FALSE(st.value("started", "").empty());
  EXPECT_EQ(st.value("posts_accepted", 0), kPosts);
  EXPECT_EQ(st.value("posts_refused", 0), 1);
  EXPECT_EQ(st.value("rooms_active", 0), 2);
  EXPECT_EQ(st.value("dialogs", 0), 1);
  EXPECT_EQ(st.value("store_writable", false), true);
  int rc = 0;
  std::string table = server.ctl("status get", &rc);
  EXPECT_EQ(rc, 0) << table;
  EXPECT_NE(table.find("version"), std::string::npos) << table;
  EXPECT_NE(table.find("uptime_seconds"), std::string::npos) << table;

  clients.clear();
  ASSERT_TRUE(server.stop());
}

TEST(OpsE2E, ReadyzTurns503WhileTheDiskIsFullAndBackOnceSpaceIsFreed) {
  pchat::testing::tmpfs_mount fs(24 << 20);
  if (!fs.mounted()) GTEST_SKIP() << "skipped: " << fs.reason();
  pchat::testing::server_process server(fs.path());
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_EQ(http(server.http_port(), "GET", "/readyz").status, 200);

  pchat::testing::chat_clients clients;
  chat_client& alice = clients.add(server.sip_port(), "alice@example.com");
  std::string room = pchat::testing::join_demo(alice);
  ASSERT_FALSE(room.empty()) << alice.failure_reason();
  ASSERT_GT(fs.fill(96 << 10), 0u);
  int refused = 0;
  for (int n = 0; n < 2000 && refused == 0; ++n) {
    int status = post_status(alice, room, "post-" + std::to_string(n) + " " + std::string(1500, 'x'));
    ASSERT_TRUE(status == 200 || status == 503) << "SIP " << status;
    if (status == 503) ++refused;
  }
  ASSERT_EQ(refused, 1) << "the disk never filled";

  auto ready = http(server.http_port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  auto body = nlohmann::json::parse(ready.body, nullptr, false);
  EXPECT_EQ(body.value("ready", true), false) << ready.body;
  EXPECT_EQ(body.value("reason", "").rfind("store: writes stopped", 0), 0u) << ready.body;
  EXPECT_NE(ready.body.find("No space left"), std::string::npos) << ready.body;
  EXPECT_EQ(body["checks"].value("sip", ""), "ok") << ready.body;
  EXPECT_EQ(http(server.http_port(), "GET", "/healthz").status, 200);  // alive all the same
  scrape_result full = scrape(server.http_port());
  ASSERT_TRUE(full.error.empty()) << full.error;
  EXPECT_EQ(full.value("pchat_store_writable"), 0);
  EXPECT_EQ(full.value("pchat_posts_total", {{"outcome", "storage_failure"}}), 1);
  EXPECT_GE(full.value("pchat_commit_failures_total"), 1);
  EXPECT_GE(full.value("pchat_store_write_stops_total"), 1);
  EXPECT_GE(full.value("pchat_store_failed_writes_total"), 1);
  EXPECT_GE(full.value("pchat_sip_responses_503_total"), 1);

  // Space back: ready again by itself (the store resumes writes without a post or restart).
  fs.release();
  EXPECT_TRUE(eventually([&] { return http(server.http_port(), "GET", "/readyz").status == 200; }, 20s));
  scrape_result back = scrape(server.http_port());
  EXPECT_EQ(back.value("pchat_store_writable"), 1);
  EXPECT_GE(back.value("pchat_store_resumes_total"), 1);
  EXPECT_EQ(post_status(alice, room, "after the disk was freed"), 200);

  clients.clear();
  ASSERT_TRUE(server.stop());
  std::filesystem::remove(fs.path() + ".out");
  std::filesystem::remove(fs.path() + ".err");
}
