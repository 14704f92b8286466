// The Persistent Chat Store (storage/database.h and its families) on a real RocksDB database in a fresh temp dir.
#include "storage/database.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "record_equality.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "tests/support/temp_dir.h"

namespace pchat::storage {
namespace {

using pchat::testing::temp_dir;

category_record make_category(const std::string& id, const std::string& name) {
  category_record c;
  c.id = id;
  c.name = name;
  c.description = "category " + name;
  c.allowed_members = {"domain:example.com"};
  c.creators = {"sip:admin@example.com"};
  return c;
}

room_record make_room(const std::string& id, const std::string& name,
                      const std::string& category_id) {
  room_record r;
  r.id = id;
  r.name = name;
  r.category_id = category_id;
  r.privacy = room_privacy::closed;
  r.members = {"sip:alice@example.com"};
  r.managers = {"sip:admin@example.com"};
  return r;
}

message_record make_message(uint64_t seq) {
  message_record m;
  m.seq = seq;
  m.author = "sip:alice@example.com";
  m.ts_micros = 1700000000000000 + static_cast<int64_t>(seq);
  m.text = "message " + std::to_string(seq);
  return m;
}

std::vector<uint64_t> seqs_of(const std::vector<message_record>& ms) {
  std::vector<uint64_t> out;
  for (const auto& m : ms) out.push_back(m.seq);
  return out;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  // Closes the store (if open) and opens it again on the same directory. Writes stopped by
  // a failure resume after `resume_after` (an hour: tests that look at the stopped state).
  void reopen(std::chrono::milliseconds resume_after = std::chrono::hours(1)) {
    st_.reset();
    db_options opts;
    opts.path = dir_.path() + "/db";
    opts.resume_first_delay = resume_after;
    opts.resume_max_delay = resume_after;
    status s = database::open(opts, &st_);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }

  // Fills `room` with messages 1..n through one batch (one fsync, so the test stays fast).
  void fill(const std::string& room, uint64_t n) {
    auto b = st_->new_batch();
    for (uint64_t seq = 1; seq <= n; ++seq) st_->messages().append(*b, room, make_message(seq));
    status s = b->commit();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }

  temp_dir dir_;
  std::unique_ptr<database> st_;
};

// Opens the database at `path` with RocksDB directly (the store must be closed), calls
// fn(db, cf) where cf(name) returns that column family's handle, and closes it again.
// Tests use it to fake on-disk damage the store's own API refuses to write.
template <typename Fn>
void with_raw_db(const std::string& path, Fn fn) {
  rocksdb::DBOptions dbo;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(dbo, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  for (const auto& n : names) cfds.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, path, cfds, &handles, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto cf = [&](const std::string& name) -> rocksdb::ColumnFamilyHandle* {
    for (auto* h : handles) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  };
  fn(db, cf);
  for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

// ---- open / close

TEST(StoreOpen, OpenCreatesMissingParentDirectories) {
  temp_dir dir;
  db_options opts;
  opts.path = dir.path() + "/a/b/c/db";
  std::unique_ptr<database> st;
  status s = database::open(opts, &st);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_NE(st, nullptr);
  EXPECT_NE(st->db().raw(), nullptr);
  EXPECT_TRUE(st->db().writable());
}

TEST(StoreOpen, OpenWithoutCreateIfMissingFailsAndLeavesOutputUntouched) {
  temp_dir dir;
  db_options opts;
  opts.path = dir.path() + "/missing";
  opts.create_if_missing = false;
  std::unique_ptr<database> st;
  status s = database::open(opts, &st);
  EXPECT_TRUE(s.is_not_found());
  EXPECT_EQ(s.reason(), "no database at " + opts.path);
  EXPECT_EQ(st, nullptr);
  EXPECT_FALSE(std::filesystem::exists(opts.path));
  // An existing but empty directory is no database either, and stays empty.
  std::filesystem::create_directories(opts.path);
  EXPECT_TRUE(database::open(opts, &st).is_not_found());
  EXPECT_TRUE(std::filesystem::is_empty(opts.path));
}

TEST(StoreOpen, OpenWithEmptyPathIsInvalidArgument) {
  std::unique_ptr<database> st;
  EXPECT_TRUE(database::open(db_options{}, &st).is_invalid_argument());
  EXPECT_EQ(st, nullptr);
}

TEST(StoreOpen, OpenTwiceOnTheSameDirectoryFailsWhileTheFirstIsOpen) {
  temp_dir dir;
  db_options opts;
  opts.path = dir.path() + "/db";
  std::unique_ptr<database> first, second;
  ASSERT_TRUE(database::open(opts, &first).is_ok());
  status s = database::open(opts, &second);
  EXPECT_TRUE(s.is_io_error()) << s.to_string();  // RocksDB's LOCK file
  EXPECT_EQ(second, nullptr);
}

TEST_F(StoreTest, ReopenKeepsCategoriesRoomsMessagesPrefsAndConfig) {
  category_record cat = make_category("cat1", "Engineering");
  room_record room = make_room("room1", "Build", "cat1");
  ASSERT_TRUE(st_->directory().put_category(cat).is_ok());
  ASSERT_TRUE(st_->directory().put_room(room).is_ok());
  ASSERT_TRUE(st_->messages().put("room1", make_message(1)).is_ok());
  fill("room2", 3);
  ASSERT_TRUE(st_->preferences().put("sip:alice@example.com", "followed", "room1,room2").is_ok());
  chat_config cfg;
  cfg.default_chat_history = 120;
  cfg.max_file_size_kb = 1;
  cfg.participant_update_limit = 10000;
  cfg.room_management_url = "https://chat.example.com/manage";
  ASSERT_TRUE(st_->configuration().put(cfg).is_ok());

  reopen();

  category_record cat_out;
  ASSERT_TRUE(st_->directory().get_category("cat1", &cat_out).is_ok());
  expect_same(cat, cat_out);
  room_record room_out;
  ASSERT_TRUE(st_->directory().get_room("room1", &room_out).is_ok());
  expect_same(room, room_out);
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_from("room1", 1, 10, &ms).is_ok());
  ASSERT_EQ(ms.size(), 1u);
  expect_same(ms[0], make_message(1));
  uint64_t last = 0;
  ASSERT_TRUE(st_->messages().last_sequence("room2", &last).is_ok());
  EXPECT_EQ(last, 3u);
  std::string pref;
  ASSERT_TRUE(st_->preferences().get("sip:alice@example.com", "followed", &pref).is_ok());
  EXPECT_EQ(pref, "room1,room2");
  chat_config cfg_out;
  ASSERT_TRUE(st_->configuration().get(&cfg_out).is_ok());
  EXPECT_EQ(cfg_out.default_chat_history, 120);
  EXPECT_EQ(cfg_out.max_file_size_kb, 1);
  EXPECT_EQ(cfg_out.participant_update_limit, 10000);
  EXPECT_EQ(cfg_out.room_management_url, "https://chat.example.com/manage");
}

TEST_F(StoreTest, ReopenOpensColumnFamiliesTheStoreDoesNotKnow) {
  // A newer version (or a tool) may add a column family; RocksDB refuses to open unless it
  // is listed, so the store must list what is on disk.
  rocksdb::ColumnFamilyHandle* extra = nullptr;
  ASSERT_TRUE(st_->db().raw()->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "future", &extra).ok());
  ASSERT_TRUE(st_->db().raw()->DestroyColumnFamilyHandle(extra).ok());
  ASSERT_TRUE(st_->messages().put("r", make_message(1)).is_ok());
  reopen();
  uint64_t last = 0;
  ASSERT_TRUE(st_->messages().last_sequence("r", &last).is_ok());
  EXPECT_EQ(last, 1u);
}

TEST(StoreOpen, OpeningAnExistingDatabaseAddsMissingColumnFamilies) {
  temp_dir dir;
  std::string path = dir.path() + "/db";
  {
    // A database holding only the default column family, as an older build might leave it.
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, path, &db).ok());
    delete db;
  }
  db_options opts;
  opts.path = path;
  opts.create_if_missing = false;
  std::unique_ptr<database> st;
  status s = database::open(opts, &st);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_TRUE(st->preferences().put("sip:a@b", "l", "v").is_ok());
}

