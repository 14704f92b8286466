// Users, groups and policies in the store, and the room-name index.
#include <gtest/gtest.h>

#include <chrono>

#include "storage/database.h"
#include "tests/support/temp_dir.h"

using namespace pchat::storage;

namespace {
std::unique_ptr<database> open_store(const std::string& path) {
  std::unique_ptr<database> s;
  EXPECT_TRUE(database::open({path, true}, &s).is_ok());
  return s;
}
}  // namespace

TEST(StoreIdentity, UsersGroupsAndPoliciesRoundTripAndSurviveReopen) {
  pchat::testing::temp_dir dir("storage-test");
  {
    auto s = open_store(dir.path());
    user_record u{"sip:Alice@Example.com", "Alice A.", "abc123", true, "london", "traders"};
    ASSERT_TRUE(s->identities().put_user(u).is_ok());
    ASSERT_TRUE(s->identities().put_group({"Desk", "the desk", {"sip:alice@example.com", "group:ops"}}).is_ok());
    ASSERT_TRUE(s->identities().put_policy({"global", false, "off by default"}).is_ok());
    ASSERT_TRUE(s->identities().put_policy({"tag:traders", true, ""}).is_ok());
  }
  auto s = open_store(dir.path());
  user_record u;
  ASSERT_TRUE(s->identities().get_user("sip:alice@EXAMPLE.com", &u).is_ok());
  EXPECT_EQ(u.uri, "sip:alice@example.com");  // stored lower-cased
  EXPECT_EQ(u.display_name, "Alice A.");
  EXPECT_EQ(u.policy, "traders");
  group_record g;
  ASSERT_TRUE(s->identities().get_group("DESK", &g).is_ok());
  EXPECT_EQ(g.members.size(), 2u);
  std::vector<policy_record> ps;
  ASSERT_TRUE(s->identities().list_policies(&ps).is_ok());
  EXPECT_EQ(ps.size(), 2u);
  std::vector<user_record> us;
  ASSERT_TRUE(s->identities().list_users(&us).is_ok());
  EXPECT_EQ(us.size(), 1u);
  // Users and groups never show up among rooms or categories.
  std::vector<room_record> rooms;
  ASSERT_TRUE(s->directory().list_rooms(&rooms).is_ok());
  EXPECT_TRUE(rooms.empty());
  ASSERT_TRUE(s->identities().remove_user("sip:alice@example.com").is_ok());
  EXPECT_TRUE(s->identities().get_user("sip:alice@example.com", &u).is_not_found());
  EXPECT_TRUE(s->identities().remove_group("nope").is_not_found());
}

TEST(StoreIdentity, BadIdentitiesAreRefusedWithTheReason) {
  pchat::testing::temp_dir dir("storage-test");
  auto s = open_store(dir.path());
  auto r = s->identities().put_user({"alice", "", "", true, "", ""});
  EXPECT_TRUE(r.is_invalid_argument());
  EXPECT_NE(r.reason().find("sip:user@domain"), std::string::npos);
  EXPECT_TRUE(s->identities().put_policy({"everyone", true, ""}).is_invalid_argument());
  EXPECT_TRUE(s->identities().put_group({"", "", {}}).is_invalid_argument());
}

TEST(StoreIdentity, RoomNameUniquenessStaysCheapForManyRooms) {
  pchat::testing::temp_dir dir("storage-test");
  auto s = open_store(dir.path());
  ASSERT_TRUE(s->directory().put_category({"c1", "Cat", "", {}, {}, {}, true, true, true}).is_ok());
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3000; ++i) {
    room_record r;
    r.id = "r" + std::to_string(i);
    r.name = "Room " + std::to_string(i);
    r.category_id = "c1";
    ASSERT_TRUE(s->directory().put_room(r).is_ok());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("3000 rooms created in %.2f s\n", secs);
  room_record dup;
  dup.id = "other";
  dup.name = "ROOM 42";
  dup.category_id = "c1";
  EXPECT_TRUE(s->directory().put_room(dup).is_already_exists());
  // Renaming frees the old name; deleting frees it too.
  room_record r5;
  ASSERT_TRUE(s->directory().get_room("r5", &r5).is_ok());
  r5.name = "Renamed";
  ASSERT_TRUE(s->directory().put_room(r5).is_ok());
  dup.name = "Room 5";
  EXPECT_TRUE(s->directory().put_room(dup).is_ok());
  ASSERT_TRUE(s->directory().delete_room("r6").is_ok());
  room_record again;
  again.id = "r6b";
  again.name = "room 6";
  again.category_id = "c1";
  EXPECT_TRUE(s->directory().put_room(again).is_ok());
}
