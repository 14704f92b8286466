// Pool routing end to end (docs/POOL.md "Where a room lives; routing"): a loopback etcd and
// three pchatd processes (tests/support/pool_cluster.h), clients of the in-tree SIP/XCCOS
// client signed in on different nodes. A room lives on one owner (rendezvous over the live
// node names); joins, posts and back-chat from the other nodes travel to it over BASP and
// its fan-out comes back through each node's edge. What is checked is what the clients see.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "pool/placement.h"
#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::testing::eventually;
using pchat::testing::pool_cluster;

namespace {

class PoolRoutingE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool_.start()) << pool_.error();
    pchat::testing::ctl_ok(pool_.node(0), "category new --name Desk --allowed-members domain:example.com");
    // Node 0 answered once it applied the change; the others within their poll.
    for (size_t i = 1; i < pool_.size(); ++i)
      ASSERT_TRUE(eventually([&] { return get(i, "/api/v1/categories/Desk").first == 200; }, 2s)) << i;
  }
  void TearDown() override { clients_.clear(); }

  // GET on node i's admin API: the status and the body parsed (null if not JSON).
  std::pair<int, nlohmann::json> get(size_t i, const std::string& target) {
    return pool_.admin_get(i, target);
  }
  // The URI of room `name` as node i lists it, "" if it does not.
  std::string uri_on(size_t i, const std::string& name) {
    return pool_.room_uri(i, name);
  }
  // The owner of the room with this URI (its id is the URI's last segment) among n1..n3.
  static std::string owner_of(const std::string& uri) {
    return pchat::pool::rank(uri.substr(uri.rfind('/') + 1), {"n1", "n2", "n3"})[0];
  }
  // A room made through node 0 whose owner is node `owner` (names are tried in turn), as
  // every node lists it; its URI.
  std::string room_owned_by(size_t owner) {
    for (int k = 0; k < 32; ++k) {
      std::string name = "desk" + std::to_string(k);
      pchat::testing::ctl_ok(pool_.node(0), "room new --name " + name + " --category Desk --privacy open");
      std::string uri = uri_on(0, name);
      if (uri.empty() || owner_of(uri) != pool_cluster::name(owner)) continue;
      for (size_t i = 0; i < pool_.size(); ++i)
        if (!eventually([&] { return !uri_on(i, name).empty(); }, 2s)) return "";
      return uri;
    }
    return "";
  }
  // Made in the directory and known on every node first: the room's owner may be another
  // node, which admits only users it knows.
  chat_client& signed_in(size_t node, const std::string& user) {
    EXPECT_TRUE(pool_.ensure_user(user)) << pool_.error();
    auto& c = clients_.add(pool_.node(node).sip_port(), user);
    EXPECT_TRUE(c.sign_in(10s)) << user << " on " << pool_cluster::name(node) << ": " << c.failure_reason();
    return c;
  }

  pchat::testing::temp_dir dir_{"pool-routing-e2e"};
  pool_cluster pool_{dir_.path(), 3, {"--demo-content=false"}, "routing"};
  pchat::testing::chat_clients clients_;
};

// How many of `c`'s received messages in `room` carry exactly `text`.
size_t copies(const chat_client& c, const std::string& room, const std::string& text) {
  size_t n = 0;
  for (auto& m : c.messages())
    if (m.room == room && m.text == text) ++n;
  return n;
}

}  // namespace

