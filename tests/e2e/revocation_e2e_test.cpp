// Revocation at once (issue 13 point 3, docs/SECURITY.md "Revocation"): every way an
// administrator takes access away, done through pchatctl as an administrator would, removes
// a signed-in, joined, posting user from the room within one second, as seen from that
// user's client (a server BYE, or an ntc:part about itself and its next post refused) and
// from another member's (the roster's part). One pchatd with Digest sign-in serves the whole
// suite; each test has its own users, category and room.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::roster_event;

namespace {

// What the issue asks for: the eviction is seen within this after the admin change returned.
constexpr auto kWithin = 1s;

class Revocation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new pchat::testing::temp_dir("revoke");
    server_ = new pchat::testing::server_process(*dir_ / "data", {"--auth=digest"});
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
  }
  static void TearDownTestSuite() {
    server_->stop();
    delete server_;
    delete dir_;
  }
  void TearDown() override { clients_.clear(); }

  void ctl(const std::string& args) { pchat::testing::ctl_ok(*server_, args); }

  // A fresh pair for one test: `victim` (password "old-<n>") and `witness`, both members of
  // a closed room in a category of their own, signed in over Digest, joined, and the victim
  // has posted (the witness saw it).
  struct scene {
    std::string tag, victim, witness, category, room, uri;
    chat_client* v = nullptr;
    chat_client* w = nullptr;
    std::shared_ptr<pchat::client::sip_connection> v_conn;
  };
  scene set_up(const std::string& tag, const std::string& members_extra = {}) {
    scene s;
    s.tag = tag;
    s.victim = "v-" + tag + "@example.com";
    s.witness = "w-" + tag + "@example.com";
    s.category = "cat-" + tag;
    s.room = "room-" + tag;
    ctl("user new --uri " + s.victim + " --password old-" + tag);
    ctl("user new --uri " + s.witness + " --password w-" + tag);
    ctl("category new --name " + s.category + " --allowed-members domain:example.com");
    std::string members = members_extra.empty() ? "sip:" + s.victim : members_extra;
    ctl("room new --name " + s.room + " --category " + s.category + " --privacy closed --members " + members +
        ",sip:" + s.witness);
    int rc = 0;
    std::string out = server_->ctl("--json room get --identity " + s.room, &rc);
    auto at = out.find("ma-chan://");
    if (at != std::string::npos) s.uri = out.substr(at, out.find('"', at) - at);
    EXPECT_FALSE(s.uri.empty()) << out;
    pchat::client::connection_config cc;
    cc.server_port = server_->sip_port();
    s.v_conn = pchat::client::sip_connection::open(clients_.loop(), cc);
    client_config vc;
    vc.password = "old-" + tag;
    s.v = &clients_.add_on(s.v_conn, s.victim, vc);
    client_config wc;
    wc.password = "w-" + tag;
    s.w = &clients_.add(server_->sip_port(), s.witness, {}, wc);
    EXPECT_TRUE(s.v->sign_in(10s)) << s.v->failure_reason();
    EXPECT_TRUE(s.w->sign_in(10s)) << s.w->failure_reason();
    EXPECT_TRUE(s.v->join_and_wait(s.uri, 5s));
    EXPECT_TRUE(s.w->join_and_wait(s.uri, 5s));
    uint64_t since = s.w->next_message_seq();
    EXPECT_TRUE(s.v->post_and_wait_ack(s.uri, "before " + tag, 5s));
    EXPECT_TRUE(s.w->wait_for_message([&](auto& m) { return m.text == "before " + tag; }, 5s, since));
    return s;
  }

  // The witness sees the victim leave the room within kWithin of `since_seq`.
  static void expect_witness_sees_part(scene& s, uint64_t since_seq) {
    std::string who = "sip:" + s.victim;
    auto part = s.w->wait_for_roster(
        [&](const roster_event& r) { return r.user == who && r.room == s.uri && r.what == roster_event::kind::part; },
        kWithin, since_seq);
    EXPECT_TRUE(part) << s.tag << ": the other member saw no part within 1 s";
  }

  // The victim's session is ended by a server BYE within kWithin; its client can send nothing
  // more on it.
  static void expect_bye(scene& s) {
    bool ended = s.v->loop().run_until([&] { return !s.v->is_ready(); }, kWithin);
    EXPECT_TRUE(ended) << s.tag << ": the revoked user's dialog is still up after 1 s";
    EXPECT_NE(s.v->failure_reason().find("server sent BYE"), std::string::npos) << s.v->failure_reason();
    EXPECT_EQ(s.v->post(s.uri, "after " + s.tag), 0u) << "no dialog left to post on";
  }

  // The victim is told it left the room (ntc:part about itself) within kWithin, and a post it
  // then sends is refused inside XCCOS and reaches nobody.
  void expect_kicked(scene& s, uint64_t victim_since) {
    std::string who = "sip:" + s.victim;
    auto self_part = s.v->wait_for_roster(
        [&](const roster_event& r) { return r.user == who && r.room == s.uri && r.what == roster_event::kind::part; },
        kWithin, victim_since);
    EXPECT_TRUE(self_part) << s.tag << ": the removed user was not told within 1 s";
    expect_post_refused(s);
  }

  // A post by the victim gets an XCCOS error, and the witness never sees it: the witness's
  // own later post arrives without it before.
  void expect_post_refused(scene& s) {
    uint64_t since = s.w->next_message_seq();
    uint64_t id = s.v->post(s.uri, "after " + s.tag);
    ASSERT_NE(id, 0u);
    bool replied = s.v->loop().run_until(
        [&] {
          auto* c = s.v->find_command(id);
          return c && c->done && (c->replied || !c->sip_ok());
        },
        5s);
    ASSERT_TRUE(replied);
    auto* c = s.v->find_command(id);
    // SIP 200 at once (xccos-wire.md §4.5), the refusal inside XCCOS.
    EXPECT_TRUE(c->replied && c->reply.code == 403)
        << "a post after the revocation was not refused: SIP " << c->sip_status << " XCCOS "
        << (c->replied ? std::to_string(c->reply.code) : std::string("none"));
    ASSERT_TRUE(s.w->post_and_wait_ack(s.uri, "marker " + s.tag, 5s));
    ASSERT_TRUE(s.w->wait_for_message([&](auto& m) { return m.text == "marker " + s.tag; }, 5s, since));
    for (auto& m : s.w->messages()) {
      if (m.seq < since) continue;
      EXPECT_NE(m.text, "after " + s.tag) << "the revoked user's post reached the room";
    }
  }

  // After a BYE for lost credentials: another sign-in on the connection the victim used,
  // with the old password, is challenged and refused (the connection is no longer trusted).
  void expect_old_password_refused_on_the_same_connection(scene& s) {
    client_config vc;
    vc.password = "old-" + s.tag;
    auto& again = clients_.add_on(s.v_conn, s.victim, vc);
    EXPECT_FALSE(again.sign_in(10s)) << s.tag << ": the connection still trusts the old password";
  }

  static pchat::testing::temp_dir* dir_;
  static pchat::testing::server_process* server_;
  pchat::testing::chat_clients clients_;
};

