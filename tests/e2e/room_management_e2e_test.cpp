// Room management for end users (app/room_management_api.h) end to end: Creators make rooms
// in their categories over HTTP, managers change them, everybody else is refused, and the
// result is what SIP clients see when they join.
#include <gtest/gtest.h>

#include <string>

#include "storage/keys.h"
#include "storage/database.h"
#include "tests/support/ctl.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;
using pchat::testing::http;
using pchat::testing::json_field;

namespace {

std::string as(const std::string& user) { return "X-PChat-User: " + user; }
const std::string kJson = "Content-Type: application/json";

class RoomManagementE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data");
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
    ctl("category new --name Desks --creators sip:alice@example.com");
    ctl("category new --name Locked");
    ctl("category new --name Elsewhere --creators sip:alice@example.com "
        "--allowed-members sip:alice@example.com,sip:bob@example.com");
  }
  void TearDown() override { server_->stop(); }
  void ctl(const std::string& args) { pchat::testing::ctl_ok(*server_, args); }
  pchat::testing::http_reply call(const std::string& user, const std::string& method,
                                  const std::string& path, const std::string& body = {}) {
    return http(server_->http_port(), method, "/manage/v1/" + path, {as(user), kJson}, body);
  }
  // A SIP client signed in as `user` (its loop lives with it); nullptr if sign-in failed.
  struct sip_user {
    client_loop loop;
    std::unique_ptr<chat_client> client;
  };
  std::unique_ptr<sip_user> sign_in(const std::string& user) {
    auto u = std::make_unique<sip_user>();
    connection_config cc;
    cc.server_port = server_->sip_port();
    client_config cfg;
    cfg.user = user;
    EXPECT_TRUE(server_->ensure_user(user));  // the directory admits only users it knows
    u->client = std::make_unique<chat_client>(u->loop, cc, cfg);
    return u->client->sign_in(10s) ? std::move(u) : nullptr;
  }
  // The XCCOS join answer for `user` (200 joined, 403/404 refused).
  int join_code(const std::string& user, const std::string& room_uri) {
    auto u = sign_in(user);
    if (!u) return -1;
    auto j = u->client->join_and_wait(room_uri, 5s);
    return j ? j->code : -2;
  }
  // The XCCOS answer to cmd:nodespermcreatechild (may the user create rooms?).
  int create_permission(const std::string& user) {
    auto u = sign_in(user);
    if (!u) return -1;
    uint64_t id = u->client->send_command_xml(
        "cmd:nodespermcreatechild", "<cmd id=\"cmd:nodespermcreatechild\" seqid=\"1\"><data/></cmd>");
    auto r = u->client->wait_command(id, 5s);
    return r && r->replied ? r->reply.code : -2;
  }

  pchat::testing::temp_dir dir_{"manage"};
  std::unique_ptr<pchat::testing::server_process> server_;
};

}  // namespace

