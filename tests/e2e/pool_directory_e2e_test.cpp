// The directory across a pool (issue 12 point 4, docs/POOL.md "Directory across the
// pool"): a local etcd and three pchatd nodes started with --etcd, each with its own ports
// and data folder. An admin change made through node 1 is in force on node 3 within a
// second, seen through node 3's own admin API and its SIP service; a node stopped while
// changes are made applies them when it returns; with etcd down, admin writes are refused
// with a 503 and nothing of them is applied anywhere.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "pool/placement.h"
#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/etcd_server.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::testing::eventually;
using pchat::testing::server_process;

namespace {

class PoolDirectoryE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.start()) << etcd_.log_text();
    for (int i = 0; i < 3; ++i) {
      std::string name = "n" + std::to_string(i + 1);
      nodes_[i] = std::make_unique<server_process>(
          dir_ / name, std::vector<std::string>{"--etcd=" + etcd_.endpoint(), "--node-name=" + name,
                                                "--pool-name=dirtest", "--demo-content=false"});
      // One after the other: node 1's first start makes the global policy through the log,
      // and the others find it there.
      ASSERT_TRUE(nodes_[i]->start()) << name << ": " << nodes_[i]->stderr_text();
    }
    // The pool is formed (every node sees the three live) before anyone uses a room: a
    // room's owner is decided by the view of the node asked.
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(eventually(
          [&] {
            auto [status, j] = get(i, "/api/v1/pool");
            if (status != 200 || !j.contains("nodes")) return false;
            int live = 0;
            for (auto& n : j["nodes"]) live += n.value("live", false) ? 1 : 0;
            return live == 3;
          },
          10s))
          << "n" << i + 1 << " never saw the three nodes live";
    ctl(0, "category new --name Desk --allowed-members domain:example.com");
    ctl(0, "policy new --identity tag:off --enable-persistent-chat false");
    ctl(0, "user new --uri member@example.com");
    ctl(0, "user new --uri other@example.com");
    ctl(0, "room new --name desk --category Desk --privacy closed --members sip:member@example.com,sip:other@example.com");
    // Node 1 answered once it applied the changes; the others apply them within their poll.
    for (int i = 1; i < 3; ++i)
      ASSERT_TRUE(eventually([&] { return !uri_of(i, "desk").empty(); }, 2s)) << "n" << i + 1;
  }
  void TearDown() override {
    clients_.clear();
    for (auto& n : nodes_)
      if (n) n->stop();
  }

  server_process& node(int i) { return *nodes_[i]; }
  void ctl(int i, const std::string& args) { pchat::testing::ctl_ok(node(i), args); }
  // GET on node i's admin API: the status, and the body parsed (null if not JSON).
  std::pair<int, nlohmann::json> get(int i, const std::string& target) {
    auto r = pchat::testing::http(node(i).http_port(), "GET", target,
                                  {"Authorization: Bearer " + node(i).admin_token()});
    return {r.status, nlohmann::json::parse(r.body, nullptr, false)};
  }
  pchat::testing::http_reply send(int i, const std::string& method, const std::string& target,
                                  const std::string& body) {
    return pchat::testing::http(node(i).http_port(), method, target,
                                {"Authorization: Bearer " + node(i).admin_token(),
                                 "Content-Type: application/json"},
                                body);
  }
  // The room's members as node i's admin API lists them ("" entries if it has none).
  std::string members_on(int i, const std::string& room) {
    auto [status, j] = get(i, "/api/v1/rooms/" + room);
    if (status != 200 || !j.is_object()) return "<HTTP " + std::to_string(status) + ">";
    return j.value("members", nlohmann::json::array()).dump();
  }
  std::string uri_of(int i, const std::string& room) {
    auto [status, j] = get(i, "/api/v1/rooms/" + room);
    return status == 200 && j.is_object() ? j.value("uri", "") : "";
  }
  // A client on node i for `user`, made in the directory through node i if absent and known
  // on every running node before it is used: a room's owner may be another node, which
  // admits only users it knows (it applies the directory log ~100 ms after node i).
  chat_client& client(int i, const std::string& user) {
    auto& c = clients_.add(node(i).sip_port(), user);
    for (int k = 0; k < 3; ++k) {
      if (!node(k).running()) continue;
      EXPECT_TRUE(eventually([&] { return get(k, "/api/v1/users/sip:" + user).first == 200; }, 5s))
          << "n" << k + 1 << " never knew " << user;
    }
    return c;
  }
  // How long node i takes to show what `pred` looks for, checked every 5 ms (up to 5 s).
  template <class Pred>
  std::chrono::milliseconds time_until(Pred pred) {
    auto t0 = std::chrono::steady_clock::now();
    eventually(pred, 5s, 5ms);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  }

  pchat::testing::temp_dir dir_{"pooldir"};
  pchat::testing::etcd_server etcd_{dir_ / "etcd"};
  std::array<std::unique_ptr<server_process>, 3> nodes_;
  pchat::testing::chat_clients clients_;
};

}  // namespace

