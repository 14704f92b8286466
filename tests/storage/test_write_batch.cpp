// Group commit (storage/write_batch.h) and preferences (storage/preferences.h) on a real database.
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

}  // namespace
}  // namespace pchat::storage
