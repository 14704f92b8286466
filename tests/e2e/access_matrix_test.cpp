// Authorization matrix over real SIP (reference §1.3–1.5): every role × privacy × room type,
// through room search, join, back-chat and post, checking what each user sees.
// Authentication itself is covered by the SIP endpoint and real-SIPE tests; here identities
// come from the From header (--auth=none) so that each role is one client.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;

namespace {

const std::vector<std::string> kRoles = {"member", "manager", "presenter", "nonmember",
                                         "outsider", "denied", "disabled"};
const std::vector<std::string> kPrivacy = {"open", "closed", "secret"};
const std::vector<std::string> kTypes = {"normal", "auditorium"};

std::string user_of(const std::string& role) {
  return role == "outsider" ? "outsider@other.example" : role + "@example.com";
}

// The reference's tables, as expectations.
bool in_scope(const std::string& role) { return role != "outsider" && role != "denied"; }
bool is_member(const std::string& role) {
  return role == "member" || role == "manager" || role == "presenter";
}
bool expect_visible(const std::string& role, const std::string& privacy) {
  if (role == "disabled" || !in_scope(role)) return false;
  return privacy != "secret" || is_member(role);
}
bool expect_join(const std::string& role, const std::string& privacy) {
  return expect_visible(role, privacy) && (privacy == "open" || is_member(role));
}
bool expect_post(const std::string& role, const std::string& privacy, const std::string& type) {
  return expect_join(role, privacy) && (type == "normal" || role == "presenter");
}

class AccessMatrix : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data");
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
    ctl("category new --name Desk --allowed-members domain:example.com --denied-members sip:denied@example.com");
    ctl("policy new --identity tag:off --enable-persistent-chat false");
    ctl("user new --uri disabled@example.com --policy off");
    for (auto& pv : kPrivacy)
      for (auto& t : kTypes)
        ctl("room new --name " + pv + "-" + t + " --category Desk --privacy " + pv + " --type " + t +
            " --members sip:member@example.com,sip:manager@example.com,sip:presenter@example.com" +
            " --managers sip:manager@example.com --presenters sip:presenter@example.com");
  }
  void TearDown() override {
    clients_.clear();
    server_->stop();
  }
  void ctl(const std::string& args) { pchat::testing::ctl_ok(*server_, args); }
  chat_client& client(const std::string& user) { return clients_.add(server_->sip_port(), user); }
  std::string uri_of(const std::string& name) {
    int rc = 0;
    std::string out = server_->ctl("--json room get --identity " + name, &rc);
    auto at = out.find("ma-chan://");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('"', at) - at);
  }

  pchat::testing::temp_dir dir_{"matrix"};
  std::unique_ptr<pchat::testing::server_process> server_;
  pchat::testing::chat_clients clients_;
};

}  // namespace

