// End-to-end tests: a real pchatd process driven over real sockets by the in-tree XCCOS
// client (tools/client), checking what a user would see.
#include <gtest/gtest.h>

#include <memory>

#include "tests/support/chat_clients.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;
using pchat::client::transport_kind;
using pchat::testing::demo_room;
using pchat::testing::expect_clean;

namespace {

class ServerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data");
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
  }
  void TearDown() override {
    clients_.clear();
    EXPECT_TRUE(server_->stop()) << "pchatd did not stop cleanly on SIGTERM: "
                                 << server_->exit_text() << "\n" << server_->stderr_text();
  }
  chat_client& client(const std::string& user, transport_kind t = transport_kind::tcp,
                      uint64_t seed = 0) {
    connection_config cc;
    cc.transport = t;
    client_config cfg;
    cfg.id_seed = seed;
    return clients_.add(server_->sip_port(), user, cc, cfg);
  }

  pchat::testing::temp_dir dir_{"e2e"};
  std::unique_ptr<pchat::testing::server_process> server_;
  pchat::testing::chat_clients clients_;
};


}  // namespace

TEST_F(ServerE2E, TwoUsersSeeLivePostsAndBackchatOverTcp) {
  auto& alice = client("alice@example.com");
  ASSERT_TRUE(alice.sign_in(10s)) << alice.failure_reason();
  std::string room = demo_room(alice);
  ASSERT_FALSE(room.empty());
  auto j = alice.join_and_wait(room, 5s);
  ASSERT_TRUE(j && j->ok());
  EXPECT_EQ(j->room.name, "Demo Room");
  ASSERT_TRUE(alice.post_and_wait_ack(room, "first from alice", 5s));
  // The author sees her own post: the server echoes it (SIPE never echoes locally).
  ASSERT_TRUE(alice.wait_for_message([](auto& m) { return m.text == "first from alice"; }, 5s));

  auto& bob = client("bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s)) << bob.failure_reason();
  ASSERT_TRUE(bob.join_and_wait(room, 5s));
  auto history = bob.backchat_and_wait(room, 25, 5s);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().text, "first from alice");
  EXPECT_EQ(history->front().author, "sip:alice@example.com");
  // alice is told bob joined.
  EXPECT_TRUE(alice.wait_for_roster([](auto& r) { return r.user == "sip:bob@example.com"; }, 5s));

  uint64_t since = bob.next_message_seq();
  ASSERT_TRUE(alice.post_and_wait_ack(room, "second & <live>", 5s));
  auto live = bob.wait_for_message([](auto& m) { return m.text == "second & <live>"; }, 5s, since);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->author, "sip:alice@example.com");
  expect_clean(alice);
  expect_clean(bob);
}

TEST_F(ServerE2E, UdpClientsWorkTheSameAsTcp) {
  auto& carol = client("carol@example.com", transport_kind::udp);
  auto& dave = client("dave@example.com", transport_kind::udp);
  ASSERT_TRUE(carol.sign_in(10s)) << carol.failure_reason();
  ASSERT_TRUE(dave.sign_in(10s)) << dave.failure_reason();
  std::string room = demo_room(carol);
  ASSERT_TRUE(carol.join_and_wait(room, 5s));
  ASSERT_TRUE(dave.join_and_wait(room, 5s));
  ASSERT_TRUE(carol.post_and_wait_ack(room, "over udp", 5s));
  EXPECT_TRUE(dave.wait_for_message([](auto& m) { return m.text == "over udp"; }, 5s));
  expect_clean(carol);
  expect_clean(dave);
}

TEST_F(ServerE2E, ClientsWithIdenticalCallIdsAndTagsStayApart) {
  // SIPE seeds rand() with whole seconds: two clients started together send the same
  // Call-IDs, tags and envids (sipe-client-notes §3).
  auto& a = client("erin@example.com", transport_kind::tcp, 42);
  auto& b = client("frank@example.com", transport_kind::tcp, 42);
  ASSERT_TRUE(a.sign_in(10s)) << a.failure_reason();
  ASSERT_TRUE(b.sign_in(10s)) << b.failure_reason();
  ASSERT_EQ(a.channel_call_id(), b.channel_call_id());
  std::string room = demo_room(a);
  ASSERT_TRUE(a.join_and_wait(room, 5s));
  ASSERT_TRUE(b.join_and_wait(room, 5s));
  ASSERT_TRUE(a.post_and_wait_ack(room, "from erin", 5s));
  ASSERT_TRUE(b.post_and_wait_ack(room, "from frank", 5s));
  for (auto* c : {&a, &b}) {
    auto m1 = c->wait_for_message([](auto& m) { return m.text == "from erin"; }, 5s);
    auto m2 = c->wait_for_message([](auto& m) { return m.text == "from frank"; }, 5s);
    ASSERT_TRUE(m1 && m2);
    EXPECT_EQ(m1->author, "sip:erin@example.com");
    EXPECT_EQ(m2->author, "sip:frank@example.com");
  }
  expect_clean(a);
  expect_clean(b);
}