// ---- messages

TEST_F(StoreTest, ReadLatestReturnsNewestOldestFirst) {
  fill("room", 300);
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_latest("room", 5, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), (std::vector<uint64_t>{296, 297, 298, 299, 300}));
  expect_same(ms.back(), make_message(300));
  ASSERT_TRUE(st_->messages().read_latest("room", 1, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), (std::vector<uint64_t>{300}));
}

TEST_F(StoreTest, ReadLatestBeyondTheRoomSizeReturnsTheWholeRoom) {
  fill("room", 300);
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_latest("room", 1000, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 300));
  ASSERT_TRUE(st_->messages().read_latest("room", 300, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 300));
}

TEST_F(StoreTest, ReadLatestOfZeroOrOfAnEmptyRoomIsEmpty) {
  fill("room", 10);
  std::vector<message_record> ms = {make_message(99)};
  ASSERT_TRUE(st_->messages().read_latest("room", 0, &ms).is_ok());
  EXPECT_TRUE(ms.empty());
  ms = {make_message(99)};
  ASSERT_TRUE(st_->messages().read_latest("nobody-here", 5, &ms).is_ok());
  EXPECT_TRUE(ms.empty());
}

TEST_F(StoreTest, ReadFromReturnsAscendingMessagesFromTheSequenceUpToTheLimit) {
  fill("room", 300);
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_from("room", 250, 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(250, 300));
  ASSERT_TRUE(st_->messages().read_from("room", 1, 10, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 10));
  ASSERT_TRUE(st_->messages().read_from("room", 0, 3, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 3));
  ASSERT_TRUE(st_->messages().read_from("room", 300, 10, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), (std::vector<uint64_t>{300}));
  ASSERT_TRUE(st_->messages().read_from("room", 301, 10, &ms).is_ok());
  EXPECT_TRUE(ms.empty());
  ASSERT_TRUE(st_->messages().read_from("room", 5, 0, &ms).is_ok());
  EXPECT_TRUE(ms.empty());
}