// Clients on all three nodes (two on one node) in a room n1 owns: every post, whoever wrote
// it on whichever node, reaches every member exactly once; each author has its 200 before
// its own echo; back-chat asked on n3 (not the owner) shows every post.
TEST_F(PoolRoutingE2E, ClientsOnDifferentNodesChatInOneRoom) {
  std::string room = room_owned_by(0);
  ASSERT_FALSE(room.empty());
  struct member {
    chat_client* c;
    std::string name;
  };
  std::vector<member> members = {{&signed_in(0, "ann@example.com"), "ann"},
                                 {&signed_in(1, "bea@example.com"), "bea"},
                                 {&signed_in(1, "bo@example.com"), "bo"},
                                 {&signed_in(2, "cy@example.com"), "cy"}};
  for (auto& m : members) {
    auto joined = m.c->join_and_wait(room, 10s);
    ASSERT_TRUE(joined) << m.name;
    ASSERT_TRUE(joined->ok()) << m.name << ": " << joined->code << " " << joined->text;
  }
  // The roster crosses nodes: the last to join (on n3) sees everyone in the room.
  for (auto& m : members)
    EXPECT_TRUE(eventually([&] { return members.back().c->rooms().at(room).members.count("sip:" + m.name + "@example.com") == 1; }, 5s))
        << m.name << " missing from cy's roster";

  const int rounds = 5;
  std::vector<std::string> texts;
  for (int r = 0; r < rounds; ++r)
    for (auto& m : members) {
      std::string text = m.name + "-" + std::to_string(r);
      texts.push_back(text);
      uint64_t since = m.c->next_message_seq();
      uint64_t id = m.c->post(room, text);
      ASSERT_NE(id, 0u);
      auto done = m.c->wait_command(id, 10s);
      ASSERT_TRUE(done && done->sip_ok()) << text << ": " << (done ? done->sip_status : 0);
      auto echo = m.c->wait_for_message([&](auto& p) { return p.room == room && p.text == text; }, 5s, since);
      ASSERT_TRUE(echo) << text << ": no echo to its author";
      EXPECT_LE(done->sent_at + done->sip_latency, echo->received) << text << ": echo before the 200";
    }
  for (auto& m : members)
    for (auto& text : texts) {
      EXPECT_TRUE(m.c->wait_for_message([&](auto& p) { return p.room == room && p.text == text; }, 5s))
          << m.name << " never got " << text;
      EXPECT_EQ(copies(*m.c, room, text), 1u) << m.name << " got " << text << " more than once";
    }

  // Back-chat on n3 (not the owner): every post, once, in the order they were acknowledged.
  auto history = members.back().c->backchat_and_wait(room, 100, 10s);
  ASSERT_TRUE(history);
  std::vector<std::string> got;
  for (auto& p : *history) got.push_back(p.text);
  EXPECT_EQ(got, texts);
  for (auto& m : members) pchat::testing::expect_clean(*m.c);
}

