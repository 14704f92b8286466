// Effective configuration end to end (issue 16 pt 2 and SIGHUP of pt 8): a real pchatd,
// driven through pchatctl, SIP clients and signals. What `config get` / `compliance get`
// show is what runs, with each value's source; the settings Lync applied live apply live
// (chat history, compliance on/off and cadence; participant limit and file size are in
// AccessMatrix and FileE2E); SIGHUP re-reads the config file, applies what it can, names
// what needs a restart, refuses a bad file whole, and drops no connection.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/read_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using pchat::client::chat_client;
using pchat::testing::ctl_json;
using pchat::testing::ctl_ok;
using pchat::testing::eventually;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

// The row of `setting` in a config/compliance get answer: {name, value, source}.
json row(const json& answer, const std::string& setting) {
  for (const auto& r : answer.value("settings", json::array()))
    if (r.value("name", "") == setting) return r;
  return json();
}

// Everything the compliance adapter wrote so far (final files only).
std::string compliance_output(const std::string& dir) {
  std::string all;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    if (it->path().extension() == ".xml") all += pchat::testing::read_file(it->path().string());
  return all;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(ConfigE2E, ComplianceGetShowsWhatRunsAndWhereEachValueComesFrom) {
  pchat::testing::temp_dir dir("config-sources");
  std::string ini = dir / "pchatd.ini";
  write_file(ini, "[global]\ncompliance-run-interval=120\n");
  pchat::testing::server_process server(dir / "data", {"--config-file=" + ini, "--compliance-enabled=true"});
  ASSERT_TRUE(server.start()) << server.stderr_text();

  // Compliance runs from a flag and the config file: get says so, not the stored "off".
  json c = ctl_json(server, "compliance get");
  EXPECT_EQ(c.value("enabled", false), true) << c.dump();
  EXPECT_EQ(row(c, "enabled"), (json{{"name", "enabled"}, {"value", true}, {"source", "flag"}}));
  EXPECT_EQ(row(c, "run_interval_seconds"),
            (json{{"name", "run_interval_seconds"}, {"value", 120}, {"source", "config-file"}}));
  EXPECT_EQ(row(c, "adapter_type").value("source", ""), "default");
  EXPECT_EQ(c.value("output_directory", ""), (dir / "data") + "/compliance");
  EXPECT_EQ(c["stored"].value("enabled", true), false);
  EXPECT_EQ(ctl_json(server, "compliance status").value("enabled", false), true);

  // A stored change the command line overrides is stored, said so, and not in force here.
  c = ctl_json(server, "compliance set --run-interval 600 --adapter csv");
  EXPECT_EQ(c.value("run_interval_seconds", 0), 120) << c.dump();
  EXPECT_EQ(c["stored"].value("run_interval_seconds", 0), 600);
  EXPECT_NE(c.value("applies", "").find("run_interval_seconds (config-file)"), std::string::npos) << c.dump();
  // One it does not override is in force at once, from the store.
  EXPECT_EQ(row(c, "adapter_type"), (json{{"name", "adapter_type"}, {"value", "csv"}, {"source", "stored"}}));
  EXPECT_EQ(ctl_json(server, "compliance status").value("adapter", ""), "csv");

  // The chat settings: defaults until set, then stored, in force at once.
  json g = ctl_json(server, "config get");
  EXPECT_EQ(g.value("identity", ""), "global");
  EXPECT_EQ(row(g, "default_chat_history"),
            (json{{"name", "default_chat_history"}, {"value", 30}, {"source", "default"}}));
  g = ctl_json(server, "config set --participant-update-limit 12");
  EXPECT_EQ(g.value("applies", ""), "now") << g.dump();
  EXPECT_EQ(row(ctl_json(server, "config get"), "participant_update_limit"),
            (json{{"name", "participant_update_limit"}, {"value", 12}, {"source", "stored"}}));
  EXPECT_EQ(ctl_json(server, "status get").value("participant_update_limit", 0), 12);
}

TEST(ConfigE2E, ChatHistoryAndComplianceSwitchesApplyWithoutARestart) {
  pchat::testing::temp_dir dir("config-live");
  // A short cadence (test-only flag) so that a delivery is seen within the test; compliance
  // itself starts off.
  pchat::testing::server_process server(dir / "data", {"--compliance-test-run-interval-ms=200"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  const std::string out_dir = (dir / "data") + "/compliance";

  pchat::testing::chat_clients clients;
  chat_client& alice = clients.add(server.sip_port(), "alice@example.com");
  std::string room = pchat::testing::join_demo(alice);
  ASSERT_FALSE(room.empty()) << alice.failure_reason();
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(alice.post_and_wait_ack(room, "history " + std::to_string(i), 10s));
  ASSERT_TRUE(alice.post_and_wait_ack(room, "said while compliance is off", 10s));

  // DefaultChatHistory 2, live: a client joining now gets the newest two as back-chat.
  ctl_ok(server, "config set --default-chat-history 2");
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  chat_client& bob = clients.add(server.sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s)) << bob.failure_reason();
  ASSERT_TRUE(bob.join_and_wait(room, 10s));
  auto back = bob.backchat_and_wait(room, 25, 10s);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(back->back().text, "said while compliance is off");

  // Compliance on, live: the runner starts, a post is captured and delivered; what was
  // said while it was off is not.
  json c = ctl_json(server, "compliance set --enabled true");
  EXPECT_EQ(c.value("enabled", false), true) << c.dump();
  EXPECT_EQ(c.value("applies", ""), "now");
  ASSERT_TRUE(alice.post_and_wait_ack(room, "said while compliance is on", 10s));
  EXPECT_TRUE(eventually([&] { return count_of(compliance_output(out_dir), "said while compliance is on") >= 1; },
                         15s))
      << server.stderr_text() << compliance_output(out_dir);
  EXPECT_EQ(count_of(compliance_output(out_dir), "said while compliance is off"), 0u);
  EXPECT_EQ(ctl_json(server, "compliance status").value("enabled", false), true);

  // Off again, live: a post is not captured (nothing staged after its 200).
  ctl_ok(server, "compliance set --enabled false");
  ASSERT_TRUE(eventually([&] { return ctl_json(server, "compliance status").value("queue_depth", 1) == 0; }, 15s));
  ASSERT_TRUE(alice.post_and_wait_ack(room, "said after compliance went off", 10s));
  EXPECT_EQ(ctl_json(server, "compliance status").value("queue_depth", 1), 0);
  int rc = 0;
  std::string refused = server.ctl("compliance run", &rc);
  EXPECT_EQ(rc, 1) << refused;
  EXPECT_NE(refused.find("compliance is off"), std::string::npos) << refused;
  pchat::testing::expect_clean(alice);
}

TEST(ConfigE2E, SighupReloadsTheConfigFileWithoutDroppingAConnection) {
  pchat::testing::temp_dir dir("config-sighup");
  std::string ini = dir / "pchatd.ini";
  // Compliance on from the file, with a cadence far longer than the test.
  write_file(ini, "[global]\ncompliance-enabled=\"true\"\ncompliance-test-run-interval-ms=600000\n");
  pchat::testing::server_process server(dir / "data", {"--config-file=" + ini});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  const std::string out_dir = (dir / "data") + "/compliance";
  json c = ctl_json(server, "compliance get");
  EXPECT_EQ(c.value("run_interval_ms", 0), 600000);
  EXPECT_EQ(row(c, "enabled").value("source", ""), "config-file");

  pchat::testing::chat_clients clients;
  chat_client& alice = clients.add(server.sip_port(), "alice@example.com");
  std::string room = pchat::testing::join_demo(alice);
  ASSERT_FALSE(room.empty()) << alice.failure_reason();
  ASSERT_TRUE(alice.post_and_wait_ack(room, "before the reload", 10s));
  // The runner delivered at its start and waits ten minutes: the post stays staged.
  EXPECT_GE(ctl_json(server, "compliance status").value("queue_depth", 0), 1) << server.stderr_text();
  EXPECT_EQ(count_of(compliance_output(out_dir), "before the reload"), 0u);

  // The file now asks for a 200 ms cadence and info logs (both live) and more SIP
  // connections (needs a restart).
  write_file(ini,
             "[global]\ncompliance-enabled=\"true\"\ncompliance-test-run-interval-ms=200\nlog-level=\"info\"\n"
             "sip-max-connections=500\n");
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return server.stderr_text().find("configuration reloaded") != std::string::npos; }, 10s))
      << server.stderr_text();
  std::string log = server.stderr_text();
  EXPECT_NE(log.find("applied=log-level,compliance-test-run-interval-ms"), std::string::npos) << log;
  EXPECT_NE(log.find("needs_restart=sip-max-connections"), std::string::npos) << log;
  c = ctl_json(server, "compliance get");
  EXPECT_EQ(c.value("run_interval_ms", 0), 200) << c.dump();
  EXPECT_EQ(row(c, "run_interval_seconds").value("source", ""), "config-file");
  // The new cadence: the staged post is delivered within seconds, not ten minutes, and the
  // runner's info lines now show.
  EXPECT_TRUE(eventually([&] { return count_of(compliance_output(out_dir), "before the reload") >= 1; }, 15s))
      << server.stderr_text();
  EXPECT_TRUE(eventually([&] { return server.stderr_text().find("batch delivered") != std::string::npos; }, 10s));
  // The signed-in client was not disturbed.
  ASSERT_TRUE(alice.post_and_wait_ack(room, "after the reload", 10s)) << alice.failure_reason();
  EXPECT_TRUE(alice.wait_for_message([](const auto& m) { return m.text == "after the reload"; }, 10s).has_value());

  // A bad file is refused whole: nothing changes, pchatd serves on.
  write_file(ini, "[global]\ncompliance-enabled=\"true\"\ncompliance-run-interval=2\nlog-level=\"debug\"\n");
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return server.stderr_text().find("reload refused") != std::string::npos; }, 10s))
      << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("RunInterval 2 s is out of range"), std::string::npos);
  EXPECT_NE(server.stderr_text().find("run_interval_seconds from config-file"), std::string::npos);
  EXPECT_EQ(ctl_json(server, "compliance get").value("run_interval_ms", 0), 200);
  // The log level stayed info: a bad request head (logged at debug) leaves no line. It is
  // answered 400 once the server has read it, so the absence is checked after the answer.
  {
    int fd = pchat::testing::connect_loopback(server.http_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(pchat::testing::send_all(fd, "NOT HTTP AT ALL\r\n\r\n"));
    char buf[64] = {};
    EXPECT_GT(::recv(fd, buf, sizeof buf - 1, 0), 0);
    ::close(fd);
    EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 400", 0), 0u) << buf;
  }
  EXPECT_EQ(server.stderr_text().find("level=debug"), std::string::npos) << server.stderr_text();
  ASSERT_TRUE(alice.post_and_wait_ack(room, "after the refused reload", 10s)) << alice.failure_reason();
  EXPECT_TRUE(server.running());
  pchat::testing::expect_clean(alice);
  EXPECT_TRUE(server.stop()) << server.stderr_text();
}