TEST_F(StoreTest, ReadsNeverCrossIntoARoomWhoseIdExtendsAnother) {
  fill("room1", 5);
  {
    auto b = st_->new_batch();
    for (uint64_t seq = 1; seq <= 7; ++seq) st_->messages().append(*b, "room10", make_message(seq));
    for (uint64_t seq = 1; seq <= 2; ++seq) st_->messages().append(*b, "room", make_message(seq));
    ASSERT_TRUE(b->commit().is_ok());
  }
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_from("room1", 0, 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 5));
  ASSERT_TRUE(st_->messages().read_latest("room1", 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 5));
  ASSERT_TRUE(st_->messages().read_latest("room", 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 2));
  ASSERT_TRUE(st_->messages().read_latest("room10", 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 7));
  uint64_t last = 0;
  ASSERT_TRUE(st_->messages().last_sequence("room1", &last).is_ok());
  EXPECT_EQ(last, 5u);
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 2u);
}

TEST_F(StoreTest, LastSequenceIsZeroForAnEmptyRoomAndTheHighestOtherwise) {
  uint64_t last = 99;
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 0u);
  fill("room", 300);
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 300u);
  // Big-endian keys: a sequence above 255, 65535 and 2^32 is still the highest.
  ASSERT_TRUE(st_->messages().put("room", make_message(uint64_t{1} << 40)).is_ok());
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, uint64_t{1} << 40);
}

TEST_F(StoreTest, PutMessageRejectsSequenceZero) {
  status s = st_->messages().put("room", make_message(0));
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_EQ(s.reason(), "message seq must be >= 1");
  EXPECT_TRUE(st_->db().writable());
}

TEST_F(StoreTest, RoomIdsThatAreEmptyOrContainNulAreRejected) {
  const std::string nul_id("ro\0om", 5);
  std::vector<message_record> ms;
  uint64_t last = 0;
  EXPECT_TRUE(st_->messages().put(nul_id, make_message(1)).is_invalid_argument());
  EXPECT_TRUE(st_->messages().put("", make_message(1)).is_invalid_argument());
  EXPECT_TRUE(st_->messages().read_latest(nul_id, 5, &ms).is_invalid_argument());
  EXPECT_TRUE(st_->messages().read_from(nul_id, 1, 5, &ms).is_invalid_argument());
  EXPECT_TRUE(st_->messages().last_sequence(nul_id, &last).is_invalid_argument());
  EXPECT_TRUE(st_->directory().put_room(make_room(nul_id, "name", "")).is_invalid_argument());
  EXPECT_TRUE(st_->directory().put_category(make_category(nul_id, "name")).is_invalid_argument());
  EXPECT_EQ(st_->directory().put_room(make_room(nul_id, "name", "")).reason(), "room id contains a NUL byte");
  EXPECT_EQ(st_->directory().put_room(make_room("", "name", "")).reason(), "room id is empty");
}

