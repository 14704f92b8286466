// The directory (storage/directory.h) on a real database: categories, rooms, names, deletion,
// corruption, invitation and file ids across reopen.
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "record_equality.h"
#include "storage/database.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "store_fixture.h"

namespace pchat::storage {
namespace {

using namespace store_fixture;

// ---- directory

TEST_F(StoreTest, GetOfAMissingCategoryOrRoomIsNotFound) {
  category_record c;
  room_record r;
  status sc = st_->directory().get_category("nope", &c);
  EXPECT_TRUE(sc.is_not_found());
  EXPECT_EQ(sc.to_string(), "Not found: category nope");
  EXPECT_TRUE(st_->directory().get_room("nope", &r).is_not_found());
  EXPECT_TRUE(st_->directory().delete_room("nope").is_not_found());
  EXPECT_TRUE(st_->directory().delete_category("nope").is_not_found());
}

TEST_F(StoreTest, ListReturnsEveryCategoryAndRoomAndNothingElse) {
  ASSERT_TRUE(st_->directory().put_category(make_category("c1", "One")).is_ok());
  ASSERT_TRUE(st_->directory().put_category(make_category("c2", "Two")).is_ok());
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "Alpha", "c1")).is_ok());
  ASSERT_TRUE(st_->directory().put_room(make_room("r2", "Beta", "c1")).is_ok());
  ASSERT_TRUE(st_->directory().put_room(make_room("r3", "Gamma", "c2")).is_ok());
  std::vector<category_record> cats;
  std::vector<room_record> rooms;
  ASSERT_TRUE(st_->directory().list_categories(&cats).is_ok());
  ASSERT_TRUE(st_->directory().list_rooms(&rooms).is_ok());
  ASSERT_EQ(cats.size(), 2u);
  EXPECT_EQ(cats[0].id, "c1");
  EXPECT_EQ(cats[1].id, "c2");
  ASSERT_EQ(rooms.size(), 3u);
  EXPECT_EQ(rooms[0].name, "Alpha");
  EXPECT_EQ(rooms[2].name, "Gamma");
}

TEST_F(StoreTest, PutRoomReplacesTheRecordWithTheSameId) {
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "Alpha", "c1")).is_ok());
  room_record changed = make_room("r1", "ALPHA", "c2");  // same room may change its name's case
  changed.topic = "new topic";
  ASSERT_TRUE(st_->directory().put_room(changed).is_ok());
  room_record out;
  ASSERT_TRUE(st_->directory().get_room("r1", &out).is_ok());
  expect_same(changed, out);
  std::vector<room_record> rooms;
  ASSERT_TRUE(st_->directory().list_rooms(&rooms).is_ok());
  EXPECT_EQ(rooms.size(), 1u);
}

TEST_F(StoreTest, RoomNamesAreUniqueIgnoringCase) {
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "Build Status", "c1")).is_ok());
  status s = st_->directory().put_room(make_room("r2", "build STATUS", "c1"));
  EXPECT_TRUE(s.is_already_exists());
  EXPECT_EQ(s.to_string(), "Already exists: room name 'build STATUS' is used by room r1");
  room_record out;
  EXPECT_TRUE(st_->directory().get_room("r2", &out).is_not_found());
  // A category may share a room's name: they are separate namespaces.
  EXPECT_TRUE(st_->directory().put_category(make_category("c1", "Build Status")).is_ok());
  EXPECT_TRUE(st_->db().writable());
}

TEST_F(StoreTest, CategoryNamesAreUniqueIgnoringCase) {
  ASSERT_TRUE(st_->directory().put_category(make_category("c1", "Engineering")).is_ok());
  EXPECT_TRUE(st_->directory().put_category(make_category("c2", "ENGINEERING")).is_already_exists());
  EXPECT_TRUE(st_->directory().put_category(make_category("c1", "engineering")).is_ok());
  EXPECT_TRUE(st_->directory().put_category(make_category("c2", "Engineering 2")).is_ok());
}