TEST_F(ServerE2E, ManyUsersShareOneFrontEndConnection) {
  // Lync front ends route many users' dialogs to the chat pool over a few connections.
  connection_config cc;
  cc.server_port = server_->sip_port();
  auto conn = pchat::client::sip_connection::open(clients_.loop(), cc);
  ASSERT_TRUE(conn);
  std::vector<std::unique_ptr<chat_client>> users;
  for (int i = 0; i < 20; ++i) {
    client_config cfg;
    cfg.user = "fe" + std::to_string(i) + "@example.com";
    ASSERT_TRUE(server_->ensure_user(cfg.user));  // the directory admits only users it knows
    users.push_back(std::make_unique<chat_client>(clients_.loop(), conn, cfg));
    ASSERT_TRUE(users.back()->start());
  }
  ASSERT_TRUE(clients_.loop().run_until(
      [&] {
        for (auto& u : users)
          if (!u->is_ready()) return false;
        return true;
      },
      std::chrono::steady_clock::now() + 15s));
  std::string room = demo_room(*users[0]);
  for (auto& u : users) ASSERT_TRUE(u->join_and_wait(room, 5s));
  ASSERT_TRUE(users[3]->post_and_wait_ack(room, "to everyone on the trunk", 5s));
  for (auto& u : users)
    EXPECT_TRUE(u->wait_for_message([](auto& m) { return m.text == "to everyone on the trunk"; }, 5s))
        << u->self_uri();
  for (auto& u : users) expect_clean(*u);
}

TEST_F(ServerE2E, ClosingTheConnectionIsSignOutAndOthersSeeThePart) {
  auto& alice = client("alice@example.com");
  auto& bob = client("bob@example.com");
  ASSERT_TRUE(alice.sign_in(10s));
  ASSERT_TRUE(bob.sign_in(10s));
  std::string room = demo_room(alice);
  ASSERT_TRUE(alice.join_and_wait(room, 5s));
  ASSERT_TRUE(bob.join_and_wait(room, 5s));
  uint64_t since = alice.next_roster_seq();
  bob.drop_connection();
  auto part = alice.wait_for_roster(
      [](auto& r) {
        return r.user == "sip:bob@example.com" && r.what == pchat::client::roster_event::kind::part;
      },
      5s, since);
  EXPECT_TRUE(part);
}

TEST_F(ServerE2E, BadInputGetsClearErrorsAndTheSessionSurvives) {
  auto& alice = client("alice@example.com");
  ASSERT_TRUE(alice.sign_in(10s));
  std::string room = demo_room(alice);
  // Broken XML: SIP 200, XCCOS error 400.
  auto id = alice.send_raw_info("<xccos ver=\"1\" envid=\"77\"><cmd id=\"cmd:join\" seqid=\"1\">");
  auto r = alice.wait_command(id, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sip_status, 200);
  // Unknown room: XCCOS 404.
  auto j = alice.join_and_wait("ma-chan://example.com/no-such-room", 5s);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->code, 404);
  // Posting to a room not joined: refused inside XCCOS.
  auto p = alice.post(room, "sneaky");
  auto pr = alice.wait_command(p, 5s);
  ASSERT_TRUE(pr);
  EXPECT_EQ(pr->sip_status, 200);
  // ...and not stored: after joining, back-chat does not have it.
  auto joined = alice.join_and_wait(room, 5s);
  ASSERT_TRUE(joined && joined->ok());
  auto b = alice.backchat_and_wait(room, 50, 5s);
  ASSERT_TRUE(b);
  for (auto& m : *b) EXPECT_NE(m.text, "sneaky") << "the refused post was stored";
  // An oversized body: 413 at SIP level, and the connection stays usable.
  std::string big(300 * 1024, 'x');
  auto big_id = alice.send_raw_info("<xccos ver=\"1\" envid=\"78\"><cmd id=\"cmd:requri\"><data>" + big +
                                    "</data></cmd></xccos>");
  auto br = alice.wait_command(big_id, 5s);
  ASSERT_TRUE(br);
  EXPECT_EQ(br->sip_status, 413);
  ASSERT_TRUE(alice.join_and_wait(room, 5s));
  ASSERT_TRUE(alice.post_and_wait_ack(room, "still here", 5s));
  EXPECT_TRUE(alice.wait_for_message([](auto& m) { return m.text == "still here"; }, 5s));
}

TEST_F(ServerE2E, FollowedRoomsPreferenceSurvivesARestart) {
  auto& alice = client("alice@example.com");
  ASSERT_TRUE(alice.sign_in(10s));
  auto id = alice.set_pref("kedzie.GroupChannels", "cm9vbXM=");
  auto r = alice.wait_command(id, 5s);
  ASSERT_TRUE(r && r->sip_ok());
  clients_.clear();
  ASSERT_TRUE(server_->stop());
  ASSERT_TRUE(server_->start()) << server_->stderr_text();
  auto& again = client("alice@example.com");
  ASSERT_TRUE(again.sign_in(10s));
  auto g = again.get_pref("kedzie.GroupChannels");
  auto gr = again.wait_command(g, 5s);
  ASSERT_TRUE(gr && gr->replied);
  EXPECT_EQ(gr->reply.pref_content, "cm9vbXM=");
}