TEST_F(StoreTest, CorruptMessageValueIsReportedByReads) {
  fill("room", 3);
  std::string path = dir_.path() + "/db";
  st_.reset();
  with_raw_db(path, [](rocksdb::DB* db, auto cf) {
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), cf("messages"), keys::message_key("room", 2), "\x01")
            .ok());
  });
  reopen();
  std::vector<message_record> ms;
  status s = st_->messages().read_from("room", 1, 10, &ms);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "message record: truncated seq");
  EXPECT_TRUE(st_->messages().read_latest("room", 10, &ms).is_corruption());
  // The newest message alone is intact.
  ASSERT_TRUE(st_->messages().read_latest("room", 1, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), (std::vector<uint64_t>{3}));
}

TEST_F(StoreTest, MessageStoredUnderTheWrongSequenceIsCorruption) {
  std::string path = dir_.path() + "/db";
  st_.reset();
  with_raw_db(path, [](rocksdb::DB* db, auto cf) {
    std::string value;
    put_message_record(&value, make_message(7));
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), cf("messages"), keys::message_key("room", 8), value).ok());
  });
  reopen();
  std::vector<message_record> ms;
  status s = st_->messages().read_latest("room", 1, &ms);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "message record: seq 7 stored under key seq 8");
}

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

// ---- prefs

TEST_F(StoreTest, PrefsRoundTripAndAMissingPrefIsNotFound) {
  std::string v;
  EXPECT_TRUE(st_->preferences().get("sip:a@b", "followed", &v).is_not_found());
  ASSERT_TRUE(st_->preferences().put("sip:a@b", "followed", std::string("x\0y", 3)).is_ok());
  ASSERT_TRUE(st_->preferences().put("sip:a@bc", "followed", "other").is_ok());
  ASSERT_TRUE(st_->preferences().get("sip:a@b", "followed", &v).is_ok());
  EXPECT_EQ(v, std::string("x\0y", 3));
  ASSERT_TRUE(st_->preferences().put("sip:a@b", "followed", "").is_ok());
  ASSERT_TRUE(st_->preferences().get("sip:a@b", "followed", &v).is_ok());
  EXPECT_EQ(v, "");
  EXPECT_TRUE(st_->preferences().put(std::string("a\0b", 3), "l", "v").is_invalid_argument());
  EXPECT_TRUE(st_->preferences().get("", "l", &v).is_invalid_argument());
}

// ---- config

TEST_F(StoreTest, ConfigReturnsDefaultsWhenNeverWritten) {
  chat_config c;
  c.default_chat_history = -1;
  c.room_management_url = "junk";
  ASSERT_TRUE(st_->configuration().get(&c).is_ok());
  EXPECT_EQ(c.default_chat_history, 30);
  EXPECT_EQ(c.max_file_size_kb, 20000);
  EXPECT_EQ(c.participant_update_limit, 75);
  EXPECT_EQ(c.room_management_url, "");
}

TEST_F(StoreTest, ConfigSettingsMissingOnDiskFallBackToDefaultsIndividually) {
  st_.reset();
  with_raw_db(dir_.path() + "/db", [](rocksdb::DB* db, auto cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf("config"), "MaxFileSizeKB", "512").ok());
  });
  reopen();
  chat_config c;
  ASSERT_TRUE(st_->configuration().get(&c).is_ok());
  EXPECT_EQ(c.max_file_size_kb, 512);
  EXPECT_EQ(c.default_chat_history, 30);
  EXPECT_EQ(c.participant_update_limit, 75);
}

