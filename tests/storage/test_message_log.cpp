// The message log (storage/message_log.h) on a real database: reads, sequences, ids, corruption.
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

TEST_F(StoreTest, PostIdsOfTheNewestMessagesComeOldestFirstSkippingThoseWithout) {
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    message_record m = make_message(seq);
    if (seq != 9) m.pid = {77, seq};  // 9: an announce, no post id
    ASSERT_TRUE(st_->messages().put("room", m).is_ok());
  }
  std::vector<post_id> ids;
  ASSERT_TRUE(st_->messages().read_post_ids("room", 4, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<post_id>{{77, 7}, {77, 8}, {77, 10}}));
  ASSERT_TRUE(st_->messages().read_post_ids("room", 1000, &ids).is_ok());
  EXPECT_EQ(ids.size(), 9u);
  EXPECT_EQ(ids.front(), (post_id{77, 1}));
  ASSERT_TRUE(st_->messages().read_post_ids("other", 1000, &ids).is_ok());
  EXPECT_TRUE(ids.empty());
}

// A log written before post ids (format 1 values) is read as before, ids empty.
TEST_F(StoreTest, MessagesStoredInFormat1AreStillRead) {
  std::string path = dir_.path() + "/db";
  st_.reset();
  with_raw_db(path, [](rocksdb::DB* db, auto cf) {
    // version 1, seq 1, ts 3 (zigzag 6), author "a", text "hi", extra_xml ""
    const std::string v1("\x01\x01\x06\x01" "a" "\x02" "hi" "\x00", 9);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf("messages"), keys::message_key("room", 1), v1).ok());
  });
  reopen();
  message_record m2 = make_message(2);
  m2.pid = {5, 6};
  ASSERT_TRUE(st_->messages().put("room", m2).is_ok());
  std::vector<message_record> ms;
  ASSERT_TRUE(st_->messages().read_latest("room", 10, &ms).is_ok());
  ASSERT_EQ(seqs_of(ms), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(ms[0].text, "hi");
  EXPECT_TRUE(ms[0].pid.empty());
  expect_same(ms[1], m2);
  std::vector<post_id> ids;
  ASSERT_TRUE(st_->messages().read_post_ids("room", 10, &ids).is_ok());
  EXPECT_EQ(ids, (std::vector<post_id>{{5, 6}}));
}

}  // namespace
}  // namespace pchat::storage