pchat::testing::temp_dir* Revocation::dir_ = nullptr;
pchat::testing::server_process* Revocation::server_ = nullptr;

}  // namespace

TEST_F(Revocation, DeletingAUserEndsTheirSessionAtOnce) {
  auto s = set_up("del");
  ASSERT_FALSE(HasFailure());
  uint64_t since = s.w->next_roster_seq();
  ctl("user remove --uri " + s.victim);
  expect_bye(s);
  expect_witness_sees_part(s, since);
  expect_old_password_refused_on_the_same_connection(s);
}

TEST_F(Revocation, DisablingAUserEndsTheirSessionAtOnce) {
  auto s = set_up("dis");
  ASSERT_FALSE(HasFailure());
  uint64_t since = s.w->next_roster_seq();
  ctl("user set --uri " + s.victim + " --enabled false");
  expect_bye(s);
  expect_witness_sees_part(s, since);
  expect_old_password_refused_on_the_same_connection(s);
}

TEST_F(Revocation, APasswordChangeEndsTheSessionAndTheOldPasswordNoLongerSignsIn) {
  auto s = set_up("pwd");
  ASSERT_FALSE(HasFailure());
  uint64_t since = s.w->next_roster_seq();
  ctl("user set --uri " + s.victim + " --password new-pwd");
  expect_bye(s);
  expect_witness_sees_part(s, since);
  expect_old_password_refused_on_the_same_connection(s);
  client_config vc;
  vc.password = "new-pwd";
  auto& fresh = clients_.add(server_->sip_port(), s.victim, {}, vc);
  EXPECT_TRUE(fresh.sign_in(10s)) << "the new password signs in: " << fresh.failure_reason();
  EXPECT_TRUE(fresh.join_and_wait(s.uri, 5s));
}

TEST_F(Revocation, APolicyThatTurnsChatOffEndsTheSessionAtOnce) {
  auto s = set_up("pol");
  ASSERT_FALSE(HasFailure());
  ctl("policy new --identity tag:pol-off --enable-persistent-chat false");
  uint64_t since = s.w->next_roster_seq();
  ctl("policy grant --user " + s.victim + " --policy pol-off");
  expect_bye(s);
  expect_witness_sees_part(s, since);
  client_config vc;
  vc.password = "old-pol";
  auto& again = clients_.add(server_->sip_port(), s.victim, {}, vc);
  EXPECT_FALSE(again.sign_in(10s)) << "chat is off for the user";
}