TEST(StoreConfig, ValidateConfigAcceptsEveryBoundary) {
  chat_config c;
  EXPECT_TRUE(configuration::validate(c).is_ok());
  c.default_chat_history = 1;
  c.max_file_size_kb = 1;
  c.participant_update_limit = 1;
  EXPECT_TRUE(configuration::validate(c).is_ok());
  c.default_chat_history = 500;
  c.max_file_size_kb = 2097152;
  c.participant_update_limit = 10000;
  EXPECT_TRUE(configuration::validate(c).is_ok());
}

TEST(StoreConfig, ValidateConfigNamesTheSettingTheValueAndTheRange) {
  struct bad_case {
    int chat_config::*field;
    int value;
    const char* reason;
  };
  const bad_case cases[] = {
      {&chat_config::default_chat_history, 0, "DefaultChatHistory 0 is out of range 1..500"},
      {&chat_config::default_chat_history, 501, "DefaultChatHistory 501 is out of range 1..500"},
      {&chat_config::max_file_size_kb, 0, "MaxFileSizeKB 0 is out of range 1..2097152"},
      {&chat_config::max_file_size_kb, 2097153, "MaxFileSizeKB 2097153 is out of range 1..2097152"},
      {&chat_config::participant_update_limit, -5,
       "ParticipantUpdateLimit -5 is out of range 1..10000"},
      {&chat_config::participant_update_limit, 10001,
       "ParticipantUpdateLimit 10001 is out of range 1..10000"},
  };
  for (const auto& bc : cases) {
    chat_config c;
    c.*bc.field = bc.value;
    status s = configuration::validate(c);
    EXPECT_TRUE(s.is_invalid_argument()) << bc.reason;
    EXPECT_EQ(s.reason(), bc.reason);
  }
}

TEST_F(StoreTest, PutConfigRejectsAnInvalidConfigAndWritesNothing) {
  chat_config c;
  c.default_chat_history = 50;
  c.participant_update_limit = 0;
  EXPECT_TRUE(st_->configuration().put(c).is_invalid_argument());
  chat_config out;
  ASSERT_TRUE(st_->configuration().get(&out).is_ok());
  EXPECT_EQ(out.default_chat_history, 30);
  EXPECT_TRUE(st_->db().writable());
}

TEST_F(StoreTest, CorruptConfigValueIsCorruption) {
  st_.reset();
  with_raw_db(dir_.path() + "/db", [](rocksdb::DB* db, auto cf) {
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), cf("config"), "DefaultChatHistory", "thirty").ok());
  });
  reopen();
  chat_config c;
  status s = st_->configuration().get(&c);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "config DefaultChatHistory: not a decimal int 'thirty'");
}

TEST_F(StoreTest, OutOfRangeConfigValueOnDiskIsCorruption) {
  st_.reset();
  with_raw_db(dir_.path() + "/db", [](rocksdb::DB* db, auto cf) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf("config"), "DefaultChatHistory", "501").ok());
  });
  reopen();
  chat_config c;
  status s = st_->configuration().get(&c);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "config: DefaultChatHistory 501 is out of range 1..500");
}

// ---- write batches

TEST_F(StoreTest, WriteBatchCommitsManyMessagesAndPrefsAtOnce) {
  auto b = st_->new_batch();
  EXPECT_EQ(b->count(), 0u);
  for (uint64_t seq = 1; seq <= 1000; ++seq) st_->messages().append(*b, "room", make_message(seq));
  for (int u = 0; u < 50; ++u) {
    st_->preferences().put(*b, "sip:user" + std::to_string(u) + "@example.com", "followed", "room");
  }
  EXPECT_EQ(b->count(), 1050u);
  EXPECT_GT(b->bytes(), 1050u * 20);
  // Nothing is visible before the commit.
  uint64_t last = 0;
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 0u);
  ASSERT_TRUE(b->commit().is_ok());
  EXPECT_EQ(b->count(), 0u);
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 1000u);
  reopen();
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_from("room", 1, 2000, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 1000));
  std::string v;
  ASSERT_TRUE(st_->preferences().get("sip:user49@example.com", "followed", &v).is_ok());
  EXPECT_EQ(v, "room");
}

TEST_F(StoreTest, WriteBatchIsReusableAfterCommit) {
  auto b = st_->new_batch();
  st_->messages().append(*b, "room", make_message(1));
  ASSERT_TRUE(b->commit().is_ok());
  st_->messages().append(*b, "room", make_message(2));
  EXPECT_EQ(b->count(), 1u);
  ASSERT_TRUE(b->commit().is_ok());
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_from("room", 1, 10, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 2));
}

