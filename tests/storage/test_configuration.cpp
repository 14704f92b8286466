// The configuration (storage/configuration.h) on a real database: defaults, validation, corruption.
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

}  // namespace
}  // namespace pchat::storage