TEST_F(StoreTest, NamesMustBeNonEmptyAndAtMost256Characters) {
  EXPECT_EQ(st_->directory().put_room(make_room("r1", "", "c")).to_string(),
            "Invalid argument: room name is empty");
  EXPECT_TRUE(st_->directory().put_category(make_category("c1", "")).is_invalid_argument());
  EXPECT_TRUE(st_->directory().put_room(make_room("r1", std::string(256, 'a'), "c")).is_ok());
  status s = st_->directory().put_room(make_room("r2", std::string(257, 'b'), "c"));
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_EQ(s.reason(), "room name is longer than 256 characters");
  EXPECT_TRUE(st_->directory().put_category(make_category("c1", std::string(257, 'c'))).is_invalid_argument());
  // Characters, not bytes: 256 two-byte characters fit, 257 do not.
  std::string e_acute = "\xc3\xa9";
  std::string name256, name257;
  for (int i = 0; i < 256; ++i) name256 += e_acute;
  name257 = name256 + e_acute;
  category_record c = make_category("c2", name256);
  c.description.clear();
  EXPECT_TRUE(st_->directory().put_category(c).is_ok());
  c.id = "c3";
  c.name = name257;
  EXPECT_TRUE(st_->directory().put_category(c).is_invalid_argument());
}

TEST_F(StoreTest, DescriptionLongerThan256CharactersIsInvalidArgument) {
  room_record r = make_room("r1", "Room", "c");
  r.description = std::string(256, 'd');
  EXPECT_TRUE(st_->directory().put_room(r).is_ok());
  r.description += "d";
  status s = st_->directory().put_room(r);
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_EQ(s.reason(), "room description is longer than 256 characters");
  category_record c = make_category("c1", "Cat");
  c.description = std::string(257, 'd');
  EXPECT_TRUE(st_->directory().put_category(c).is_invalid_argument());
}

TEST_F(StoreTest, DeleteRoomRemovesItsMessagesButNoOtherRooms) {
  ASSERT_TRUE(st_->directory().put_room(make_room("room1", "One", "c")).is_ok());
  ASSERT_TRUE(st_->directory().put_room(make_room("room10", "Ten", "c")).is_ok());
  fill("room1", 50);
  fill("room10", 20);
  ASSERT_TRUE(st_->directory().delete_room("room1").is_ok());
  room_record r;
  EXPECT_TRUE(st_->directory().get_room("room1", &r).is_not_found());
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_from("room1", 0, 100, &ms).is_ok());
  EXPECT_TRUE(ms.empty());
  uint64_t last = 99;
  ASSERT_TRUE(st_->messages().last_sequence("room1", &last).is_ok());
  EXPECT_EQ(last, 0u);
  ASSERT_TRUE(st_->messages().read_latest("room10", 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 20));
  // Still gone after a reopen, and a room re-created with that id starts empty.
  reopen();
  ASSERT_TRUE(st_->messages().read_from("room1", 0, 100, &ms).is_ok());
  EXPECT_TRUE(ms.empty());
  ASSERT_TRUE(st_->directory().get_room("room10", &r).is_ok());
}

TEST_F(StoreTest, DeleteCategoryRefusesWhileARoomReferencesIt) {
  ASSERT_TRUE(st_->directory().put_category(make_category("c1", "Cat")).is_ok());
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "Room", "c1")).is_ok());
  status s = st_->directory().delete_category("c1");
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_EQ(s.reason().rfind("category not empty", 0), 0u) << s.reason();
  category_record c;
  EXPECT_TRUE(st_->directory().get_category("c1", &c).is_ok());
  EXPECT_TRUE(st_->db().writable());
  ASSERT_TRUE(st_->directory().delete_room("r1").is_ok());
  ASSERT_TRUE(st_->directory().delete_category("c1").is_ok());
  EXPECT_TRUE(st_->directory().get_category("c1", &c).is_not_found());
}

TEST_F(StoreTest, CorruptRoomRecordIsReportedByGetAndList) {
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "Room", "c1")).is_ok());
  std::string path = dir_.path() + "/db";
  st_.reset();
  with_raw_db(path, [](rocksdb::DB* db, auto cf) {
    std::string value;
    put_room_record(&value, make_room("r2", "Other", "c1"));
    value.resize(4);  // cut inside the name
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), cf("directory"), keys::room_key("r2"), value).ok());
  });
  reopen();
  room_record r;
  std::vector<room_record> rooms;
  status s = st_->directory().get_room("r2", &r);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "room record: truncated name");
  EXPECT_TRUE(st_->directory().list_rooms(&rooms).is_corruption());
  // The damage stops writes that must scan the rooms, but not unrelated reads.
  EXPECT_TRUE(st_->directory().put_room(make_room("r3", "Third", "c1")).is_corruption());
  EXPECT_TRUE(st_->directory().get_room("r1", &r).is_ok());
}