TEST_F(RoomManagementE2E, CreatorsCreateManagersChangeOthersAreRefused) {
  const std::string alice = "sip:alice@example.com", bob = "sip:bob@example.com",
                    carol = "sip:carol@example.com";
  // Only the categories where alice is a Creator are offered to her; none to bob.
  auto cats = call(alice, "GET", "categories");
  ASSERT_EQ(cats.status, 200) << cats.body;
  EXPECT_NE(cats.body.find("\"Desks\""), std::string::npos);
  EXPECT_EQ(cats.body.find("\"Locked\""), std::string::npos) << cats.body;
  auto bobs = call(bob, "GET", "categories");
  ASSERT_EQ(bobs.status, 200) << bobs.body;
  EXPECT_EQ(bobs.body.find("Desks"), std::string::npos);
  // The same answer over XCCOS, where clients ask whether to offer "create a room".
  EXPECT_EQ(create_permission("alice@example.com"), 200);
  EXPECT_EQ(create_permission("bob@example.com"), 403);

  // alice creates a closed room: she is its manager and a member; bob is added as member.
  auto made = call(alice, "POST", "rooms",
                   R"({"name": "FX desk", "category": "Desks", "description": "spot FX",
                       "members": ["sip:bob@example.com"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  std::string id = json_field(made.body, "id"), uri = json_field(made.body, "uri");
  EXPECT_EQ(json_field(made.body, "privacy"), "closed");
  EXPECT_NE(made.body.find(alice), std::string::npos);
  EXPECT_EQ(join_code(alice, uri), 200);
  EXPECT_EQ(join_code(bob, uri), 200);
  int refused = join_code(carol, uri);
  EXPECT_TRUE(refused == 403 || refused == 404) << "carol is not a member of the closed room: " << refused;

  // Refusals: no Creator role, unknown category, no user, someone else's room.
  EXPECT_EQ(call(bob, "POST", "rooms", R"({"name": "Bob's", "category": "Desks"})").status, 403);
  EXPECT_EQ(call(alice, "POST", "rooms", R"({"name": "L", "category": "Locked"})").status, 403);
  auto nowhere = call(alice, "POST", "rooms", R"({"name": "N", "category": "Nowhere"})");
  EXPECT_EQ(nowhere.status, 400);
  EXPECT_EQ(json_field(nowhere.body, "field"), "category") << nowhere.body;
  auto twice = call(alice, "POST", "rooms", R"({"name": "FX desk", "category": "Desks"})");
  EXPECT_EQ(twice.status, 409) << "room names are unique";
  EXPECT_EQ(json_field(twice.body, "error"), "a room named FX desk exists") << "not the room's id: " << twice.body;
  EXPECT_EQ(json_field(call(alice, "GET", "names?room=fx%20DESK").body, "name"), "fx DESK");
  EXPECT_NE(call(alice, "GET", "names?room=fx%20DESK").body.find("\"available\": false"), std::string::npos);
  EXPECT_NE(call(alice, "GET", "names?room=Rates").body.find("\"available\": true"), std::string::npos);
  EXPECT_EQ(call(bob, "GET", "names?room=Rates").status, 403) << "only Creators ask: names can be secret";
  EXPECT_EQ(call(alice, "GET", "names?room=" + std::string(300, 'n')).status, 400);
  EXPECT_EQ(call(alice, "POST", "rooms", "not json").status, 400);
  // Cross-site requests: a form's text/plain body, another site's Origin.
  const std::string make = R"({"name": "Forged", "category": "Desks"})";
  EXPECT_EQ(http(server_->http_port(), "POST", "/manage/v1/rooms",
                 {as(alice), "Content-Type: text/plain"}, make).status, 415);
  EXPECT_EQ(http(server_->http_port(), "POST", "/manage/v1/rooms",
                 {as(alice), kJson, "Origin: http://evil.example"}, make).status, 403);
  EXPECT_EQ(http(server_->http_port(), "POST", "/manage/v1/rooms",
                 {as(alice), kJson, "Origin: null"}, make).status, 403);
  EXPECT_EQ(call(alice, "POST", "rooms", R"({"name": "T", "category": "Desks", "topic": 5})").status, 400)
      << "a wrongly typed field is the client's error, not a 500";
  EXPECT_EQ(http(server_->http_port(), "GET", "/manage/v1/rooms").status, 401);
  EXPECT_EQ(call(bob, "PATCH", "rooms/" + id, R"({"privacy": "open"})").status, 403)
      << "bob is a member, not a manager";
  EXPECT_EQ(call(carol, "GET", "rooms/" + id).status, 403);
  EXPECT_EQ(call(alice, "DELETE", "rooms/" + id).status, 403) << "only administrators remove rooms";

  // The manager changes the room: carol becomes a member, bob a manager; it takes effect
  // for SIP at once.
  auto changed = call(alice, "PATCH", "rooms/" + id,
                      R"({"add_members": ["sip:carol@example.com"], "add_managers": ["sip:bob@example.com"],
                          "topic": "G10 only"})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(join_code(carol, uri), 200);
  auto mine = call(bob, "GET", "rooms");
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(json_field(mine.body, "id"), id) << "bob manages it now";
  EXPECT_EQ(json_field(mine.body, "topic"), "G10 only");
  // Moving needs Creator in the target; Elsewhere has alice as Creator, Locked nobody.
  EXPECT_EQ(call(alice, "PATCH", "rooms/" + id, R"({"category": "Locked"})").status, 403);
  // Elsewhere's scope is alice and bob: carol, a member now, would fall outside it.
  auto out = call(alice, "PATCH", "rooms/" + id, R"({"category": "Elsewhere"})");
  EXPECT_EQ(out.status, 400);
  EXPECT_NE(out.body.find("sip:carol@example.com is outside the scope"), std::string::npos) << out.body;
  EXPECT_EQ(call(alice, "PATCH", "rooms/" + id,
                 R"({"category": "Elsewhere", "remove_members": ["sip:carol@example.com"]})").status, 200);
  EXPECT_EQ(call(alice, "PATCH", "rooms/" + id, R"({"add_presenters": ["sip:carol@example.com"]})").status, 400)
      << "principals outside the scope cannot be added";
  EXPECT_EQ(call(alice, "PATCH", "rooms/" + id, R"({"members": "sip:bob@example.com"})").status, 400)
      << "a list must be an array: a string must not wipe the members";
  EXPECT_EQ(call(alice, "PATCH", "rooms/" + id, R"({"managers": []})").status, 400);
  // Disabling is a manager's right too: nobody joins a disabled room.
  ASSERT_EQ(call(bob, "PATCH", "rooms/" + id, R"({"disabled": true})").status, 200);
  refused = join_code(alice, uri);
  EXPECT_TRUE(refused == 403 || refused == 404) << "disabled: " << refused;

  // The admin sees what the users did.
  int rc = 0;
  std::string admin_view = server_->ctl("--json room get --identity \"FX desk\"", &rc);
  ASSERT_EQ(rc, 0) << admin_view;
  EXPECT_EQ(json_field(admin_view, "id"), id) << admin_view;
  EXPECT_NE(admin_view.find("sip:bob@example.com"), std::string::npos) << admin_view;
  EXPECT_EQ(admin_view.find("sip:carol@example.com"), std::string::npos) << admin_view;
}

// The old page's address opens the web client's "My rooms" view, whose script uses the API.
TEST_F(RoomManagementE2E, TheOldPageOpensTheWebClientsView) {
  auto page = http(server_->http_port(), "GET", "/manage");
  ASSERT_EQ(page.status, 302) << page.head;
  EXPECT_NE(page.head.find("Location: /#manage"), std::string::npos) << page.head;
  auto script = http(server_->http_port(), "GET", "/app/manage.js");
  ASSERT_EQ(script.status, 200);
  EXPECT_NE(script.head.find("Content-Type: text/javascript"), std::string::npos) << script.head;
  EXPECT_NE(script.body.find("const api = '/manage/v1/';"), std::string::npos);
  EXPECT_EQ(http(server_->http_port(), "POST", "/manage").status, 405);
}

// A category whose record cannot be read is a store failure (503), never an empty category:
// an empty one's scope is the whole domain, which let a manager the category had left out
// manage the room again.
TEST_F(RoomManagementE2E, AnUnreadableCategoryIsRefusedNotTakenAsTheWholeDomain) {
  const std::string alice = "sip:alice@example.com";
  auto made = call(alice, "POST", "rooms", R"({"name": "Narrow desk", "category": "Elsewhere"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string id = json_field(made.body, "id"), category = json_field(made.body, "category_id");
  ASSERT_FALSE(category.empty()) << made.body;
  // alice leaves the category's scope: she no longer manages the room.
  ctl("category set --identity Elsewhere --allowed-members sip:bob@example.com");
  auto out_of_scope = call(alice, "GET", "rooms/" + id);
  ASSERT_TRUE(out_of_scope.status == 403 || out_of_scope.status == 404) << out_of_scope.body;

  // The category's record becomes unreadable (as a damaged disk would leave it).
  ASSERT_TRUE(server_->stop()) << server_->exit_text();
  {
    std::unique_ptr<pchat::storage::database> st;
    ASSERT_TRUE(pchat::storage::database::open({dir_ / "data/store", false}, &st).is_ok());
    pchat::storage::db& db = st->db();
    ASSERT_TRUE(db.raw()
                    ->Put(rocksdb::WriteOptions(), db.cf(pchat::storage::column::directory),
                          pchat::storage::keys::category_key(category), "\xFF")
                    .ok());
  }
  // (Without --demo-content=false it would not start: its directory refuses to say whether
  // the store is empty.)
  server_ = std::make_unique<pchat::testing::server_process>(
      dir_ / "data", std::vector<std::string>{"--demo-content=false"});
  ASSERT_TRUE(server_->start()) << server_->stderr_text();

  auto room = call(alice, "GET", "rooms/" + id);
  EXPECT_EQ(room.status, 503) << room.body;
  EXPECT_NE(room.body.find("store"), std::string::npos) << room.body;
  auto mine = call(alice, "GET", "rooms");
  EXPECT_EQ(mine.status, 503) << mine.body;
  EXPECT_EQ(mine.body.find("Narrow desk"), std::string::npos) << mine.body;
  auto another = call(alice, "POST", "rooms", R"({"name": "Second desk", "category": ")" + category + "\"}");
  EXPECT_EQ(another.status, 503) << another.body;
  // The admin API asked for that category by id does not say "no such category" either.
  int rc = 0;
  std::string admin = server_->ctl("category get --identity " + category, &rc);
  EXPECT_EQ(rc, 1) << admin;
  EXPECT_EQ(admin.find("no category"), std::string::npos) << admin;
}