// A room made through n2's admin API is joined from n3 and chatted in with a client on n1,
// wherever it lives.
TEST_F(PoolRoutingE2E, ARoomMadeThroughNode2IsJoinedFromNode3) {
  auto made = pchat::testing::http(pool_.node(1).http_port(), "POST", "/api/v1/rooms",
                                   {"Authorization: Bearer " + pool_.node(1).admin_token(),
                                    "Content-Type: application/json"},
                                   R"({"name":"lab","category":"Desk","privacy":"open"})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string room;
  ASSERT_TRUE(eventually([&] { return !(room = uri_on(2, "lab")).empty() && !uri_on(0, "lab").empty(); }, 2s));
  auto& cy = signed_in(2, "cy@example.com");
  auto& ann = signed_in(0, "ann@example.com");
  for (auto* c : {&cy, &ann}) {
    auto joined = c->join_and_wait(room, 10s);
    ASSERT_TRUE(joined);
    EXPECT_TRUE(joined->ok()) << joined->code << " " << joined->text;
  }
  ASSERT_TRUE(cy.post_and_wait_ack(room, "made on n2, said on n3", 10s));
  EXPECT_TRUE(ann.wait_for_message([&](auto& p) { return p.room == room && p.text == "made on n2, said on n3"; }, 5s));
  std::printf("room lab (made through n2) lives on %s\n", owner_of(room).c_str());
  for (auto* c : {&cy, &ann}) pchat::testing::expect_clean(*c);
}

namespace {

// Whether node i's pool status lists `room_id` among the rooms it has claimed.
bool claims(pool_cluster& pool, size_t i, const std::string& room_id) {
  auto s = pool.pool_status(i);
  if (!s.is_object()) return false;
  for (auto& r : s.value("rooms", nlohmann::json::array()))
    if (r.value("room_id", "") == room_id) return true;
  return false;
}

// Node i's status says node `name` is draining (`on`) or not.
bool shows_draining(pool_cluster& pool, size_t i, const std::string& name, bool on) {
  auto s = pool.pool_status(i);
  if (!s.is_object()) return false;
  for (auto& n : s.value("nodes", nlohmann::json::array()))
    if (n.value("name", "") == name) return n.value("live", false) && n.value("draining", false) == on;
  return false;
}

}  // namespace

// `pchatctl pool drain --node n2` through n1's admin API while members on n1 and n3 chat in
// a room n2 owns: every node shows n2 draining, the room moves (n2 releases its claim, the
// next owner claims it) and every post is acknowledged and seen once by every member;
// `pool undrain` brings the room back to n2. Bad requests are refused with reasons.
TEST_F(PoolRoutingE2E, PoolDrainHandsANodesRoomsOnAndUndrainTakesThemBack) {
  std::string room = room_owned_by(1);
  ASSERT_FALSE(room.empty());
  const std::string room_id = room.substr(room.rfind('/') + 1);
  auto& ann = signed_in(0, "ann@example.com");
  auto& cy = signed_in(2, "cy@example.com");
  for (auto* c : {&ann, &cy}) {
    auto joined = c->join_and_wait(room, 10s);
    ASSERT_TRUE(joined && joined->ok());
  }
  std::vector<std::string> texts;
  auto say = [&](chat_client& c, const std::string& text) {
    texts.push_back(text);
    EXPECT_TRUE(c.post_and_wait_ack(room, text, 10s)) << text;
  };
  say(ann, "before the drain");
  ASSERT_TRUE(eventually([&] { return claims(pool_, 1, room_id); }, 5s)) << "n2 serves its room";

  int rc = -1;
  std::string out = pool_.node(0).ctl("pool drain --node n2", &rc);
  ASSERT_EQ(rc, 0) << out;
  for (size_t i = 0; i < pool_.size(); ++i)
    EXPECT_TRUE(eventually([&] { return shows_draining(pool_, i, "n2", true); }, 3s)) << "node " << i;
  std::string table = pool_.node(2).ctl("pool status", &rc);
  EXPECT_NE(table.find("draining"), std::string::npos) << table;
  // Posts go on while the room moves; it ends claimed by its next owner, not by n2.
  const size_t next = pchat::pool::rank(room_id, {"n1", "n3"})[0] == "n1" ? 0 : 2;
  for (int i = 0; i < 4; ++i) {
    say(ann, "draining a" + std::to_string(i));
    say(cy, "draining c" + std::to_string(i));
  }
  EXPECT_TRUE(eventually([&] { return claims(pool_, next, room_id) && !claims(pool_, 1, room_id); }, 5s))
      << "the room's claim moved from n2 to " << pool_cluster::name(next);

  out = pool_.node(2).ctl("pool undrain --node n2", &rc);
  ASSERT_EQ(rc, 0) << out;
  for (size_t i = 0; i < pool_.size(); ++i)
    EXPECT_TRUE(eventually([&] { return shows_draining(pool_, i, "n2", false); }, 3s)) << "node " << i;
  for (int i = 0; i < 3; ++i) say(cy, "back " + std::to_string(i));
  EXPECT_TRUE(eventually([&] { return claims(pool_, 1, room_id); }, 5s)) << "n2 took its room back";
  say(ann, "after the return");

  for (auto* c : {&ann, &cy})
    for (auto& text : texts) {
      EXPECT_TRUE(c->wait_for_message([&](auto& p) { return p.room == room && p.text == text; }, 5s)) << text;
      EXPECT_EQ(copies(*c, room, text), 1u) << text;
    }
  // Every acknowledged post once in the room's history, in order.
  auto history = cy.backchat_and_wait(room, 100, 10s);
  ASSERT_TRUE(history);
  std::vector<std::string> got;
  for (auto& p : *history) got.push_back(p.text);
  EXPECT_EQ(got, texts);
  for (auto* c : {&ann, &cy}) pchat::testing::expect_clean(*c);

  // Refusals: no such node, no --node.
  out = pool_.node(0).ctl("pool drain --node nobody", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("no live node nobody"), std::string::npos) << out;
  out = pool_.node(0).ctl("pool drain", &rc);
  EXPECT_EQ(rc, 2) << out;
}

// `pool drain` survives a restart (docs/POOL.md "Handing back"): n2 is drained, its room
// moves; n2 is killed and started again on its data and comes back still draining on every
// node's status, owning nothing while a member posts; `pool undrain` then brings the room
// back to it.
TEST_F(PoolRoutingE2E, ADrainedNodeThatRestartsStaysDrainedUntilUndrained) {
  std::string room = room_owned_by(1);
  ASSERT_FALSE(room.empty());
  const std::string room_id = room.substr(room.rfind('/') + 1);
  auto& ann = signed_in(0, "ann@example.com");
  auto joined = ann.join_and_wait(room, 10s);
  ASSERT_TRUE(joined && joined->ok());
  ASSERT_TRUE(ann.post_and_wait_ack(room, "before the drain", 10s));
  ASSERT_TRUE(eventually([&] { return claims(pool_, 1, room_id); }, 5s)) << "n2 serves its room";

  int rc = -1;
  std::string out = pool_.node(0).ctl("pool drain --node n2", &rc);
  ASSERT_EQ(rc, 0) << out;
  const size_t next = pchat::pool::rank(room_id, {"n1", "n3"})[0] == "n1" ? 0 : 2;
  ASSERT_TRUE(ann.post_and_wait_ack(room, "while drained", 10s));
  EXPECT_TRUE(eventually([&] { return claims(pool_, next, room_id) && !claims(pool_, 1, room_id); }, 5s));

  pool_.kill(1);
  ASSERT_TRUE(pool_.restart(1)) << pool_.error();
  for (size_t i = 0; i < pool_.size(); ++i) {
    EXPECT_TRUE(pool_.wait_view(i, {"n1", "n2", "n3"}, 10s)) << "node " << i;
    EXPECT_TRUE(eventually([&] { return shows_draining(pool_, i, "n2", true); }, 3s))
        << pool_cluster::name(i) << " does not show the restarted n2 draining";
  }
  EXPECT_NE(pool_.node(1).stderr_text().find("still draining"), std::string::npos) << "n2 says why it drains";
  ASSERT_TRUE(ann.post_and_wait_ack(room, "after the restart", 10s));
  EXPECT_TRUE(claims(pool_, next, room_id));
  EXPECT_FALSE(claims(pool_, 1, room_id)) << "the restarted, still drained n2 took a room";

  out = pool_.node(2).ctl("pool undrain --node n2", &rc);
  ASSERT_EQ(rc, 0) << out;
  for (size_t i = 0; i < pool_.size(); ++i)
    EXPECT_TRUE(eventually([&] { return shows_draining(pool_, i, "n2", false); }, 3s)) << "node " << i;
  EXPECT_TRUE(eventually([&] { return claims(pool_, 1, room_id); }, 10s)) << "n2 took its room back";
  ASSERT_TRUE(ann.post_and_wait_ack(room, "after the undrain", 10s));
  auto history = ann.backchat_and_wait(room, 100, 10s);
  ASSERT_TRUE(history);
  std::vector<std::string> got;
  for (auto& p : *history) got.push_back(p.text);
  EXPECT_EQ(got, (std::vector<std::string>{"before the drain", "while drained", "after the restart", "after the undrain"}));
  pchat::testing::expect_clean(ann);
}

// Failover end to end (issue 12): members on n1 and n3 post into a room n2 owns; n2 is
// killed (-9) with posts in flight. Every post is acknowledged once (the in-flight ones
// after the sessions sent them again to the new owner), with no XCCOS error; each is seen
// once by every member and is once in the history, in order. Prints how long after the
// kill the in-flight posts were acknowledged and the room took a new post.
TEST_F(PoolRoutingE2E, KillingTheOwnerMidStreamLosesAndDoublesNoAcknowledgedPost) {
  std::string room = room_owned_by(1);
  ASSERT_FALSE(room.empty());
  auto& ann = signed_in(0, "ann@example.com");
  auto& cy = signed_in(2, "cy@example.com");
  for (auto* c : {&ann, &cy}) {
    auto joined = c->join_and_wait(room, 10s);
    ASSERT_TRUE(joined && joined->ok());
  }
  std::vector<std::string> texts;
  // Posts from both members without waiting; then each acknowledged (200, no XCCOS error).
  auto burst = [&](const std::string& tag, int n, const std::function<void()>& meanwhile) {
    std::vector<std::pair<chat_client*, uint64_t>> sent;
    for (int i = 0; i < n; ++i)
      for (auto* c : {&ann, &cy}) {
        std::string text = tag + "-" + (c == &ann ? "ann" : "cy") + "-" + std::to_string(i);
        texts.push_back(text);
        sent.emplace_back(c, c->post(room, text));
      }
    if (meanwhile) meanwhile();
    for (auto& [c, id] : sent) {
      auto done = c->wait_command(id, 15s);
      EXPECT_TRUE(done && done->ok() && (!done->replied || done->reply.code == 200))
          << tag << ": " << (done ? std::to_string(done->sip_status) + " " + std::to_string(done->reply.code) : "none");
    }
  };
  burst("before", 3, {});
  std::chrono::steady_clock::time_point killed;
  burst("in-flight", 3, [&] {
    pool_.kill(1);
    killed = std::chrono::steady_clock::now();
  });
  auto in_flight_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
  ASSERT_TRUE(ann.post_and_wait_ack(room, "first after", 10s));
  texts.push_back("first after");
  auto serving_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
  burst("after", 3, {});
  std::printf("kill -9 of the owner n2: posts in flight acknowledged %lld ms after the kill, a new post %lld ms after\n",
              static_cast<long long>(in_flight_ms.count()), static_cast<long long>(serving_ms.count()));
  EXPECT_LT(serving_ms, 5s) << "the room served again too late";

  for (auto* c : {&ann, &cy})
    for (auto& text : texts) {
      EXPECT_TRUE(c->wait_for_message([&](auto& p) { return p.room == room && p.text == text; }, 5s)) << text;
      EXPECT_EQ(copies(*c, room, text), 1u) << text;
    }
  auto history = cy.backchat_and_wait(room, 100, 10s);
  ASSERT_TRUE(history);
  std::map<std::string, int> seen;
  for (auto& p : *history) seen[p.text]++;
  for (auto& text : texts) EXPECT_EQ(seen[text], 1) << text << " in the history " << seen[text] << " times";
  EXPECT_EQ(history->size(), texts.size());
  for (auto* c : {&ann, &cy}) pchat::testing::expect_clean(*c);
}

// A user's preferences (the rooms SIPE follows, kept in kedzie.GroupChannels: the client's
// read state on the server) are the pool's, not their node's: set through n1, they are
// there when the user signs in on n2 or n3, also after n1 was killed (-9).
TEST_F(PoolRoutingE2E, AUsersPreferencesSurviveTheKillOfTheNodeTheyWereSetOn) {
  auto& ann = signed_in(0, "ann@example.com");
  const std::string followed = "PGZvbGxvd2VkLz4=";
  auto set = ann.wait_command(ann.set_pref("kedzie.GroupChannels", followed), 10s);
  ASSERT_TRUE(set && set->ok()) << (set ? set->reply.data_xml : "no answer");
  pool_.kill(0);
  for (size_t node : {size_t{1}, size_t{2}}) {
    auto& again = signed_in(node, "ann@example.com");
    // Each node applies the pool's log within its poll (100 ms): asked until it has.
    std::string got;
    auto until = std::chrono::steady_clock::now() + 5s;
    while (got != followed && std::chrono::steady_clock::now() < until) {
      auto r = again.wait_command(again.get_pref("kedzie.GroupChannels"), 5s);
      ASSERT_TRUE(r && r->ok()) << pool_cluster::name(node);
      got = r->reply.pref_content;
      if (got != followed) again.loop().run_once(50);  // the client's loop, not a bare sleep
    }
    EXPECT_EQ(got, followed) << "ann's preference on " << pool_cluster::name(node);
  }
}

namespace {

// The value of the unlabelled sample `name` in node i's /metrics, or -1 when it is absent.
double metric(pool_cluster& pool, size_t i, const std::string& name) {
  auto r = pchat::testing::http(pool.node(i).http_port(), "GET", "/metrics");
  if (r.status != 200) return -1;
  size_t at = 0;
  while ((at = r.body.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || r.body[at - 1] == '\n') return std::stod(r.body.substr(at + name.size() + 1));
    at += name.size();
  }
  return -1;
}

// How many claims in a `pool status` answer name `owner`.
size_t claims_of(const nlohmann::json& status, const std::string& owner) {
  size_t n = 0;
  if (!status.is_object()) return 0;
  for (auto& c : status.value("claims", nlohmann::json::array())) n += c.value("owner", "") == owner ? 1 : 0;
  return n;
}

// The texts of room `room_id` in node i's own store, in seq order (POST /api/v1/export
// reads the node's copy of the log, not the owner's); nullopt when the node does not answer.
std::optional<std::vector<std::string>> room_log(pool_cluster& pool, size_t i, const std::string& room_id) {
  auto& n = pool.node(i);
  auto r = pchat::testing::http(n.http_port(), "POST", "/api/v1/export",
                                {"Authorization: Bearer " + n.admin_token(), "Content-Type: application/json"}, "{}");
  if (r.status != 200) return std::nullopt;
  std::map<uint64_t, std::string> by_seq;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == "message" && j.value("room", "") == room_id)
      by_seq[j.value("seq", uint64_t{0})] = j.value("text", "");
  }
  std::vector<std::string> out;
  for (auto& [seq, text] : by_seq) out.push_back(text);
  return out;
}

}  // namespace