TEST_F(PoolDirectoryE2E, AnAdminChangeOnNode1IsInForceOnNode3WithinASecond) {
  std::string room = uri_of(2, "desk");
  auto& member = client(2, "member@example.com");
  auto& other = client(2, "other@example.com");
  ASSERT_TRUE(member.sign_in(10s)) << member.failure_reason();
  ASSERT_TRUE(other.sign_in(10s)) << other.failure_reason();
  ASSERT_TRUE(member.join_and_wait(room, 5s));
  ASSERT_TRUE(other.join_and_wait(room, 5s));

  // A member removed through node 1 leaves node 3's live room and cannot join it again.
  uint64_t since = member.next_roster_seq();
  ctl(0, "room set --identity desk --remove-members sip:member@example.com");
  auto took = time_until([&] { return members_on(2, "desk").find("member@") == std::string::npos; });
  EXPECT_LT(took, 1000ms) << members_on(2, "desk");
  std::printf("room member removed on n1, gone on n3's admin API after %lld ms\n",
              static_cast<long long>(took.count()));
  EXPECT_TRUE(member.wait_for_roster(
      [](auto& r) { return r.user == "sip:member@example.com" && r.what == pchat::client::roster_event::kind::part; },
      1s, since));
  auto again = member.join_and_wait(room, 5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, 403);
  ASSERT_TRUE(other.post_and_wait_ack(room, "still here", 5s));

  // A user turned off through node 1 (a policy with chat off) cannot sign in on node 3.
  ctl(0, "policy grant --user other@example.com --policy off");
  took = time_until([&] {
    auto [status, j] = get(2, "/api/v1/users/sip:other@example.com");
    return status == 200 && j.is_object() && j.value("policy", "") == "off";
  });
  EXPECT_LT(took, 1000ms);
  std::printf("user's policy set on n1, on n3's admin API after %lld ms\n", static_cast<long long>(took.count()));
  auto& refused = client(2, "other@example.com");
  EXPECT_FALSE(refused.sign_in(10s));
  EXPECT_NE(refused.failure_reason().find("not enabled"), std::string::npos) << refused.failure_reason();

  // A category and a room made through node 2's HTTP API are usable on node 3 at once.
  auto made = send(1, "POST", "/api/v1/categories", R"({"name":"Lab"})");
  ASSERT_EQ(made.status, 201) << made.body;
  made = send(1, "POST", "/api/v1/rooms", R"({"name":"lab","category":"Lab","privacy":"open"})");
  ASSERT_EQ(made.status, 201) << made.body;
  took = time_until([&] { return !uri_of(2, "lab").empty(); });
  EXPECT_LT(took, 1000ms);
  auto& newcomer = client(2, "newcomer@example.com");
  ASSERT_TRUE(newcomer.sign_in(10s)) << newcomer.failure_reason();
  auto joined = newcomer.join_and_wait(uri_of(2, "lab"), 5s);
  ASSERT_TRUE(joined);
  EXPECT_TRUE(joined->ok()) << joined->code;
  // Not `other`: turned off, it may also be removed from the live room it is in (a part
  // about itself) when the room next checks its members.
  pchat::testing::expect_clean(newcomer);
}

