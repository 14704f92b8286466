// A full disk, end to end (issue 10 point 4): pchatd's data folder is a small tmpfs
// (skipped where mounting is not permitted) that a filler file fills to a controlled level.
// A client posts over SIP until the disk refuses: failing posts get SIP 503, every post that
// got its 200 is in back-chat (reads work while full), other writers (admin API) get a clear
// error; then the filler is deleted and posting resumes without a restart. pchatd must not
// crash and must log both edges.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <set>

#include "tests/support/chat_clients.h"
#include "tests/support/server_process.h"
#include "tests/support/tmpfs_mount.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;

namespace {

// Posts `text` and waits for its SIP final response (0 if none in time).
int post_status(chat_client& c, const std::string& room, const std::string& text) {
  uint64_t id = c.post(room, text);
  auto r = c.wait_command(id, 15s);
  return r ? r->sip_status : 0;
}

std::string post_text(int n) {
  return "post-" + std::to_string(n) + " " + std::string(1500, 'x');
}

}  // namespace

TEST(DiskFull, PostsGet503NothingAcknowledgedIsLostAndPostingResumesWhenSpaceIsFreed) {
  pchat::testing::tmpfs_mount fs(24 << 20);
  if (!fs.mounted()) {
    GTEST_SKIP() << "skipped: " << fs.reason();
  }
  // The data folder is the mount itself, so the server's stdout/stderr files sit beside it
  // in /tmp (a full disk must not swallow the log lines we check).
  pchat::testing::server_process server(fs.path());
  ASSERT_TRUE(server.start()) << server.stderr_text();
  int rc = 0;
  std::string out = server.ctl("config set --default-chat-history 500", &rc);  // see every post
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start()) << server.stderr_text();

  pchat::testing::chat_clients clients;
  chat_client& alice = clients.add(server.sip_port(), "alice@example.com");
  client_loop& loop = clients.loop();
  ASSERT_TRUE(alice.sign_in(10s)) << alice.failure_reason();
  auto rooms = alice.search_rooms("Demo Room", 5s);
  ASSERT_TRUE(rooms && !rooms->empty());
  std::string room = rooms->front().uri;
  ASSERT_TRUE(alice.join_and_wait(room, 5s));

  // Leave room for a few dozen posts, then post one at a time until the disk refuses.
  ASSERT_GT(fs.fill(96 << 10), 0u);
  std::set<std::string> acked, refused;
  int n = 0;
  for (; n < 2000 && refused.empty(); ++n) {
    int status = post_status(alice, room, post_text(n));
    if (status == 200)
      acked.insert(post_text(n));
    else if (status == 503)
      refused.insert(post_text(n));
    else
      FAIL() << "post " << n << " got SIP " << status;
  }
  ASSERT_FALSE(refused.empty()) << "the disk never filled";
  ASSERT_FALSE(acked.empty()) << "nothing was acknowledged before the disk filled";
  std::printf("acknowledged %zu posts before the disk filled\n", acked.size());

  // While full: more posts are refused, reads work, other writers get a clear error.
  for (int i = 0; i < 3; ++i, ++n) {
    EXPECT_EQ(post_status(alice, room, post_text(n)), 503);
    refused.insert(post_text(n));
  }
  auto history = alice.backchat_and_wait(room, 500, 10s);
  ASSERT_TRUE(history) << "back-chat failed while the disk is full";
  std::set<std::string> seen;
  for (auto& m : *history) seen.insert(m.text);
  for (auto& t : acked)
    EXPECT_TRUE(seen.count(t)) << "acknowledged post missing: " << t.substr(0, 12);
  out = server.ctl("category new --name FullDiskCategory", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("No space left"), std::string::npos) << out;
  EXPECT_NE(server.stderr_text().find("writes failing"), std::string::npos) << server.stderr_text();

  // Space back: posting resumes by itself (no restart), within a bounded wait.
  fs.release();
  bool resumed = false;
  auto until = std::chrono::steady_clock::now() + 20s;
  while (!resumed && std::chrono::steady_clock::now() < until) {
    int status = post_status(alice, room, post_text(n));
    if (status == 200) {
      acked.insert(post_text(n));
      resumed = true;
    } else {
      refused.insert(post_text(n));
      loop.run_until([] { return false; }, std::chrono::steady_clock::now() + 200ms);
    }
    ++n;
  }
  ASSERT_TRUE(resumed) << "posting did not resume after space was freed";
  EXPECT_EQ(kill(server.pid(), 0), 0) << "pchatd is gone";
  EXPECT_NE(server.stderr_text().find("writes resumed"), std::string::npos) << server.stderr_text();
  out = server.ctl("category new --name FullDiskCategory", &rc);
  EXPECT_EQ(rc, 0) << out;

  // Every acknowledged post is there; no refused one is.
  history = alice.backchat_and_wait(room, 500, 10s);
  ASSERT_TRUE(history);
  seen.clear();
  for (auto& m : *history) seen.insert(m.text);
  for (auto& t : acked) EXPECT_TRUE(seen.count(t)) << "acknowledged post lost: " << t.substr(0, 12);
  for (auto& t : refused) EXPECT_FALSE(seen.count(t)) << "refused post stored: " << t.substr(0, 12);

  ASSERT_TRUE(server.stop());
  EXPECT_EQ(server.exit_text(), "exit 0");
  std::filesystem::remove(fs.path() + ".out");
  std::filesystem::remove(fs.path() + ".err");
}