// `pchatctl pool status --json` on n1 lists every claimed room with its owner and epoch (a
// room owned by each of the three nodes, each loaded by a post) and how many rooms each
// node owns, adding up to the claims; every node's /metrics shows it serving, three nodes
// live, the rooms it owns as that status counts them, and the post it shipped to a follower.
TEST_F(PoolRoutingE2E, PoolStatusShowsEveryNodesRoomsAndMetricsMatch) {
  std::map<std::string, std::string> room_of;  // owner name -> room URI
  for (int k = 0; k < 32 && room_of.size() < 3; ++k) {
    std::string name = "status" + std::to_string(k);
    pchat::testing::ctl_ok(pool_.node(0), "room new --name " + name + " --category Desk --privacy open");
    std::string uri = uri_on(0, name);
    ASSERT_FALSE(uri.empty()) << name;
    if (room_of.count(owner_of(uri))) continue;
    for (size_t i = 0; i < pool_.size(); ++i)
      ASSERT_TRUE(eventually([&] { return !uri_on(i, name).empty(); }, 2s)) << name << " on " << i;
    room_of[owner_of(uri)] = uri;
  }
  ASSERT_EQ(room_of.size(), 3u);
  auto& ann = signed_in(0, "ann@example.com");
  for (auto& [owner, uri] : room_of) {
    auto joined = ann.join_and_wait(uri, 10s);
    ASSERT_TRUE(joined && joined->ok()) << uri;
    ASSERT_TRUE(ann.post_and_wait_ack(uri, "counted on " + owner, 10s)) << uri;
  }

  nlohmann::json st;
  ASSERT_TRUE(eventually(
      [&] {
        st = pchat::testing::ctl_json_or_null(pool_.node(0), "pool status");
        return st.is_object() && claims_of(st, "n1") && claims_of(st, "n2") && claims_of(st, "n3");
      },
      5s))
      << st.dump();
  EXPECT_FALSE(st.value("claims_truncated", true));
  for (auto& [owner, uri] : room_of) {
    std::string id = uri.substr(uri.rfind('/') + 1);
    bool listed = false;
    for (auto& c : st["claims"])
      if (c.value("room_id", "") == id) {
        listed = true;
        EXPECT_EQ(c.value("owner", ""), owner) << id;
        EXPECT_GT(c.value("epoch", int64_t{0}), 0) << id;
      }
    EXPECT_TRUE(listed) << id << " missing: " << st.dump();
  }
  size_t sum = 0;
  for (auto& n : st["nodes"]) {
    EXPECT_EQ(n.value("rooms_owned", size_t{0}), claims_of(st, n.value("name", ""))) << n.dump();
    sum += n.value("rooms_owned", size_t{0});
  }
  EXPECT_EQ(sum, st["claims"].size());

  for (size_t i = 0; i < pool_.size(); ++i) {
    const std::string me = pool_cluster::name(i);
    EXPECT_EQ(metric(pool_, i, "pchat_pool_serving"), 1) << me;
    EXPECT_EQ(metric(pool_, i, "pchat_pool_nodes_live"), 3) << me;
    // The gauge is the node's own claims; etcd's list (read through n1) says the same.
    double gauge = -2;
    size_t listed = 0;
    EXPECT_TRUE(eventually(
        [&] {
          listed = claims_of(pool_.pool_status(0), me);
          gauge = metric(pool_, i, "pchat_pool_rooms_owned");
          return listed >= 1 && gauge == static_cast<double>(listed);
        },
        5s))
        << me << ": gauge " << gauge << ", etcd " << listed;
    EXPECT_GE(metric(pool_, i, "pchat_pool_shipped_total"), 1) << me;
    EXPECT_EQ(metric(pool_, i, "pchat_pool_follower_failures_total"), 0) << me;
  }
  pchat::testing::expect_clean(ann);
}