TEST_F(StoreTest, EmptyBatchCommitWritesNothingAndSucceeds) {
  auto b = st_->new_batch();
  EXPECT_TRUE(b->commit().is_ok());
  EXPECT_TRUE(st_->db().writable());
}

TEST_F(StoreTest, BatchWithAnInvalidPutCommitsNothingAndDoesNotLatch) {
  auto b = st_->new_batch();
  st_->messages().append(*b, "room", make_message(1));
  st_->messages().append(*b, "room", make_message(0));
  st_->messages().append(*b, "room", make_message(2));
  status s = b->commit();
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_EQ(s.reason(), "message seq must be >= 1");
  EXPECT_EQ(b->count(), 0u);
  uint64_t last = 0;
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 0u);
  EXPECT_TRUE(st_->db().writable());
  // The rejection is cleared with the batch.
  st_->preferences().put(*b, "sip:a@b", "l", "v");
  EXPECT_TRUE(b->commit().is_ok());
  st_->preferences().put(*b, "", "l", "v");
  EXPECT_TRUE(b->commit().is_invalid_argument());
}

// ---- write failures

// Check that a failed synced write makes the store refuse every later write with the first
// error until it resumes, while reads keep working: (a) a failed single write, (b) later
// writes of every kind, (c) reads, (d) a reopen starts writable again.
TEST_F(StoreTest, WriteFailureRefusesLaterWritesWithTheFirstError) {
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "Room", "c1")).is_ok());
  fill("r1", 10);

  // (a)
  st_->db().inject_write_failure_for_testing(true);
  status first = st_->preferences().put("sip:a@b", "l", "v");
  EXPECT_TRUE(first.is_io_error());
  EXPECT_EQ(first.to_string(), "IO error: injected write failure (test only)");
  EXPECT_FALSE(st_->db().writable());

  // (b) every write returns the same first error, even ones that would be rejected anyway.
  EXPECT_EQ(st_->messages().put("r1", make_message(11)).to_string(), first.to_string());
  EXPECT_EQ(st_->directory().put_room(make_room("r2", "Other", "c1")).to_string(), first.to_string());
  EXPECT_EQ(st_->directory().put_category(make_category("c1", "Cat")).to_string(), first.to_string());
  EXPECT_EQ(st_->directory().delete_room("r1").to_string(), first.to_string());
  EXPECT_EQ(st_->directory().delete_category("c1").to_string(), first.to_string());
  EXPECT_EQ(st_->configuration().put(chat_config{}).to_string(), first.to_string());
  EXPECT_EQ(st_->messages().put("r1", make_message(0)).to_string(), first.to_string());
  auto b = st_->new_batch();
  st_->messages().append(*b, "r1", make_message(11));
  EXPECT_EQ(b->commit().to_string(), first.to_string());
  EXPECT_EQ(st_->new_batch()->commit().to_string(), first.to_string());

  // (c) reads still work and nothing from the failed writes appeared.
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_latest("r1", 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), range(1, 10));
  room_record r;
  EXPECT_TRUE(st_->directory().get_room("r1", &r).is_ok());
  std::string v;
  EXPECT_TRUE(st_->preferences().get("sip:a@b", "l", &v).is_not_found());

  // (d)
  reopen();
  EXPECT_TRUE(st_->db().writable());
  EXPECT_TRUE(st_->preferences().put("sip:a@b", "l", "v").is_ok());
}

// Waits (bounded) until the store takes writes again.
bool wait_writable(const database& st, std::chrono::seconds deadline = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!st.db().writable() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return st.db().writable();
}