// Chat settings set through node 1 are in force on node 3 within a second (docs/POOL.md
// "Directory across the pool"): node 3 applies the change from the log and puts it in force
// itself, no restart or SIGHUP. Its `config get` shows the value as stored, and a room node 3
// owns answers back-chat with the new DefaultChatHistory.
TEST_F(PoolDirectoryE2E, ConfigSetThroughNode1IsInForceOnNode3WithinASecond) {
  // A room whose owner is n3 (its back-chat follows n3's settings).
  std::string room, name;
  for (int k = 0; k < 32 && room.empty(); ++k) {
    name = "hist" + std::to_string(k);
    ctl(0, "room new --name " + name +
               " --category Desk --privacy closed --members sip:member@example.com,sip:other@example.com");
    std::string uri = uri_of(0, name);
    if (pchat::pool::rank(uri.substr(uri.rfind('/') + 1), {"n1", "n2", "n3"})[0] == "n3") room = uri;
  }
  ASSERT_FALSE(room.empty()) << "no room owned by n3 among 32";
  ASSERT_TRUE(eventually([&] { return !uri_of(2, name).empty(); }, 2s));
  auto& member = client(0, "member@example.com");
  ASSERT_TRUE(member.sign_in(10s)) << member.failure_reason();
  ASSERT_TRUE(member.join_and_wait(room, 5s));
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(member.post_and_wait_ack(room, "said " + std::to_string(i), 5s));

  auto history_on = [&](int i) -> nlohmann::json {
    auto g = pchat::testing::ctl_json_or_null(node(i), "config get");
    for (const auto& r : g.value("settings", nlohmann::json::array()))
      if (r.value("name", "") == "default_chat_history") return r;
    return nlohmann::json();
  };
  ASSERT_TRUE(history_on(2).is_object());
  EXPECT_NE(history_on(2).value("value", nlohmann::json()).dump(), "2");
  ctl(0, "config set --default-chat-history 2");
  auto took = time_until([&] {
    auto r = history_on(2);
    return r.is_object() && r.value("value", nlohmann::json()).dump() == "2" && r.value("source", "") == "stored";
  });
  EXPECT_LT(took, 1000ms) << history_on(2).dump();
  std::printf("DefaultChatHistory set on n1, in force on n3 after %lld ms\n", static_cast<long long>(took.count()));

  // n3's room answers back-chat with the newest two only.
  auto& other = client(1, "other@example.com");
  ASSERT_TRUE(other.sign_in(10s)) << other.failure_reason();
  ASSERT_TRUE(other.join_and_wait(room, 5s));
  auto back = other.backchat_and_wait(room, 25, 5s);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(back->back().text, "said 4");
  pchat::testing::expect_clean(other);
}

