// Durability under a crash: posters keep posting while pchatd is killed with SIGKILL;
// after a restart, every post that got its SIP 200 is in back-chat, in order per poster,
// no post appears twice, and nothing appears that was never sent.
//
// Method (after rocksdb's db_crashtest / leveldb's fault_injection_test): each poster keeps
// exactly one post in flight and records it as `pending` when sent and `acknowledged` on
// its 200. A pending post may or may not survive; an acknowledged one must.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::command_result;
using pchat::client::connection_config;

namespace {

struct poster {
  std::unique_ptr<chat_client> client;
  int index = 0;
  int next = 0;             // number of the next post
  uint64_t in_flight = 0;   // command id, 0 if none
  std::set<int> acked;
  std::set<int> sent;
};

std::string text_of(int poster, int n) {
  return "p" + std::to_string(poster) + "-" + std::to_string(n);
}

}  // namespace

TEST(Crash, EveryAcknowledgedPostSurvivesKillNineInOrderAndOnce) {
  // Fixed, printed seed: the kill point varies with it.
  const unsigned seed = 20261124;
  std::mt19937 rng(seed);
  std::printf("crash test seed %u\n", seed);
  pchat::testing::temp_dir dir("crash");
  pchat::testing::server_process server(dir / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  // Back-chat must be able to show every post of the run: raise DefaultChatHistory to its
  // maximum (applies at the next start) and keep the run below it.
  int rc = 0;
  std::string out = server.ctl("config set --default-chat-history 500", &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start());

  client_loop loop;
  connection_config cc;
  cc.server_port = server.sip_port();
  const int kPosters = 4;
  const int kMaxPostsEach = 110;  // 440 < 500
  std::vector<poster> posters(kPosters);
  std::string room;
  for (int i = 0; i < kPosters; ++i) {
    client_config cfg;
    cfg.user = "poster" + std::to_string(i) + "@example.com";
    ASSERT_TRUE(server.ensure_user(cfg.user));  // the directory admits only users it knows
    posters[i].index = i;
    posters[i].client = std::make_unique<chat_client>(loop, cc, cfg);
    ASSERT_TRUE(posters[i].client->sign_in(10s)) << posters[i].client->failure_reason();
    if (room.empty()) {
      auto rooms = posters[i].client->search_rooms("Demo Room", 5s);
      ASSERT_TRUE(rooms && !rooms->empty());
      room = rooms->front().uri;
    }
    ASSERT_TRUE(posters[i].client->join_and_wait(room, 5s));
  }

  // Post until a random number of acknowledgements, then SIGKILL the server mid-stream.
  const size_t kill_after = 120 + rng() % 120;
  size_t total_acked = 0;
  bool killed = false;
  auto pump = [&] {
    for (auto& p : posters) {
      if (p.in_flight) {
        const command_result* r = p.client->find_command(p.in_flight);
        if (!r || !r->done) continue;
        if (r->sip_ok()) {
          p.acked.insert(p.next - 1);
          ++total_acked;
        }
        p.in_flight = 0;
      }
      if (!killed && p.next < kMaxPostsEach && p.client->is_ready()) {
        p.sent.insert(p.next);
        p.in_flight = p.client->post(room, text_of(p.index, p.next));
        ++p.next;
      }
    }
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    loop.run_once(5);
    pump();
    if (total_acked >= kill_after) {
      server.kill_now();
      killed = true;
    }
  }
  ASSERT_TRUE(killed) << "only " << total_acked << " posts acknowledged before the deadline";
  // Let the clients notice the dead connection; nothing they learn now can add acks.
  loop.run_until([&] { return false; }, std::chrono::steady_clock::now() + 300ms);
  for (auto& p : posters) p.client.reset();

  ASSERT_TRUE(server.start()) << server.stderr_text();
  connection_config cc2;
  cc2.server_port = server.sip_port();
  client_config vcfg;
  vcfg.user = "auditor@example.com";
  ASSERT_TRUE(server.ensure_user(vcfg.user));
  chat_client auditor(loop, cc2, vcfg);
  ASSERT_TRUE(auditor.sign_in(10s)) << auditor.failure_reason();
  ASSERT_TRUE(auditor.join_and_wait(room, 5s));
  auto history = auditor.backchat_and_wait(room, 500, 10s);
  ASSERT_TRUE(history);

  std::map<int, std::vector<int>> seen;  // poster -> post numbers in back-chat order
  std::set<std::string> texts;
  for (auto& m : *history) {
    EXPECT_TRUE(texts.insert(m.text).second) << "post appears twice: " << m.text;
    int p = -1, n = -1;
    ASSERT_EQ(std::sscanf(m.text.c_str(), "p%d-%d", &p, &n), 2) << "unexpected text " << m.text;
    ASSERT_TRUE(p >= 0 && p < kPosters);
    EXPECT_TRUE(posters[p].sent.count(n)) << "never sent: " << m.text;
    EXPECT_EQ(m.author, "sip:poster" + std::to_string(p) + "@example.com");
    seen[p].push_back(n);
  }
  size_t acked_total = 0;
  for (auto& p : posters) {
    const auto& got = seen[p.index];
    for (size_t i = 1; i < got.size(); ++i)
      EXPECT_LT(got[i - 1], got[i]) << "poster " << p.index << " out of order";
    std::set<int> got_set(got.begin(), got.end());
    for (int n : p.acked) EXPECT_TRUE(got_set.count(n)) << "acknowledged post lost: " << text_of(p.index, n);
    acked_total += p.acked.size();
  }
  std::printf("acknowledged %zu posts before SIGKILL; back-chat after restart holds %zu\n",
              acked_total, history->size());
  EXPECT_GE(history->size(), acked_total);
  EXPECT_TRUE(server.stop());
}
