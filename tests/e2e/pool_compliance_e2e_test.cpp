// Compliance across the pool end to end (docs/POOL.md "Compliance across the pool"): a
// loopback etcd and three pchatd processes with compliance on, members on two nodes posting
// into a room a third node owns. The owner delivers some posts' CHAT events, is killed (-9)
// with others undelivered, the new owner delivers those from its kept copies and the posts
// made after the kill, the killed node returns and takes its room back. What is checked is
// what a compliance reader sees: the union of every node's adapter output holds each
// acknowledged post's CHAT event exactly once, and no file is left half delivered.
// Runs are started with `pchatctl compliance run` (the interval is an hour), so which node
// delivers when is the test's choice.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "pool/placement.h"
#include "tests/support/chat_clients.h"
#include "tests/support/compliance_xsd.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::testing::eventually;
using pchat::testing::pool_cluster;

namespace {

class PoolComplianceE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool_.start()) << pool_.error();
    pchat::testing::ctl_ok(pool_.node(0), "category new --name Desk --allowed-members domain:example.com");
    for (size_t i = 1; i < pool_.size(); ++i)
      ASSERT_TRUE(eventually([&] { return pool_.admin_get(i, "/api/v1/categories/Desk").first == 200; }, 2s)) << i;
  }
  void TearDown() override { clients_.clear(); }

  // A room made through node 0 whose owner is node `owner`, as every node lists it.
  std::string room_owned_by(size_t owner) {
    for (int k = 0; k < 32; ++k) {
      std::string name = "desk" + std::to_string(k);
      pchat::testing::ctl_ok(pool_.node(0), "room new --name " + name + " --category Desk --privacy open");
      std::string uri = pool_.room_uri(0, name);
      if (uri.empty() ||
          pchat::pool::rank(uri.substr(uri.rfind('/') + 1), {"n1", "n2", "n3"})[0] != pool_cluster::name(owner))
        continue;
      for (size_t i = 0; i < pool_.size(); ++i)
        if (!eventually([&] { return !pool_.room_uri(i, name).empty(); }, 2s)) return "";
      return uri;
    }
    return "";
  }
  chat_client& signed_in(size_t node, const std::string& user) {
    EXPECT_TRUE(pool_.ensure_user(user)) << pool_.error();
    auto& c = clients_.add(pool_.node(node).sip_port(), user);
    EXPECT_TRUE(c.sign_in(10s)) << user << " on " << pool_cluster::name(node) << ": " << c.failure_reason();
    return c;
  }
  std::string out_dir(size_t i) const { return dir_.path() + "/" + pool_cluster::name(i) + "/compliance"; }
  // Starts a compliance run on node i (it answers 202 at once; the run is the runner's).
  void run_on(size_t i) {
    int rc = 0;
    pool_.node(i).ctl("compliance run", &rc);
  }
  // Every published output file of node i's adapter, and the names of pending ones.
  std::vector<std::string> files(size_t i, std::vector<std::string>* pending = nullptr) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(out_dir(i), ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".xml") == 0) out.push_back(it->path().string());
      if (pending && name.find(".pending") != std::string::npos) pending->push_back(name);
    }
    return out;
  }
  // How many CHAT events with content `text` the published outputs of `nodes` hold.
  size_t chat_events(const std::vector<size_t>& nodes, const std::string& text) const {
    // A conversation repeats its first message as <FirstMessage>: the events are <Message>s.
    const std::string needle = "<Message type=\"CHAT\" content=\"" + text + "\"";
    size_t n = 0;
    for (size_t i : nodes)
      for (auto& path : files(i)) {
        std::ifstream f(path);
        std::stringstream ss;
        ss << f.rdbuf();
        std::string body = ss.str();
        for (size_t at = body.find(needle); at != std::string::npos; at = body.find(needle, at + 1)) ++n;
      }
    return n;
  }
  bool all_delivered(const std::vector<size_t>& nodes, const std::vector<std::string>& texts) const {
    for (auto& t : texts)
      if (chat_events(nodes, t) == 0) return false;
    return true;
  }

  pchat::testing::temp_dir dir_{"pool-compliance-e2e"};
  pool_cluster pool_{dir_.path(), 3,
                     {"--demo-content=false", "--compliance-enabled=true", "--compliance-adapter=xml",
                      "--compliance-test-run-interval-ms=3600000"},
                     "comply"};
  pchat::testing::chat_clients clients_;
};

}  // namespace

