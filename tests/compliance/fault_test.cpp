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

#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;

namespace {

// pchatd with compliance on, optionally armed with a crash point.
class pchatd_process {
 public:
  explicit pchatd_process(std::string dir) : dir_(std::move(dir)) {}
  ~pchatd_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool start(const std::string& crash_at) {
    std::string out = dir_ + "/pchatd.out";
    std::remove(out.c_str());
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      std::freopen(out.c_str(), "w", stdout);
      std::freopen((dir_ + "/pchatd.err").c_str(), "a", stderr);
      if (!crash_at.empty()) setenv("PCHAT_CRASH_AT", crash_at.c_str(), 1);
      std::string dd = "--data-dir=" + dir_ + "/data";
      std::string od = "--compliance-output-dir=" + output_dir();
      execl(PCHATD_PATH, "pchatd", dd.c_str(), "--sip-port=0", "--http-port=0", "--auth=none",
            "--compliance-enabled=true", "--compliance-adapter=xml", od.c_str(),
            "--compliance-test-run-interval-ms=300", "--log-level=info",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until) {
      std::ifstream in(out);
      std::string line;
      while (std::getline(in, line))
        if (line.rfind("sip-port=", 0) == 0) sip_port_ = std::atoi(line.c_str() + 9);
      if (sip_port_ != 0) return true;
      if (exited(nullptr)) return false;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // True once the process has ended; *code gets its exit status (or 128+signal).
  bool exited(int* code) {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    if (code) *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  bool stop() {
    if (pid_ <= 0) return true;
    ::kill(pid_, SIGTERM);
    int code = -1;
    auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until) {
      if (exited(&code)) return code == 0;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  uint16_t sip_port() const { return static_cast<uint16_t>(sip_port_); }
  std::string output_dir() const { return dir_ + "/out"; }
  std::string stderr_text() const {
    std::ifstream in(dir_ + "/pchatd.err");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int sip_port_ = 0;
};

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
    std::ifstream in(it->path());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
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
std::vector<std::string> post_until_gone(pchatd_process& server, const std::string& user,
                                         const std::vector<std::string>& texts,
                                         bool stop_when_server_exits,
                                         std::string* room_uri = nullptr) {
  std::vector<std::string> acked;
  client_loop loop;
  connection_config cc;
  cc.server_port = server.sip_port();
  client_config cfg;
  cfg.user = user;
  chat_client c(loop, cc, cfg);
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
  char tmpl[] = "/tmp/pchat-compliance-fault-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::vector<std::string> acked;
  size_t first_run = 0;
  {
    pchatd_process server(dir);
    ASSERT_TRUE(server.start(point)) << server.stderr_text();
    std::vector<std::string> texts;
    for (int i = 0; i < 40; ++i) texts.push_back(point + "-first-" + std::to_string(i));
    auto first = post_until_gone(server, "alice@example.com", texts, true);
    acked.insert(acked.end(), first.begin(), first.end());
    first_run = first.size();
    int code = 0;
    auto until = std::chrono::steady_clock::now() + 20s;
    while (!server.exited(&code) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(20ms);
    ASSERT_EQ(code, 137) << "pchatd did not stop at crash point " << point << "\n"
                         << server.stderr_text();
  }
  pchatd_process server(dir);
  ASSERT_TRUE(server.start("")) << server.stderr_text();
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) texts.push_back(point + "-second-" + std::to_string(i));
  std::string room;
  auto second = post_until_gone(server, "bob@example.com", texts, false, &room);
  ASSERT_EQ(second.size(), texts.size()) << server.stderr_text();
  acked.insert(acked.end(), second.begin(), second.end());

  // Everything acknowledged reaches the output (delivered every 300 ms).
  size_t temporaries = 0;
  auto all_there = [&] {
    auto out = read_output(server.output_dir(), &temporaries);
    for (auto& t : acked)
      if (count_posts(out, t) == 0) return false;
    // bob's session ended when his client went away: his PART is the last event.
    for (auto& m : out)
      if (m.type == "PART" && m.user == "bob@example.com") return true;
    return false;
  };
  auto until = std::chrono::steady_clock::now() + 20s;
  while (!all_there() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(server.stop()) << server.stderr_text();

  std::set<std::string> channels;
  auto out = read_output(server.output_dir(), &temporaries, &channels);
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
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(EveryStageBoundary, ComplianceCrash,
                         ::testing::Values("after_capture", "during_batch", "after_rename"),
                         [](const auto& info) { return std::string(info.param); });