TEST_F(AccessMatrix, EveryRoleSeesJoinsAndPostsExactlyAsTheReferenceSays) {
  std::map<std::string, std::string> uri;
  for (auto& pv : kPrivacy)
    for (auto& t : kTypes) uri[pv + "-" + t] = uri_of(pv + "-" + t);
  int rows = 0;
  for (auto& role : kRoles) {
    auto& c = client(user_of(role));
    if (role == "disabled") {
      // EnablePersistentChat false: provisioning says so and the chat service refuses the
      // very first command, so nothing below is reachable for this user.
      EXPECT_FALSE(c.sign_in(10s));
      EXPECT_TRUE(c.provisioning().parsed && !c.provisioning().enabled);
      EXPECT_NE(c.failure_reason().find("not enabled"), std::string::npos) << c.failure_reason();
      continue;
    }
    ASSERT_TRUE(c.sign_in(10s)) << role << ": " << c.failure_reason();
    // Commands that name no room answer every signed-in role.
    for (uint64_t id : {c.get_server_info(), c.get_invites(), c.get_pref("kedzie.GroupChannels"),
                        c.set_pref("kedzie.GroupChannels", "eA==")}) {
      auto r = c.wait_command(id, 5s);
      ASSERT_TRUE(r && r->sip_ok()) << role;
      EXPECT_TRUE(r->ok()) << role << ": " << r->command << " answered " << r->reply.code;
    }
    std::set<std::string> visible;
    if (auto rooms = c.search_rooms("", 5s))
      for (auto& r : *rooms) visible.insert(r.name);
    for (auto& pv : kPrivacy)
      for (auto& t : kTypes) {
        std::string name = pv + "-" + t;
        SCOPED_TRACE(role + " in " + name);
        EXPECT_EQ(visible.count(name) == 1, expect_visible(role, pv)) << "room search";
        auto j = c.join_and_wait(uri[name], 5s);
        ASSERT_TRUE(j) << "no join reply";
        EXPECT_EQ(j->ok(), expect_join(role, pv)) << "join answered " << j->code << " " << j->text;
        if (!j->ok()) {
          EXPECT_TRUE(j->code == 403 || j->code == 404) << j->code;
          // Every other room command is refused too; the history check below proves the
          // post never landed.
          auto bj = c.bjoin_and_wait({uri[name]}, 5s);
          ASSERT_TRUE(bj);
          EXPECT_TRUE(bj->joined.empty() && bj->failed.size() == 1) << "bjoin";
          auto bc = c.wait_command(c.bccontext(uri[name], 25), 5s);
          ASSERT_TRUE(bc && bc->replied);
          EXPECT_NE(bc->reply.code, 200) << "back-chat without joining";
          auto pr = c.wait_command(c.post(uri[name], "by " + role), 5s);
          ASSERT_TRUE(pr && pr->sip_ok());
          continue;
        }
        EXPECT_TRUE(c.backchat_and_wait(uri[name], 25, 5s)) << "back-chat";
        std::string text = "by " + role;
        uint64_t id = c.post(uri[name], text);
        auto pr = c.wait_command(id, 5s);
        ASSERT_TRUE(pr && pr->sip_ok());
        // The remaining commands behave the same for every role that may join.
        EXPECT_TRUE(c.part_and_wait(uri[name], 5s)) << "part";
        auto bj = c.bjoin_and_wait({uri[name]}, 5s);
        ASSERT_TRUE(bj) << "bjoin";
        EXPECT_EQ(bj->joined.size(), 1u) << "bjoin";
        ++rows;
      }
  }
  // What each room's history shows decides who could post.
  auto& auditor = client("manager@example.com");
  ASSERT_TRUE(auditor.sign_in(10s));
  for (auto& pv : kPrivacy)
    for (auto& t : kTypes) {
      std::string name = pv + "-" + t;
      ASSERT_TRUE(auditor.join_and_wait(uri[name], 5s));
      auto h = auditor.backchat_and_wait(uri[name], 50, 5s);
      ASSERT_TRUE(h);
      std::set<std::string> texts;
      for (auto& m : *h) texts.insert(m.text);
      for (auto& role : kRoles)
        EXPECT_EQ(texts.count("by " + role) == 1, expect_post(role, pv, t))
            << role << " posting in " << name;
    }
  std::printf("matrix: %zu roles x %zu privacies x %zu types, %d joined rows\n", kRoles.size(),
              kPrivacy.size(), kTypes.size(), rows);
}

TEST_F(AccessMatrix, DisablingARoomOrRemovingAMemberRemovesThemAtOnce) {
  std::string room = uri_of("closed-normal");
  auto& member = client("member@example.com");
  auto& manager = client("manager@example.com");
  ASSERT_TRUE(member.sign_in(10s));
  ASSERT_TRUE(manager.sign_in(10s));
  ASSERT_TRUE(member.join_and_wait(room, 5s));
  ASSERT_TRUE(manager.join_and_wait(room, 5s));
  // Removed from the members while in the room: kicked, and can no longer join.
  uint64_t since = member.next_roster_seq();
  ctl("room set --identity closed-normal --remove-members sip:member@example.com");
  ASSERT_TRUE(member.wait_for_roster(
      [](auto& r) { return r.user == "sip:member@example.com" && r.what == pchat::client::roster_event::kind::part; },
      5s, since));
  auto again = member.join_and_wait(room, 5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, 403);
  // Disabling the room removes everyone and hides it.
  since = manager.next_roster_seq();
  ctl("room set --identity closed-normal --disabled true");
  ASSERT_TRUE(manager.wait_for_roster(
      [](auto& r) { return r.user == "sip:manager@example.com" && r.what == pchat::client::roster_event::kind::part; },
      5s, since));
  auto rooms = manager.search_rooms("closed-normal", 5s);
  ASSERT_TRUE(rooms);
  EXPECT_TRUE(rooms->empty());
  auto j = manager.join_and_wait(room, 5s);
  ASSERT_TRUE(j);
  EXPECT_FALSE(j->ok());
}

TEST_F(AccessMatrix, ACategoryWithChatHistoryOffRelaysButDoesNotPersist) {
  ctl("category new --name Ephemeral --chat-history false");
  ctl("room new --name announcements --category Ephemeral --privacy open");
  std::string room = uri_of("announcements");
  auto& a = client("member@example.com");
  auto& b = client("nonmember@example.com");
  ASSERT_TRUE(a.sign_in(10s));
  ASSERT_TRUE(b.sign_in(10s));
  ASSERT_TRUE(a.join_and_wait(room, 5s));
  ASSERT_TRUE(b.join_and_wait(room, 5s));
  ASSERT_TRUE(a.post_and_wait_ack(room, "gone with the wind", 5s));
  EXPECT_TRUE(b.wait_for_message([](auto& m) { return m.text == "gone with the wind"; }, 5s));
  auto h = b.backchat_and_wait(room, 25, 5s);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->empty()) << "a ChatHistory-off room must not keep history";
}