TEST_F(PoolComplianceE2E, EachAcknowledgedPostIsDeliveredOncePoolWideAcrossTheOwnersKillAndReturn) {
  std::string room = room_owned_by(1);  // n2 owns it
  ASSERT_FALSE(room.empty());
  auto& ann = signed_in(0, "ann@example.com");
  auto& cy = signed_in(2, "cy@example.com");
  for (auto* c : {&ann, &cy}) {
    auto joined = c->join_and_wait(room, 10s);
    ASSERT_TRUE(joined && joined->ok());
  }
  std::vector<std::string> all;
  auto burst = [&](const std::string& tag, int n) {
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i)
      for (auto* c : {&ann, &cy}) {
        std::string text = tag + "-" + (c == &ann ? "ann" : "cy") + "-" + std::to_string(i);
        EXPECT_TRUE(c->post_and_wait_ack(room, text, 15s)) << text;
        texts.push_back(text);
        all.push_back(text);
      }
    return texts;
  };
  const std::vector<size_t> everyone{0, 1, 2};

  // 1. The owner n2 delivers the first posts (once their acknowledgement window passed).
  auto delivered_by_owner = burst("a", 3);
  ASSERT_TRUE(eventually(
      [&] {
        run_on(1);
        return eventually([&] { return all_delivered({1}, delivered_by_owner); }, 1s);
      },
      40s))
      << "n2 did not deliver its posts' events";
  // 2. More posts, not delivered by n2: it is killed with them kept on it and its follower.
  auto undelivered = burst("b", 3);
  pool_.kill(1);
  // 3. Posts through the new owner after the kill (the sessions find it).
  auto after_kill = burst("c", 3);
  std::vector<std::string> expected_by_others = undelivered;
  expected_by_others.insert(expected_by_others.end(), after_kill.begin(), after_kill.end());
  ASSERT_TRUE(eventually(
      [&] {
        run_on(0);
        run_on(2);
        return eventually([&] { return all_delivered({0, 2}, expected_by_others); }, 1s);
      },
      40s))
      << "the new owner did not deliver the events the old owner had not";
  for (auto& t : delivered_by_owner) EXPECT_EQ(chat_events({0, 2}, t), 0u) << t << ": delivered again by the new owner";

  // 4. n2 returns, takes its room back, runs first thing at start (and again here), and
  // delivers only what is new.
  ASSERT_TRUE(pool_.restart(1)) << pool_.node(1).stderr_text();
  for (size_t i = 0; i < pool_.size(); ++i) ASSERT_TRUE(pool_.wait_view(i, {"n1", "n2", "n3"}, 10s)) << i;
  auto after_return = burst("d", 2);
  ASSERT_TRUE(eventually(
      [&] {
        for (size_t i : everyone) run_on(i);
        return eventually([&] { return all_delivered(everyone, after_return); }, 1s);
      },
      40s))
      << "the posts after the owner's return were not delivered";
  // One more run on every node, then what each holds: nothing delivered comes out again.
  for (size_t i : everyone) run_on(i);
  for (size_t i : everyone) {
    auto status = pchat::testing::ctl_json(pool_.node(i), "compliance status");
    EXPECT_EQ(status.value("last_error", std::string()), "") << pool_cluster::name(i) << ": " << status.dump();
  }
  for (auto& t : all) EXPECT_EQ(chat_events(everyone, t), 1u) << t << " in the union of the three outputs";
  for (size_t i : everyone) {
    for (auto& path : files(i)) {
      std::string lint;
      EXPECT_EQ(pchat::testing::xmllint_compliance_xml(path, &lint), 0) << path << ": " << lint;
    }
    std::vector<std::string> pending;
    files(i, &pending);
    EXPECT_TRUE(pending.empty()) << pool_cluster::name(i) << " left " << pending.size() << " pending files";
  }
  for (auto* c : {&ann, &cy}) pchat::testing::expect_clean(*c);
}
