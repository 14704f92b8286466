// Stop promptly, index in the background (issue 16 point 7), against real pchatd processes:
// with a large indexing backlog (posts the indexer has not reached, or a store full of
// history an empty index has never seen) SIGTERM ends pchatd within 5 s, the backlog shows
// in /metrics and `pchatctl status get`, and after a restart the index catches up in the
// background until search finds every message.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/database.h"
#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/scrape.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::testing::eventually;
using pchat::testing::scrape;

namespace {

constexpr auto kStopBound = 5s;  // what the issue asks

// Hits of an admin search for `word` over every room (pchatctl), or -1 while search cannot
// answer (the index is catching up: 503) or more than the limit match.
int hits(const pchat::testing::server_process& server, const std::string& word) {
  auto j = pchat::testing::ctl_json_or_null(server, "search --query " + word + " --limit 1000");
  if (!j.is_object() || !j["results"].is_array() || j.value("truncated", false)) return -1;
  return static_cast<int>(j["results"].size());
}

// SIGTERM; the time until pchatd has exited (cleanly: stop() is false otherwise).
std::chrono::milliseconds timed_stop(pchat::testing::server_process& server, bool* clean) {
  auto t0 = std::chrono::steady_clock::now();
  *clean = server.stop(30s);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0);
}

}  // namespace

TEST(IndexBacklogE2E, StopsPromptlyWithAPostBacklogAndSearchFindsEveryPostAfterRestart) {
  pchat::testing::temp_dir dir("ixbacklog");
  constexpr int kPosts = 800;  // 400 per word: under the search limit of 1000
  {
    // The indexer pauses a minute after each step of 500 (the first one comes with the first
    // post): the burst waits in the store, whatever the speed of this box.
    pchat::testing::server_process slow(dir / "data", {"--index-test-step-delay-ms=60000"});
    ASSERT_TRUE(slow.start()) << slow.stderr_text();
    pchat::testing::chat_clients clients;
    chat_client& alice = clients.add(slow.sip_port(), "alice@example.com");
    std::string room = pchat::testing::join_demo(alice);
    ASSERT_FALSE(room.empty()) << alice.failure_reason();
    // Pipelined in windows of 32 (the per-user in-flight limit is 64); every post is
    // acknowledged (durable) before the stop.
    for (int i = 0; i < kPosts;) {
      std::vector<uint64_t> ids;
      for (int k = 0; k < 32 && i < kPosts; ++k, ++i)
        ids.push_back(alice.post(room, std::string(i % 2 ? "oddpost" : "evenpost") +
                                           " burst message " + std::to_string(i)));
      for (auto id : ids) {
        auto r = alice.wait_command(id, 15s);
        ASSERT_TRUE(r && r->sip_status == 200) << "post " << i << ": " << alice.failure_reason();
      }
    }
    auto m = scrape(slow.http_port());
    ASSERT_TRUE(m.error.empty()) << m.error;
    EXPECT_GE(m.value("pchat_index_queued_total"), kPosts);
    EXPECT_GE(m.value("pchat_index_backlog_messages"), 500) << "the indexer was not behind";
    EXPECT_GT(m.value("pchat_index_lag_seconds"), 0);
    auto st = pchat::testing::ctl_json(slow, "status get");
    EXPECT_GE(st.value("index_backlog", 0), 500) << st.dump();
    EXPECT_GT(st.value("index_lag_seconds", 0.0), 0.0) << st.dump();

    bool clean = false;
    auto took = timed_stop(slow, &clean);
    EXPECT_TRUE(clean) << slow.exit_text() << "\n" << slow.stderr_text();
    EXPECT_LT(took, kStopBound) << "SIGTERM took " << took.count() << " ms with a backlog";
  }

  pchat::testing::server_process server(dir / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_TRUE(eventually([&] { return hits(server, "evenpost") == kPosts / 2; }, 30s))
      << "even posts found: " << hits(server, "evenpost");
  EXPECT_TRUE(eventually([&] { return hits(server, "oddpost") == kPosts / 2; }, 30s))
      << "odd posts found: " << hits(server, "oddpost");
  EXPECT_TRUE(eventually(
      [&] { return scrape(server.http_port()).value("pchat_index_backlog_messages") == 0; }, 10s));
  EXPECT_EQ(pchat::testing::ctl_json(server, "status get").value("index_backlog", -1), 0);
  EXPECT_TRUE(server.stop());
}

namespace {

constexpr uint64_t kStored = 40000;
constexpr uint64_t kGroups = 50;  // 800 messages per group word

// Adds "History Room" with kStored messages to the stopped server's store, written there
// directly (as an upgrade from a node without an index, or a deleted index, finds them).
std::string make_history(const std::string& store_dir) {
  std::unique_ptr<pchat::storage::database> st;
  if (auto s = pchat::storage::database::open({store_dir, false}, &st); !s.is_ok())
    return "open: " + s.to_string();
  std::vector<pchat::storage::room_record> rooms;
  if (auto s = st->directory().list_rooms(&rooms); !s.is_ok())
    return "list rooms: " + s.to_string();
  if (rooms.empty()) return "no demo room";
  pchat::storage::room_record r;
  r.id = "0b16b16b-0000-4000-8000-0000000000a1";
  r.name = "History Room";
  r.category_id = rooms.front().category_id;
  if (auto s = st->directory().put_room(r); !s.is_ok()) return "put room: " + s.to_string();
  auto batch = st->new_batch();
  int64_t start = static_cast<int64_t>(std::time(nullptr) - 86400) * 1000000;
  for (uint64_t seq = 1; seq <= kStored; ++seq) {
    pchat::storage::message_record m;
    m.seq = seq;
    m.author = "sip:archivist@example.com";
    m.ts_micros = start + static_cast<int64_t>(seq);
    m.text = "stored message " + std::to_string(seq) + " group" + std::to_string(seq % kGroups);
    st->messages().append(*batch, r.id, m);
    if (seq % 5000 != 0) continue;
    if (auto s = batch->commit(); !s.is_ok()) return "write messages: " + s.to_string();
  }
  return {};
}

}  // namespace

TEST(IndexBacklogE2E, AStartOverUnindexedHistoryNeitherWaitsForItNorDelaysTheStop) {
  pchat::testing::temp_dir dir("ixhistory");
  pchat::testing::server_process server(dir / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();  // the demo room
  ASSERT_TRUE(server.stop());
  ASSERT_EQ(make_history(dir / "data/store"), "");

  // Started over 40,000 messages the index has never seen: the node serves at once and a
  // SIGTERM right away does not wait for the catch-up.
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_EQ(pchat::testing::ctl_json(server, "status get").value("store_writable", false), true);
  bool clean = false;
  auto took = timed_stop(server, &clean);
  EXPECT_TRUE(clean) << server.exit_text() << "\n" << server.stderr_text();
  EXPECT_LT(took, kStopBound) << "SIGTERM took " << took.count() << " ms during the catch-up";

  // What was indexed before the stop is kept; the rest is indexed after the next start.
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_TRUE(eventually(
      [&] { return scrape(server.http_port()).value("pchat_index_backlog_messages") == 0; }, 60s))
      << "backlog: " << scrape(server.http_port()).value("pchat_index_backlog_messages");
  for (uint64_t g = 0; g < kGroups; ++g)
    EXPECT_EQ(hits(server, "group" + std::to_string(g)), static_cast<int>(kStored / kGroups))
        << "group" << g;
  EXPECT_TRUE(server.stop());
}