TEST_F(AccessMatrix, NewMembersOfARoomWithInvitationsGetThemThroughGetinv) {
  ctl("category new --name Invites");
  ctl("room new --name war-room --category Invites --privacy closed");
  // Invitations go to users the directory knows when they are added (default-deny).
  ctl("user new --uri member@example.com");
  ctl("room set --identity war-room --add-members sip:member@example.com,group:nobody");
  std::string room = uri_of("war-room");
  auto& m = client("member@example.com");
  ASSERT_TRUE(m.sign_in(10s));
  auto ask = [&](const std::string& after) {
    uint64_t id = m.send_command_xml(
        "cmd:getinv", "<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"" + after +
                          "\" domain=\"example.com\"/></data></cmd>");
    auto r = m.wait_command(id, 5s);
    EXPECT_TRUE(r && r->replied && r->reply.code == 200);
    return r ? r->reply.data_xml : std::string();
  };
  std::string first = ask("0");
  ASSERT_NE(first.find("chanUri=\"" + room + "\""), std::string::npos) << first;
  EXPECT_NE(first.find("name=\"war-room\""), std::string::npos) << first;
  auto at = first.rfind("inviteId=\"");  // the newest one the client saw
  ASSERT_NE(at, std::string::npos);
  std::string id = first.substr(at + 10, first.find('"', at + 10) - at - 10);
  // Asking again from the newest id the client saw returns nothing new.
  std::string second = ask(id);
  EXPECT_EQ(second.find("<inv"), std::string::npos) << "after " << id << ": " << second << " first: " << first;
  // A user who was not added has no invitation.
  auto& other = client("nonmember@example.com");
  ASSERT_TRUE(other.sign_in(10s));
  uint64_t oid = other.send_command_xml(
      "cmd:getinv", "<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"0\" domain=\"example.com\"/></data></cmd>");
  auto r = other.wait_command(oid, 5s);
  ASSERT_TRUE(r && r->replied);
  EXPECT_EQ(r->reply.data_xml.find("<inv"), std::string::npos);
}

TEST_F(AccessMatrix, AnUnauthenticatedUserReachesNoRoomAndTheAdminReachesEveryRoom) {
  // Unauthenticated: against a Digest server, a client without valid credentials never gets
  // a chat session, so no command of any room is reachable.
  {
    pchat::testing::temp_dir ddir("matrix-digest");
    pchat::testing::server_process digest(ddir / "data", {"--auth=digest"});
    ASSERT_TRUE(digest.start()) << digest.stderr_text();
    {
      connection_config cc;
      cc.server_port = digest.sip_port();
      client_config cfg;
      cfg.user = "member@example.com";
      chat_client anon(clients_.loop(), cc, cfg);
      EXPECT_FALSE(anon.sign_in(10s));
      EXPECT_FALSE(anon.is_ready());
      EXPECT_EQ(anon.join(uri_of("open-normal")), 0u) << "a command was sent without a session";
    }
    EXPECT_TRUE(digest.stop());
  }

  // Admin (the admin API, guarded by its token): reads and edits history in every room,
  // whatever its privacy or type.
  auto& presenter = client("presenter@example.com");
  ASSERT_TRUE(presenter.sign_in(10s));
  for (auto& pv : kPrivacy)
    for (auto& t : kTypes) {
      std::string name = pv + "-" + t;
      ASSERT_TRUE(presenter.join_and_wait(uri_of(name), 5s)) << name;
      ASSERT_TRUE(presenter.post_and_wait_ack(uri_of(name), "admin sees " + name, 5s)) << name;
    }
  int rc = 0;
  std::string found = server_->ctl("--json search --query admin", &rc);
  ASSERT_EQ(rc, 0) << found;
  for (auto& pv : kPrivacy)
    for (auto& t : kTypes) {
      std::string name = pv + "-" + t;
      EXPECT_NE(found.find("admin sees " + name), std::string::npos) << "admin search misses " << name;
      std::string out = server_->ctl("message remove --room " + name + " --contains admin --replace redacted", &rc);
      EXPECT_EQ(rc, 0) << name << ": " << out;
    }
}

