// Compliance fault tests: pchatd is made to die like kill -9 at each stage boundary of the
// pipeline (PCHAT_CRASH_AT, storage/crash_point.h), restarted, and the adapter's output
// is checked against a model of what the users did:
//   - every post the server acknowledged appears exactly once;
//   - no event (type, user, message id, content, time) appears twice anywhere;
//   - no temporary output file survives the restart.
// Posts go over real SIP through the in-tree client (tools/client). The run interval is
// shortened with the test-only --compliance-test-run-interval-ms.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/chat_clients.h"
#include "tests/support/eventually.h"
#include "tests/support/read_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;

namespace {

// pchatd with compliance on (XML, delivered every 300 ms) in `dir`/data, output in `dir`/out,
// optionally armed with a crash point.
std::unique_ptr<pchat::testing::server_process> compliance_server(const std::string& dir,
                                                                  const std::string& crash_at) {
  auto server = std::make_unique<pchat::testing::server_process>(
      dir + "/data",
      std::vector<std::string>{"--compliance-enabled=true", "--compliance-adapter=xml",
                               "--compliance-output-dir=" + dir + "/out",
                               "--compliance-test-run-interval-ms=300", "--log-level=info"});
  server->set_env("PCHAT_CRASH_AT", crash_at);
  return server;
}

struct message_entry {
  std::string type, content, id, user, ticks;
  bool operator<(const message_entry& o) const {
    return std::tie(type, content, id, user, ticks) <
           std::tie(o.type, o.content, o.id, o.user, o.ticks);
  }
};

// Every <Message> (not the FirstMessage copies) in every final output file; the distinct
// <Channel uri> values go to *channels when given.
std::vector<message_entry> read_output(const std::string& dir, size_t* temporaries,
                                       std::set<std::string>* channels = nullptr) {
  static const std::regex channel_re("<Channel uri=\"([^\"]*)\"");
  static const std::regex re(
      "<Message type=\"([A-Z]+)\" content=\"([^\"]*)\" id=\"([0-9]+)\">\\s*"
      "<Sender [^>]*uri=\"([^\"]*)\" />\\s*<DateTimeUTC [^>]*long=\"([0-9]+)\" />");
  std::vector<message_entry> out;
  *temporaries = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".tmp") ++*temporaries;
    if (it->path().extension() != ".xml") continue;
    std::string doc = pchat::testing::read_file(it->path());
    for (std::sregex_iterator m(doc.begin(), doc.end(), re), end; m != end; ++m)
      out.push_back({(*m)[1], (*m)[2], (*m)[3], (*m)[4], (*m)[5]});
    if (channels)
      for (std::sregex_iterator m(doc.begin(), doc.end(), channel_re), end; m != end; ++m)
        channels->insert((*m)[1]);
  }
  return out;
}

size_t count_posts(const std::vector<message_entry>& all, const std::string& text) {
  size_t n = 0;
  for (auto& m : all) n += m.type == "CHAT" && m.content == text;
  return n;
}

// Signs in, joins the demo room and posts `texts` one by one while the server lives;
// returns the texts acknowledged (SIP 200).
std::vector<std::string> post_until_gone(pchat::testing::server_process& server, const std::string& user,
                                         const std::vector<std::string>& texts,
                                         bool stop_when_server_exits,
                                         std::string* room_uri = nullptr) {
  std::vector<std::string> acked;
  pchat::testing::chat_clients clients;
  chat_client& c = clients.add(server.sip_port(), user);
  if (!c.sign_in(10s)) return acked;
  auto rooms = c.search_rooms("Demo Room", 5s);
  if (!rooms || rooms->empty()) return acked;
  std::string room = rooms->front().uri;
  if (room_uri) *room_uri = room;
  if (!c.join_and_wait(room, 5s)) return acked;
  for (auto& t : texts) {
    if (c.post_and_wait_ack(room, t, 5s)) acked.push_back(t);
    else if (stop_when_server_exits) break;
    // Spread posts over a few run intervals so batches happen while we post.
    std::this_thread::sleep_for(30ms);
  }
  c.backchat_and_wait(room, 5, 5s);
  return acked;
}

class ComplianceCrash : public ::testing::TestWithParam<const char*> {};

}  // namespace

TEST_P(ComplianceCrash, RestartAfterAKillLeavesEveryEventInTheOutputExactlyOnce) {
  const std::string point = GetParam();
  pchat::testing::temp_dir tmp("compliance-fault");
  const std::string& dir = tmp.path();
  std::vector<std::string> acked;
  size_t first_run = 0;
  {
    auto crashing = compliance_server(dir, point);
    auto& server = *crashing;
    ASSERT_TRUE(server.start()) << server.stderr_text();
    std::vector<std::string> texts;
    for (int i = 0; i < 40; ++i) texts.push_back(point + "-first-" + std::to_string(i));
    auto first = post_until_gone(server, "alice@example.com", texts, true);
    acked.insert(acked.end(), first.begin(), first.end());
    first_run = first.size();
    pchat::testing::eventually([&] { return !server.running(); }, 20s);
    ASSERT_EQ(server.exit_code(), 137) << "pchatd did not stop at crash point " << point << "\n"
                                       << server.stderr_text();
  }
  auto restarted = compliance_server(dir, "");
  auto& server = *restarted;
  ASSERT_TRUE(server.start()) << server.stderr_text();
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) texts.push_back(point + "-second-" + std::to_string(i));
  std::string room;
  auto second = post_until_gone(server, "bob@example.com", texts, false, &room);
  ASSERT_EQ(second.size(), texts.size()) << server.stderr_text();
  acked.insert(acked.end(), second.begin(), second.end());

  // Everything acknowledged reaches the output (delivered every 300 ms).
  size_t temporaries = 0;
  auto all_there = [&] {
    auto out = read_output(dir + "/out", &temporaries);
    for (auto& t : acked)
      if (count_posts(out, t) == 0) return false;
    // bob's session ended when his client went away: his PART is the last event.
    for (auto& m : out)
      if (m.type == "PART" && m.user == "bob@example.com") return true;
    return false;
  };
  pchat::testing::eventually(all_there, 20s, 50ms);
  ASSERT_TRUE(server.stop()) << server.stderr_text();

  std::set<std::string> channels;
  auto out = read_output(dir + "/out", &temporaries, &channels);
  // Events are staged with the room id; the runner gives them back the room's URI.
  EXPECT_EQ(channels, std::set<std::string>{room});
  std::cout << "[ info     ] " << point << ": " << first_run << " posts acknowledged before the crash, "
            << out.size() << " events in the output\n";
  EXPECT_EQ(temporaries, 0u) << "stale temporary output survived the restart";
  for (auto& t : acked) EXPECT_EQ(count_posts(out, t), 1u) << "post " << t;
  std::map<message_entry, int> seen;
  for (auto& m : out) seen[m]++;
  for (auto& [m, n] : seen)
    EXPECT_EQ(n, 1) << m.type << " " << m.user << " '" << m.content << "' at " << m.ticks;
  std::set<std::string> types;
  for (auto& m : out) types.insert(m.type);
  EXPECT_TRUE(types.count("JOIN") && types.count("CHAT") && types.count("BACKCHAT") &&
              types.count("PART"))
      << "expected joins, posts, back-chat and parts in the output";
}

INSTANTIATE_TEST_SUITE_P(EveryStageBoundary, ComplianceCrash,
                         ::testing::Values("after_capture", "during_batch", "after_rename"),
                         [](const auto& info) { return std::string(info.param); });