// Revocation across the pool (docs/SECURITY.md "Revocation"): a user disabled through node 1
// loses the session it holds on node 3 (a BYE) and leaves the room, whose other member, on
// node 2, sees the part, within a second; every node applies the change from the log and
// ends what it holds itself.
TEST_F(PoolDirectoryE2E, AUserDisabledThroughNode1LosesTheirSessionOnNode3WithinASecond) {
  std::string room = uri_of(2, "desk");
  auto& member = client(2, "member@example.com");
  auto& other = client(1, "other@example.com");
  ASSERT_TRUE(member.sign_in(10s)) << member.failure_reason();
  ASSERT_TRUE(other.sign_in(10s)) << other.failure_reason();
  ASSERT_TRUE(member.join_and_wait(room, 5s));
  ASSERT_TRUE(other.join_and_wait(room, 5s));
  uint64_t seen = other.next_message_seq();
  ASSERT_TRUE(member.post_and_wait_ack(room, "from n3", 5s));
  ASSERT_TRUE(other.wait_for_message([](auto& m) { return m.text == "from n3"; }, 5s, seen));

  uint64_t since = other.next_roster_seq();
  ctl(0, "user set --uri member@example.com --enabled false");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(member.loop().run_until([&] { return !member.is_ready(); }, 1s))
      << "the disabled user's session on n3 is still up after 1 s";
  EXPECT_NE(member.failure_reason().find("server sent BYE"), std::string::npos) << member.failure_reason();
  EXPECT_TRUE(other.wait_for_roster(
      [](auto& r) { return r.user == "sip:member@example.com" && r.what == pchat::client::roster_event::kind::part; },
      1s, since))
      << "the member on n2 did not see the part within 1 s";
  std::printf("user disabled on n1: session on n3 ended, part seen on n2 after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));
}

TEST_F(PoolDirectoryE2E, ANodeStoppedDuringChangesAppliesThemWhenItReturns) {
  ASSERT_TRUE(node(2).stop());
  ctl(0, "room new --name while-away --category Desk --privacy open");
  ctl(1, "room set --identity desk --add-members sip:late@example.com");
  ctl(0, "user new --uri late@example.com --display-name Late");
  ASSERT_TRUE(node(2).start()) << node(2).stderr_text();
  // Caught up before it serves: no waiting here.
  EXPECT_FALSE(uri_of(2, "while-away").empty());
  EXPECT_NE(members_on(2, "desk").find("late@"), std::string::npos) << members_on(2, "desk");
  auto [status, j] = get(2, "/api/v1/users/sip:late@example.com");
  EXPECT_EQ(status, 200);
  auto& late = client(2, "late@example.com");
  ASSERT_TRUE(late.sign_in(10s)) << late.failure_reason();
  auto joined = late.join_and_wait(uri_of(2, "desk"), 5s);
  ASSERT_TRUE(joined);
  EXPECT_TRUE(joined->ok()) << joined->code;
}

TEST_F(PoolDirectoryE2E, WithEtcdDownAdminWritesAre503AndNothingIsHalfApplied) {
  ASSERT_TRUE(etcd_.stop());
  auto t0 = std::chrono::steady_clock::now();
  auto r = send(0, "POST", "/api/v1/categories", R"({"name":"Nowhere"})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("directory log"), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  r = send(0, "POST", "/api/v1/users", R"({"uri":"sip:ghost@example.com"})");
  EXPECT_EQ(r.status, 503) << r.body;
  r = send(0, "PATCH", "/api/v1/rooms/desk", R"({"members":["sip:ghost@example.com"]})");
  EXPECT_EQ(r.status, 503) << r.body;
  // Reads still answer, from what each node has.
  EXPECT_EQ(get(0, "/api/v1/users/sip:ghost@example.com").first, 404);
  EXPECT_EQ(members_on(0, "desk"), members_on(2, "desk"));
  EXPECT_EQ(members_on(0, "desk").find("ghost"), std::string::npos);

  // etcd back: nothing of the refused writes appears anywhere, new writes work again.
  ASSERT_TRUE(etcd_.start()) << etcd_.log_text();
  r = send(0, "POST", "/api/v1/categories", R"({"name":"Back"})");
  EXPECT_EQ(r.status, 201) << r.body;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(eventually([&] { return get(i, "/api/v1/categories/Back").first == 200; }, 2s)) << i;
    EXPECT_EQ(get(i, "/api/v1/categories/Nowhere").first, 404) << i;
    EXPECT_EQ(get(i, "/api/v1/users/sip:ghost@example.com").first, 404) << i;
  }
}

// Nodes started together on an empty pool: one of them seeds it (policy, demo users, demo
// room) and prints the demo passwords; the others say who did. Every node then has one demo
// room and takes those passwords. (Before the pool's first-start key, each node made its own
// demo users, so two of the three printed sets were wrong, and one node could exit over the
// demo room another made.)
TEST(PoolFirstStart, NodesStartedTogetherSeedThePoolOnceAndItsPasswordsWorkOnEveryNode) {
  pchat::testing::temp_dir dir("poolseed");
  pchat::testing::etcd_server etcd(dir / "etcd");
  ASSERT_TRUE(etcd.start()) << etcd.log_text();
  std::array<std::unique_ptr<server_process>, 3> nodes;
  for (int i = 0; i < 3; ++i) {
    std::string name = "n" + std::to_string(i + 1);
    nodes[i] = std::make_unique<server_process>(
        dir / name, std::vector<std::string>{"--etcd=" + etcd.endpoint(), "--node-name=" + name,
                                             "--pool-name=seedtest", "--auth=digest"});
  }
  std::array<bool, 3> started{};
  {
    std::vector<std::thread> starters;
    for (int i = 0; i < 3; ++i) starters.emplace_back([&, i] { started[i] = nodes[i]->start(); });
    for (auto& t : starters) t.join();
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(started[i]) << "n" << i + 1 << ": " << nodes[i]->stderr_text();

  int seeders = 0;
  std::map<std::string, std::string> passwords;  // "alice@example.com" -> password
  for (int i = 0; i < 3; ++i) {
    std::istringstream out(nodes[i]->stdout_text());
    bool printed = false;
    for (std::string line; std::getline(out, line);) {
      auto at = line.find(" password=");
      if (line.rfind("demo-user=", 0) != 0 || at == std::string::npos) continue;
      printed = true;
      passwords[line.substr(10, at - 10)] = line.substr(at + 10);
    }
    // A node that lost the race says who won; one that started after the seed was applied
    // found a seeded directory and says nothing.
    if (printed) ++seeders;
  }
  ASSERT_EQ(seeders, 1) << "one node seeds the pool";
  ASSERT_EQ(passwords.size(), 3u);

  for (int i = 0; i < 3; ++i) {
    auto rooms_named_demo = [&] {
      auto r = pchat::testing::http(nodes[i]->http_port(), "GET", "/api/v1/rooms",
                                    {"Authorization: Bearer " + nodes[i]->admin_token()});
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      int n = 0;
      if (r.status == 200 && j.is_array())
        for (auto& room : j) n += room.value("name", "") == "Demo Room" ? 1 : 0;
      return n;
    };
    EXPECT_TRUE(eventually([&] { return rooms_named_demo() == 1; }, 5s))
        << "n" << i + 1 << " has " << rooms_named_demo() << " demo rooms";
  }

  // The pool is formed before alice joins: a room's owner is decided by the view of the node
  // asked, and a room used while the views still differ may stay with a node that is not its
  // owner (the hand-off of such a room is not on main yet: docs/POOL.md).
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(eventually(
        [&] {
          auto r = pchat::testing::http(nodes[i]->http_port(), "GET", "/api/v1/pool",
                                        {"Authorization: Bearer " + nodes[i]->admin_token()});
          auto j = nlohmann::json::parse(r.body, nullptr, false);
          int live = 0;
          if (r.status == 200 && j.contains("nodes"))
            for (auto& n : j["nodes"]) live += n.value("live", false) ? 1 : 0;
          return live == 3;
        },
        10s))
        << "n" << i + 1 << " never saw the three nodes live";

  // Every demo user signs in on every node with the one printed password, and alice posts
  // in the demo room through each node.
  pchat::client::client_loop loop;
  for (int i = 0; i < 3; ++i) {
    for (auto& [user, password] : passwords) {
      pchat::client::connection_config cc;
      cc.server_port = nodes[i]->sip_port();
      pchat::client::client_config cfg;
      cfg.user = user;
      cfg.password = password;
      pchat::client::chat_client c(loop, cc, cfg);
      ASSERT_TRUE(c.sign_in(10s)) << user << " on n" << i + 1 << ": " << c.failure_reason();
      if (user.rfind("alice@", 0) != 0) continue;
      auto rooms = c.search_rooms("Demo", 5s);
      ASSERT_TRUE(rooms && rooms->size() == 1) << "n" << i + 1;
      auto joined = c.join_and_wait(rooms->front().uri, 5s);
      ASSERT_TRUE(joined && joined->code == 200)
          << "n" << i + 1 << ": " << (joined ? std::to_string(joined->code) : "no answer: " + c.failure_reason());
      ASSERT_TRUE(c.post_and_wait_ack(rooms->front().uri, "hello through n" + std::to_string(i + 1), 5s))
          << "n" << i + 1;
    }
  }
  for (auto& n : nodes) n->stop();
}