TEST_F(AccessMatrix, RosterUpdatesStopAboveParticipantUpdateLimitAndResumeBelowEightyPercent) {
  // ParticipantUpdateLimit 5, applied live (no restart): above 5 members no roster lists
  // or join/part notices; they resume below 80 % (4).
  ctl("config set --participant-update-limit 5");
  std::string room = uri_of("open-normal");
  std::vector<chat_client*> in;
  for (int i = 0; i < 7; ++i) {
    auto& c = client("crowd" + std::to_string(i) + "@example.com");
    ASSERT_TRUE(c.sign_in(10s));
    ASSERT_TRUE(c.join_and_wait(room, 5s));
    in.push_back(&c);
  }
  // The 7th joiner (over the limit) sees only itself; nobody heard about the 6th and 7th.
  EXPECT_EQ(in[6]->rooms().at(room).members.size(), 1u);
  auto& watcher = *in[0];
  ASSERT_TRUE(watcher.post_and_wait_ack(room, "sync 1", 5s));
  ASSERT_TRUE(watcher.wait_for_message([](auto& m) { return m.text == "sync 1"; }, 5s));
  auto heard = [&](const std::string& user, pchat::client::roster_event::kind k) {
    for (auto& r : watcher.roster_events())
      if (r.user == user && r.what == k) return true;
    return false;
  };
  EXPECT_TRUE(heard("sip:crowd4@example.com", pchat::client::roster_event::kind::join));
  EXPECT_FALSE(heard("sip:crowd5@example.com", pchat::client::roster_event::kind::join));
  EXPECT_FALSE(heard("sip:crowd6@example.com", pchat::client::roster_event::kind::join));
  // Down to 4 members: still muted (not below 80 % of 5); down to 3: notices resume.
  for (int i = 6; i >= 4; --i) ASSERT_TRUE(in[static_cast<size_t>(i)]->part_and_wait(room, 5s));
  ASSERT_TRUE(watcher.post_and_wait_ack(room, "sync 1b", 5s));
  ASSERT_TRUE(watcher.wait_for_message([](auto& m) { return m.text == "sync 1b"; }, 5s));
  EXPECT_FALSE(heard("sip:crowd4@example.com", pchat::client::roster_event::kind::part));
  ASSERT_TRUE(in[1]->part_and_wait(room, 5s));
  ASSERT_TRUE(watcher.post_and_wait_ack(room, "sync 2", 5s));
  ASSERT_TRUE(watcher.wait_for_message([](auto& m) { return m.text == "sync 2"; }, 5s));
  EXPECT_TRUE(heard("sip:crowd1@example.com", pchat::client::roster_event::kind::part))
      << "below 80 % of the limit, part notices must resume";
}

TEST_F(AccessMatrix, GroupsNestedGroupsAndPolicyScopesDecideAccessOverSip) {
  for (auto u : {"gina", "jim", "sam"}) ctl(std::string("user new --uri ") + u + "@example.com");
  ctl("group new --name juniors --members sip:jim@example.com");
  ctl("group new --name traders --members sip:gina@example.com,group:juniors");
  ctl("room new --name desk --category Desk --privacy closed --members group:traders");
  int rc = 0;
  std::string eligible = server_->ctl("principal eligible --list group:traders", &rc);
  ASSERT_EQ(rc, 0) << eligible;
  EXPECT_NE(eligible.find("sip:gina@example.com"), std::string::npos) << eligible;
  EXPECT_NE(eligible.find("sip:jim@example.com"), std::string::npos) << "nested group: " << eligible;
  std::string room = uri_of("desk");
  auto& gina = client("gina@example.com");
  auto& jim = client("jim@example.com");
  auto& stranger = client("nonmember@example.com");
  for (auto* c : {&gina, &jim, &stranger}) ASSERT_TRUE(c->sign_in(10s));
  ASSERT_TRUE(gina.join_and_wait(room, 5s));
  ASSERT_TRUE(jim.join_and_wait(room, 5s)) << "member through a nested group";
  auto refused = stranger.join_and_wait(room, 5s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, 403);
  // Deny wins, by group too: denying the juniors removes jim at once, gina stays.
  uint64_t since = jim.next_roster_seq();
  ctl("category set --identity Desk --denied-members group:juniors");
  EXPECT_TRUE(jim.wait_for_roster(
      [](auto& r) { return r.user == "sip:jim@example.com" && r.what == pchat::client::roster_event::kind::part; },
      5s, since));
  auto again = jim.join_and_wait(room, 5s);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->ok());
  ASSERT_TRUE(gina.post_and_wait_ack(room, "still here", 5s));
  // Policies: a site policy turns chat off for its users, a user's own tag turns it back on.
  ctl("policy new --identity site:Lab --enable-persistent-chat false");
  ctl("user set --uri sam@example.com --site Lab");
  auto& sam = client("sam@example.com");
  EXPECT_FALSE(sam.sign_in(10s)) << "site policy off";
  ctl("policy new --identity tag:on --enable-persistent-chat true");
  ctl("policy grant --user sam@example.com --policy on");
  auto& sam2 = client("sam@example.com");
  EXPECT_TRUE(sam2.sign_in(10s)) << "a user's policy wins over the site's: " << sam2.failure_reason();
}