// Fencing end to end (issue 12 "Done when"): the owner n2 of a room is stopped (SIGSTOP)
// while members on n1 and n3 post and a member on n2 has posts in n2's socket. Another node
// serves the room within 2 s (measured from the stop to the first acknowledged post) and
// the members go on posting. n2 is resumed: its held posts are not accepted at its old
// epoch anywhere (refused by the new epoch, or given back as moved); its session sends
// them again to the owner, and they are acknowledged once. n2 catches up and takes its room
// back. Every acknowledged post is then once, in the same order, in the log of every node
// that holds the room, and seen once by every member.
TEST_F(PoolRoutingE2E, AStoppedOwnerIsReplacedWithin2sAndNoneOfItsStaleWritesIsAccepted) {
  std::string room = room_owned_by(1);
  ASSERT_FALSE(room.empty());
  const std::string room_id = room.substr(room.rfind('/') + 1);
  auto& ann = signed_in(0, "ann@example.com");
  auto& bo = signed_in(1, "bo@example.com");
  auto& cy = signed_in(2, "cy@example.com");
  for (auto* c : {&ann, &bo, &cy}) {
    auto joined = c->join_and_wait(room, 10s);
    ASSERT_TRUE(joined && joined->ok());
  }
  std::vector<std::string> acked;  // every acknowledged post, in the order acknowledged
  auto say = [&](chat_client& c, const std::string& text) {
    bool ok = c.post_and_wait_ack(room, text, 10s);
    EXPECT_TRUE(ok) << text;
    if (ok) acked.push_back(text);
  };
  say(ann, "before a");
  say(bo, "before b");
  say(cy, "before c");
  ASSERT_TRUE(eventually([&] { return claims(pool_, 1, room_id); }, 5s)) << "n2 serves its room";

  pool_.pause(1);
  const auto stopped = std::chrono::steady_clock::now();
  // bo's posts reach n2's socket and wait there while the process is stopped.
  std::vector<std::pair<uint64_t, std::string>> held;
  for (int i = 0; i < 3; ++i) {
    std::string text = "held b" + std::to_string(i);
    held.emplace_back(bo.post(room, text), text);
    ASSERT_NE(held.back().first, 0u);
  }
  say(ann, "stopped a0");
  auto served = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stopped);
  const size_t next = pchat::pool::rank(room_id, {"n1", "n3"})[0] == "n1" ? 0 : 2;
  EXPECT_TRUE(eventually([&] { return claims(pool_, next, room_id); }, 5s))
      << "the room is claimed by " << pool_cluster::name(next);
  for (int i = 1; i < 4; ++i) {
    say(ann, "stopped a" + std::to_string(i));
    say(cy, "stopped c" + std::to_string(i));
  }
  std::printf("SIGSTOP of the owner n2: the room served again by %s %lld ms after the stop\n",
              pool_cluster::name(next).c_str(), static_cast<long long>(served.count()));
  EXPECT_LT(served, 2s) << "the stopped owner was replaced too late";

  pool_.resume(1);
  const auto resumed = std::chrono::steady_clock::now();
  // n2's held posts: acknowledged once each, by the room's owner (bo's session sent them
  // again), never at n2's old epoch.
  for (auto& [id, text] : held) {
    EXPECT_TRUE(bo.wait_command(id, 20s)) << text << ": no SIP answer";
    // A post's failure is a reply INFO after its SIP 200, its success the echo: wait for
    // either before reading what it was.
    bo.wait_for_message([&](auto& p) { return p.room == room && p.text == text; }, 10s);
    auto done = bo.wait_command(id, 0ms);
    bool accepted = done && done->sip_ok() && !(done->replied && done->reply.code != 200);
    EXPECT_TRUE(accepted) << text << ": "
                          << (done ? std::to_string(done->sip_status) + " " + std::to_string(done->reply.code) + " " +
                                         done->reply.text
                                   : "none");
    if (accepted) acked.push_back(text);
  }
  // n2 returns to every view, catches up and takes its room back (it is rank 0 again).
  for (size_t i = 0; i < pool_.size(); ++i)
    EXPECT_TRUE(pool_.wait_view(i, {"n1", "n2", "n3"}, 10s)) << "node " << i;
  EXPECT_TRUE(eventually([&] { return claims(pool_, 1, room_id); }, 15s)) << "n2 took its room back";
  auto back_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - resumed);
  std::printf("n2 resumed: its room back on n2 %lld ms after SIGCONT\n", static_cast<long long>(back_ms.count()));
  say(ann, "after a");
  say(bo, "after b");
  say(cy, "after c");

  // Every member saw every acknowledged post once.
  for (auto* c : {&ann, &bo, &cy}) {
    const char* who = c == &ann ? "ann (n1)" : c == &bo ? "bo (n2)" : "cy (n3)";
    for (auto& text : acked) {
      EXPECT_TRUE(c->wait_for_message([&](auto& p) { return p.room == room && p.text == text; }, 5s))
          << text << " never reached " << who;
      EXPECT_EQ(copies(*c, room, text), 1u) << text << " reached " << who;
    }
  }
  // Every node's copy of the log: no post twice, nothing that was not acknowledged (a stale
  // write n2 made at its old epoch was dropped when it caught up), the same order on every
  // node; the owner's and its follower's copies complete.
  auto owner_log = room_log(pool_, 1, room_id);
  ASSERT_TRUE(owner_log);
  std::map<std::string, int> in_owner;
  for (auto& t : *owner_log) in_owner[t]++;
  for (auto& t : acked) EXPECT_EQ(in_owner[t], 1) << t << " in n2's log " << in_owner[t] << " times";
  EXPECT_EQ(owner_log->size(), acked.size()) << "n2's log holds a post that was never acknowledged";
  size_t complete = 0;
  for (size_t i = 0; i < pool_.size(); ++i) {
    auto log = room_log(pool_, i, room_id);
    ASSERT_TRUE(log) << "node " << i;
    if (log->empty()) continue;
    ASSERT_LE(log->size(), owner_log->size()) << pool_cluster::name(i);
    EXPECT_TRUE(std::equal(log->begin(), log->end(), owner_log->begin()))
        << pool_cluster::name(i) << "'s copy differs from the owner's";
    if (log->size() == owner_log->size()) ++complete;
  }
  EXPECT_GE(complete, 2u) << "the owner and its follower hold the whole log";
  // Each member's own posts in the order it made them.
  auto author = [](const std::string& text) { return text[text.rfind(' ') + 1]; };  // "held b0": b
  for (char who : {'a', 'b', 'c'}) {
    std::vector<std::string> mine_acked, mine_logged;
    for (auto& t : acked)
      if (author(t) == who) mine_acked.push_back(t);
    for (auto& t : *owner_log)
      if (author(t) == who) mine_logged.push_back(t);
    EXPECT_EQ(mine_logged, mine_acked) << who;
  }
  for (auto* c : {&ann, &bo, &cy}) pchat::testing::expect_clean(*c);
}
