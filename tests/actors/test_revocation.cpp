// Revocation inside the node (docs/SECURITY.md "Revocation"): an identity change reaches
// live rooms through the registry's watcher (server_node), and a room checks every post and
// back-chat against the registry as it is at that moment, so a member whose access was taken
// away is refused even while the news of it is delayed.
#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "protocol/xccos/chat_uri.h"
#include "tests/support/actor_node.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xccos_commands.h"

using namespace pchat;
using namespace std::chrono_literals;
using pchat::testing::backchat_cmd;
using pchat::testing::join_cmd;
using pchat::testing::post_cmd;
using pchat::testing::temp_dir;
using node = pchat::testing::actor_node;

namespace {

// A closed room whose members are the group "desk" (alice and bob), in a category of its own.
std::string make_group_room(node& n) {
  caf::scoped_actor self{*n.sys};
  storage::category_record c;
  c.name = "cat-desk";
  std::string cat_id, room_id;
  self->request(n.ctx->directory, 5s, actors::new_category_atom::value, c)
      .receive([&](storage::category_record& r) { cat_id = r.id; }, [&](caf::error&) {});
  storage::room_record r;
  r.name = "desk";
  r.category_id = cat_id;
  r.privacy = storage::room_privacy::closed;
  r.members = {"group:desk"};
  self->request(n.ctx->directory, 5s, actors::new_room_atom::value, r)
      .receive([&](storage::room_record& x) { room_id = x.id; }, [&](caf::error&) {});
  return xccos::room_uri(n.ctx->domain, room_id);
}

void add_users(node& n) {
  for (auto u : {"sip:alice@example.com", "sip:bob@example.com"}) {
    storage::user_record rec;
    rec.uri = u;
    n.ctx->identities->upsert_user(rec);
  }
  n.ctx->identities->upsert_group({"desk", "", {"sip:alice@example.com", "sip:bob@example.com"}});
}

}  // namespace

// The directory never hears of the change (its access_changed message is dropped): the room
// still lists alice, yet her post and her back-chat request are refused and bob gets nothing.
TEST(Revocation, APostFromAUserNoLongerAllowedIsRefusedEvenBeforeTheRoomRemovesThem) {
  temp_dir dir("revoke-actors");
  node n(dir.path(), false, [](actors::node_parts& p) {
    p.directory = [](caf::actor_system& sys, const caf::actor& real) {
      return sys.spawn([real](caf::event_based_actor* self) -> caf::behavior {
        self->set_default_handler([=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
          return self->delegate(real, x.move_content_to_message());
        });
        return {[](actors::access_changed_atom) {}};  // the eviction is delayed forever
      });
    };
  });
  add_users(n);
  std::string uri = make_group_room(n);
  auto alice = n.session(1, "sip:alice@example.com");
  auto bob = n.session(2, "sip:bob@example.com");
  ASSERT_TRUE(n.join(alice, 1, uri));
  ASSERT_TRUE(n.join(bob, 2, uri));
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "allowed")), 200);
  ASSERT_TRUE(n.edge.wait_info(2, "allowed"));

  n.ctx->identities->upsert_group({"desk", "", {"sip:bob@example.com"}});
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "revoked")), 200);  // SIP 200, the refusal inside XCCOS
  EXPECT_TRUE(n.edge.wait_info(1, "code=\"403\""));
  EXPECT_EQ(n.cmd(alice, backchat_cmd(uri, 10)), 200);
  EXPECT_TRUE(n.edge.wait_count(1, "code=\"403\"", 2)) << "back-chat refused too";
  ASSERT_EQ(n.cmd(bob, post_cmd(uri, "marker")), 200);
  ASSERT_TRUE(n.edge.wait_info(2, "marker"));
  EXPECT_EQ(n.edge.count(2, "revoked"), 0u) << "the refused post reached another member";
  EXPECT_EQ(n.edge.count(1, "ntc:part"), 0u) << "the room was told after all: the test proves nothing";
}