TEST_F(Revocation, RemovingAUserFromAGroupRemovesThemFromTheGroupsRooms) {
  ctl("group new --name grp-g --members sip:v-grp@example.com");
  auto s = set_up("grp", "group:grp-g");
  ASSERT_FALSE(HasFailure());
  uint64_t vs = s.v->next_roster_seq(), ws = s.w->next_roster_seq();
  ctl("group set --name grp-g --members sip:nobody@example.com");
  expect_witness_sees_part(s, ws);
  expect_kicked(s, vs);
}

TEST_F(Revocation, RemovingAMemberFromARoomRemovesThemAtOnce) {
  auto s = set_up("mem");
  ASSERT_FALSE(HasFailure());
  uint64_t vs = s.v->next_roster_seq(), ws = s.w->next_roster_seq();
  ctl("room set --identity " + s.room + " --remove-members sip:" + s.victim);
  expect_witness_sees_part(s, ws);
  expect_kicked(s, vs);
}

TEST_F(Revocation, NarrowingACategorysScopeRemovesWhoeverFellOutOfIt) {
  auto s = set_up("scope");
  ASSERT_FALSE(HasFailure());
  uint64_t vs = s.v->next_roster_seq(), ws = s.w->next_roster_seq();
  ctl("category set --identity " + s.category + " --allowed-members sip:" + s.witness);
  expect_witness_sees_part(s, ws);
  expect_kicked(s, vs);
}

TEST_F(Revocation, DisablingARoomRemovesEveryoneAtOnce) {
  auto s = set_up("room");
  ASSERT_FALSE(HasFailure());
  uint64_t vs = s.v->next_roster_seq(), ws = s.w->next_roster_seq();
  ctl("room set --identity " + s.room + " --disabled true");
  std::string who = "sip:" + s.victim, other = "sip:" + s.witness;
  auto own = [&](chat_client* c, const std::string& u, uint64_t since) {
    return c->wait_for_roster(
        [&](const roster_event& r) { return r.user == u && r.room == s.uri && r.what == roster_event::kind::part; },
        kWithin, since);
  };
  EXPECT_TRUE(own(s.v, who, vs)) << "the victim was not told within 1 s";
  EXPECT_TRUE(own(s.w, other, ws)) << "the other member was not told within 1 s";
  uint64_t id = s.v->post(s.uri, "after room");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(s.v->loop().run_until(
      [&] {
        auto* c = s.v->find_command(id);
        return c && c->done && (c->replied || !c->sip_ok());
      },
      5s));
  auto* c = s.v->find_command(id);
  EXPECT_TRUE(c->replied && c->reply.code == 403) << "a post in the disabled room was not refused";
}


// Default-deny: a user the directory does not know gets nothing, even though the global
// policy enables Persistent Chat and --auth=none trusts the asserted identity (a front end
// asserting a user); once an administrator makes the user, the same sign-in works.
TEST(UnknownUser, NeverFallsBackToTheGlobalPolicy) {
  pchat::testing::temp_dir dir("unknown-user");
  pchat::testing::server_process server(dir / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  pchat::testing::chat_clients clients;
  auto policy = pchat::testing::ctl_json(server, "policy get --identity global");
  ASSERT_TRUE(policy.dump().find("true") != std::string::npos) << "the global policy enables chat: " << policy.dump();
  // Its own client: chat_clients::add would make the user first.
  pchat::client::connection_config cc;
  cc.server_port = server.sip_port();
  client_config cfg;
  cfg.user = "stranger@example.com";
  chat_client stranger(clients.loop(), cc, cfg);
  EXPECT_FALSE(stranger.sign_in(10s)) << "an unknown user signed in on the global policy";
  EXPECT_NE(stranger.failure_reason().find("not enabled"), std::string::npos) << stranger.failure_reason();
  // Said once in the log, with what to do; the HTTP user services refuse it with the reason.
  auto logged = [&] {
    std::string log = server.stderr_text();
    size_t n = 0;
    for (size_t at = log.find("a user the directory does not know"); at != std::string::npos;
         at = log.find("a user the directory does not know", at + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(logged(), 1u) << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("user=sip:stranger@example.com"), std::string::npos);
  auto r = pchat::testing::http(server.http_port(), "GET", "/manage/v1/categories",
                                {"X-PChat-User: sip:stranger@example.com"});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("not in the user directory"), std::string::npos) << r.body;
  EXPECT_TRUE(server.running()) << server.stderr_text();
  auto& known = clients.add(server.sip_port(), "alice@example.com");  // a demo user
  EXPECT_TRUE(known.sign_in(10s)) << known.failure_reason();
  pchat::testing::ctl_ok(server, "user new --uri stranger@example.com");
  chat_client made(clients.loop(), cc, cfg);
  EXPECT_TRUE(made.sign_in(10s)) << "made by the administrator: " << made.failure_reason();
  server.stop();
}