TEST_F(ServerE2E, SimultaneousJoinersAllEndWithTheFullRoster) {
  // Joins racing each other: no client may get a notice for a room before its own
  // rpl:join, and every roster must end complete.
  connection_config cc;
  cc.server_port = server_->sip_port();
  auto conn = pchat::client::sip_connection::open(clients_.loop(), cc);
  ASSERT_TRUE(conn);
  std::vector<std::unique_ptr<chat_client>> users;
  const int n = 30;
  for (int i = 0; i < n; ++i) {
    client_config cfg;
    cfg.user = "ord" + std::to_string(i) + "@example.com";
    ASSERT_TRUE(server_->ensure_user(cfg.user));
    users.push_back(std::make_unique<chat_client>(clients_.loop(), conn, cfg));
    ASSERT_TRUE(users.back()->start());
  }
  ASSERT_TRUE(clients_.loop().run_until(
      [&] {
        for (auto& u : users)
          if (!u->is_ready()) return false;
        return true;
      },
      std::chrono::steady_clock::now() + 15s));
  std::string room = demo_room(*users[0]);
  std::vector<uint64_t> ids;
  for (auto& u : users) ids.push_back(u->join(room));  // all at once
  ASSERT_TRUE(clients_.loop().run_until(
      [&] {
        for (auto& u : users)
          if (!u->in_room(room) || u->rooms().at(room).members.size() < static_cast<size_t>(n))
            return false;
        return true;
      },
      std::chrono::steady_clock::now() + 15s))
      << "some roster never became complete";
  for (auto& u : users) expect_clean(*u);
}

TEST_F(ServerE2E, ASecondSessionOfTheSameUserDoesNotDuplicateRosterNotices) {
  auto& alice = client("alice@example.com");
  ASSERT_TRUE(alice.sign_in(10s));
  std::string room = demo_room(alice);
  ASSERT_TRUE(alice.join_and_wait(room, 5s));
  auto& bob1 = client("bob@example.com");
  auto& bob2 = client("bob@example.com");
  ASSERT_TRUE(bob1.sign_in(10s));
  ASSERT_TRUE(bob2.sign_in(10s));
  uint64_t since = alice.next_roster_seq();
  ASSERT_TRUE(bob1.join_and_wait(room, 5s));
  ASSERT_TRUE(bob2.join_and_wait(room, 5s));
  ASSERT_TRUE(bob2.part_and_wait(room, 5s));
  // A marker post: once alice has it, every earlier notice has arrived too.
  ASSERT_TRUE(bob1.post_and_wait_ack(room, "marker", 5s));
  ASSERT_TRUE(alice.wait_for_message([](auto& m) { return m.text == "marker"; }, 5s));
  int joins = 0, parts = 0;
  for (auto& r : alice.roster_events()) {
    if (r.seq < since || r.user != "sip:bob@example.com") continue;
    (r.what == pchat::client::roster_event::kind::join ? joins : parts)++;
  }
  EXPECT_EQ(joins, 1);
  EXPECT_EQ(parts, 0) << "bob is still in the room through his other session";
}

TEST(DigestE2E, UsersSignInWithTheirPasswordAndNobodyElseDoes) {
  pchat::testing::temp_dir dir("digest");
  pchat::testing::server_process server(dir / "data", {"--auth=digest"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  int rc = 0;
  std::string out = server.ctl("user new --uri zed@example.com --password c0rrect", &rc);
  ASSERT_EQ(rc, 0) << out;
  client_loop loop;
  connection_config cc;
  cc.server_port = server.sip_port();
  auto make = [&](const std::string& user, const std::string& pw) {
    client_config cfg;
    cfg.user = user;
    cfg.password = pw;
    return std::make_unique<chat_client>(loop, cc, cfg);
  };
  auto good = make("zed@example.com", "c0rrect");
  ASSERT_TRUE(good->sign_in(10s)) << good->failure_reason();
  auto rooms = good->search_rooms("demo", 5s);
  ASSERT_TRUE(rooms && !rooms->empty());
  ASSERT_TRUE(good->join_and_wait(rooms->front().uri, 5s));
  ASSERT_TRUE(good->post_and_wait_ack(rooms->front().uri, "authenticated hello", 5s));
  auto wrong = make("zed@example.com", "guess");
  EXPECT_FALSE(wrong->sign_in(10s));
  EXPECT_NE(wrong->failure_reason().find("403"), std::string::npos) << wrong->failure_reason();
  auto none = make("zed@example.com", "");
  EXPECT_FALSE(none->sign_in(10s));
  EXPECT_NE(none->failure_reason().find("no password"), std::string::npos) << none->failure_reason();
  auto stranger = make("nobody@example.com", "whatever");
  EXPECT_FALSE(stranger->sign_in(10s));
  good.reset();
  wrong.reset();
  none.reset();
  stranger.reset();
  EXPECT_TRUE(server.stop());
}