// The registry's watcher tells the live room: alice, dropped from the group, gets an ntc:part
// about herself and bob sees her leave.
TEST(Revocation, AGroupChangeRemovesTheMemberFromTheLiveRoom) {
  temp_dir dir("revoke-actors");
  node n(dir.path());
  add_users(n);
  std::string uri = make_group_room(n);
  auto alice = n.session(1, "sip:alice@example.com");
  auto bob = n.session(2, "sip:bob@example.com");
  ASSERT_TRUE(n.join(alice, 1, uri));
  ASSERT_TRUE(n.join(bob, 2, uri));
  n.ctx->identities->upsert_group({"desk", "", {"sip:bob@example.com"}});
  EXPECT_TRUE(n.edge.wait_info(1, "ntc:part", 2s));
  EXPECT_TRUE(n.edge.wait_info(2, "ntc:part", 2s));
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "gone")), 200);
  EXPECT_TRUE(n.edge.wait_info(1, "code=\"403\""));
}

TEST(Revocation, RevokedBetweenListsLostCredentialsAndLostChat) {
  actors::identity_registry reg("example.com");
  reg.upsert_policy({"global", true, ""});
  reg.upsert_policy({"tag:off", false, ""});
  auto user = [](const std::string& uri, const std::string& ha1) {
    storage::user_record u;
    u.uri = uri;
    u.ha1 = ha1;
    return u;
  };
  for (auto n : {"del", "dis", "pwd", "pol", "same"}) reg.upsert_user(user(std::string("sip:") + n + "@example.com", "h"));
  std::vector<actors::revoked_user> seen;
  reg.watch([&](const actors::identity_snapshot& b, const actors::identity_snapshot& a) {
    for (auto& r : actors::revoked_between(b, a)) seen.push_back(r);
  });
  auto expect_one = [&](const std::string& uri, bool credentials) {
    ASSERT_EQ(seen.size(), 1u) << uri;
    EXPECT_EQ(seen.front().uri, uri);
    EXPECT_EQ(seen.front().credentials, credentials) << uri;
    seen.clear();
  };
  reg.remove_user("sip:del@example.com");
  expect_one("sip:del@example.com", true);
  auto dis = user("sip:dis@example.com", "h");
  dis.enabled = false;
  reg.upsert_user(dis);
  expect_one("sip:dis@example.com", true);
  reg.upsert_user(user("sip:pwd@example.com", "h2"));
  expect_one("sip:pwd@example.com", true);
  auto pol = user("sip:pol@example.com", "h");
  pol.policy = "off";
  reg.upsert_user(pol);
  expect_one("sip:pol@example.com", false);
  reg.upsert_user(user("sip:same@example.com", "h"));  // nothing lost
  reg.upsert_group({"g", "", {"sip:same@example.com"}});
  EXPECT_TRUE(seen.empty());
  reg.upsert_policy({"global", false, ""});  // chat off for everyone left with it on
  ASSERT_EQ(seen.size(), 2u);  // pwd and same (pol already off, del gone, dis disabled)
}


TEST(Revocation, AnUnknownUserNeverFallsBackToTheGlobalPolicy) {
  actors::identity_registry reg("example.com");
  reg.upsert_policy({"global", true, ""});
  storage::user_record known;
  known.uri = "sip:known@example.com";
  reg.upsert_user(known);
  auto ids = reg.current();
  EXPECT_TRUE(ids->chat_enabled("sip:known@example.com"));
  EXPECT_FALSE(ids->chat_enabled("sip:stranger@example.com"));
  storage::room_record room;
  room.name = "open";
  storage::category_record cat;  // the whole domain in scope
  EXPECT_FALSE(ids->access("sip:stranger@example.com", room, cat).can_join);
  EXPECT_TRUE(ids->access("sip:known@example.com", room, cat).can_post);
}