// Check that writes resume by themselves after a failure, without a reopen, and that the
// failed write stays absent.
TEST_F(StoreTest, WritesResumeByThemselvesAfterAFailure) {
  reopen(std::chrono::milliseconds(20));
  fill("room", 3);
  st_->db().inject_write_failure_for_testing(true);
  EXPECT_TRUE(st_->messages().put("room", make_message(4)).is_io_error());
  ASSERT_TRUE(wait_writable(*st_));
  EXPECT_EQ(st_->db().resume_count(), 1u);
  EXPECT_TRUE(st_->messages().put("room", make_message(5)).is_ok());
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_latest("room", 100, &ms).is_ok());
  EXPECT_EQ(seqs_of(ms), (std::vector<uint64_t>{1, 2, 3, 5}));
  // And again: a second failure is resumed as well.
  st_->db().inject_write_failure_for_testing(true);
  EXPECT_TRUE(st_->preferences().put("sip:a@b", "l", "v").is_io_error());
  ASSERT_TRUE(wait_writable(*st_));
  EXPECT_EQ(st_->db().resume_count(), 2u);
  EXPECT_TRUE(st_->preferences().put("sip:a@b", "l", "v").is_ok());
}

TEST_F(StoreTest, FailedBatchCommitAppliesNothingAndStopsWrites) {
  auto b = st_->new_batch();
  for (uint64_t seq = 1; seq <= 100; ++seq) st_->messages().append(*b, "room", make_message(seq));
  st_->preferences().put(*b, "sip:a@b", "followed", "room");
  st_->db().inject_write_failure_for_testing(true);
  status s = b->commit();
  EXPECT_TRUE(s.is_io_error());
  EXPECT_EQ(b->count(), 0u);
  EXPECT_FALSE(st_->db().writable());
  uint64_t last = 0;
  ASSERT_TRUE(st_->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 0u);
  std::string v;
  EXPECT_TRUE(st_->preferences().get("sip:a@b", "followed", &v).is_not_found());
}

TEST_F(StoreTest, CancelledInjectionLeavesTheStoreWritable) {
  st_->db().inject_write_failure_for_testing(true);
  st_->db().inject_write_failure_for_testing(false);
  EXPECT_TRUE(st_->messages().put("room", make_message(1)).is_ok());
  EXPECT_TRUE(st_->db().writable());
}

TEST_F(StoreTest, RejectedArgumentsDoNotStopWrites) {
  EXPECT_TRUE(st_->directory().put_room(make_room("r1", "", "c")).is_invalid_argument());
  EXPECT_TRUE(st_->configuration().put(chat_config{0, 1, 1, ""}).is_invalid_argument());
  EXPECT_TRUE(st_->directory().delete_room("missing").is_not_found());
  EXPECT_TRUE(st_->db().writable());
  EXPECT_TRUE(st_->messages().put("room", make_message(1)).is_ok());
}

TEST_F(StoreTest, ConcurrentWritersAllFailOnceWritesStop) {
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 25;
  st_->db().inject_write_failure_for_testing(true);
  std::vector<std::vector<status>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string room = "room" + std::to_string(t);
      for (uint64_t seq = 1; seq <= kPerThread; ++seq) {
        results[t].push_back(st_->messages().put(room, make_message(seq)));
      }
    });
  }
  for (auto& th : threads) th.join();
  // One write consumed the injection. Once a thread saw a failure, all its later writes
  // failed with the same error (a thread may finish before the failure and see none).
  int failures_seen = 0;
  for (const auto& rs : results) {
    bool failed = false;
    for (const auto& s : rs) {
      if (failed) {
        EXPECT_TRUE(s.is_io_error()) << s.to_string();
      }
      if (!s.is_ok()) {
        failed = true;
        EXPECT_EQ(s.to_string(), "IO error: injected write failure (test only)");
        ++failures_seen;
      }
    }
  }
  EXPECT_GE(failures_seen, 1);
  EXPECT_FALSE(st_->db().writable());
}

// ---- status

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

TEST(StoreStatus, ToStringNamesTheKindThenTheReason) {
  EXPECT_EQ(status::ok().to_string(), "OK");
  EXPECT_EQ(status().to_string(), "OK");
  EXPECT_EQ(status::not_found("room r").to_string(), "Not found: room r");
  EXPECT_EQ(status::invalid_argument("x").to_string(), "Invalid argument: x");
  EXPECT_EQ(status::already_exists("x").to_string(), "Already exists: x");
  EXPECT_EQ(status::corruption("x").to_string(), "Corruption: x");
  EXPECT_EQ(status::io_error("While fsync: No space left on device").to_string(),
            "IO error: While fsync: No space left on device");
}

}  // namespace
}  // namespace pchat::storage
