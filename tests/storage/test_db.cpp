// The database (storage/db.h) under the store: open and reopen, column families, the write-failure latch
// and resuming, status text. A real RocksDB database in a fresh temp dir.
#include <cstdint>
#include <filesystem>
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