// Id counters belong to their family and start at open from the highest id stored, so no
// id is handed out twice, whatever the clock says (here: ids far beyond any clock).
TEST_F(StoreTest, FileAndInvitationIdsContinueAfterTheHighestStoredOneAtOpen) {
  const uint64_t future = uint64_t{1} << 62;
  file_record f;
  f.id = future;
  f.room_id = "room";
  f.name = "a.txt";
  f.uploader = "sip:alice@example.com";
  f.size = 3;
  auto b = st_->new_batch();
  st_->files().put(*b, f);
  ASSERT_TRUE(b->commit().is_ok());
  st_.reset();
  invitation_record inv{future + 5, "sip:bob@example.com", "room", "admin", 1};
  with_raw_db(dir_.path() + "/db", [&](rocksdb::DB* db, auto cf) {
    std::string value;
    put_invitation_record(&value, inv);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf("directory"), keys::invite_key(inv.user, inv.id), value).ok());
  });
  reopen();
  EXPECT_GT(st_->files().new_id(), future);
  std::vector<invitation_record> more(1);
  more[0].user = "sip:Bob@example.com";
  more[0].room_id = "room";
  ASSERT_TRUE(st_->directory().put_invitations(&more).is_ok());
  EXPECT_GT(more[0].id, future + 5);
  std::vector<invitation_record> listed;
  ASSERT_TRUE(st_->directory().list_invitations("sip:BOB@example.com", future + 5, 10, &listed).is_ok());
  ASSERT_EQ(listed.size(), 1u);  // the client asking "after the last one I saw" gets the new one
  EXPECT_EQ(listed[0].id, more[0].id);
}

// Pool nodes number files in their own space (file_index::new_id(space)): a space's ids
// carry it, stay below 2^53 and go on after the highest one of that space stored (also
// across reopen); another space's ids (and older clock ids) never move them or meet them.
TEST_F(StoreTest, FileIdsOfASpaceCarryItContinueAcrossReopenAndNeverMeetAnotherSpace) {
  constexpr int kShift = file_index::kSpaceShift;
  auto store = [&](uint64_t id) {
    file_record f;
    f.id = id;
    f.room_id = "room";
    f.name = "a.txt";
    f.uploader = "sip:alice@example.com";
    f.size = 3;
    auto b = st_->new_batch();
    st_->files().put(*b, f);
    ASSERT_TRUE(b->commit().is_ok());
  };
  uint64_t a = 0, b = 0;
  ASSERT_TRUE(st_->files().new_id(7, &a).is_ok());
  ASSERT_TRUE(st_->files().new_id(9, &b).is_ok());
  EXPECT_EQ(a >> kShift, 7u);
  EXPECT_EQ(b >> kShift, 9u);
  EXPECT_LT(b, uint64_t{1} << 53);
  store(a);
  store((uint64_t{7} << kShift) | 1000);  // shipped from a node with this space earlier
  store((uint64_t{8} << kShift) | 5000);  // another node's
  store(uint64_t{1} << 62);               // a clock id far ahead: no space's concern
  reopen();
  uint64_t next = 0;
  ASSERT_TRUE(st_->files().new_id(7, &next).is_ok());
  EXPECT_EQ(next, (uint64_t{7} << kShift) | 1001);
  ASSERT_TRUE(st_->files().new_id(7, &next).is_ok());
  EXPECT_EQ(next, (uint64_t{7} << kShift) | 1002);
  ASSERT_TRUE(st_->files().new_id(9, &next).is_ok());
  EXPECT_EQ(next, (uint64_t{9} << kShift) | 1);
  ASSERT_TRUE(st_->files().new_id(0, &next).is_ok());  // standalone: the clock ids, as before
  EXPECT_GT(next, uint64_t{1} << 62);
}

}  // namespace
}  // namespace pchat::storage
