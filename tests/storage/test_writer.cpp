// The one synced writer (storage/writer.h) over a real database: overlapping callers are
// merged into shared synced writes, each caller's batch lands whole, and a failed write
// reaches every caller it carried.
#include "storage/writer.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "tests/support/temp_dir.h"

namespace pchat::storage {
namespace {

using pchat::testing::temp_dir;

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_options opts;
    opts.path = dir_.path() + "/db";
    opts.resume_first_delay = std::chrono::hours(1);  // stay stopped: tests look at it
    opts.resume_max_delay = std::chrono::hours(1);
    status s = db::open(opts, &db_);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    writer_ = std::make_unique<writer>(*db_);
  }

  // Writes thread t's batch i: two prefs, so a half-applied batch would show.
  status write_pair(int t, int i) {
    rocksdb::WriteBatch b;
    std::string user = "u" + std::to_string(t);
    EXPECT_TRUE(b.Put(db_->cf(column::prefs), keys::pref_key(user, "a" + std::to_string(i)), "x").ok());
    EXPECT_TRUE(b.Put(db_->cf(column::prefs), keys::pref_key(user, "b" + std::to_string(i)), "y").ok());
    return writer_->write(&b);
  }
  bool has(int t, const std::string& label) {
    std::string v;
    return db_->get(column::prefs, keys::pref_key("u" + std::to_string(t), label), &v, "pref").is_ok();
  }

  temp_dir dir_;
  std::unique_ptr<db> db_;
  std::unique_ptr<writer> writer_;
};

TEST_F(WriterTest, OverlappingCallersShareSyncedWritesAndEveryBatchLands) {
  constexpr int kThreads = 8, kEach = 100;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        if (!write_pair(t, i).is_ok()) failed.fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      EXPECT_TRUE(has(t, "a" + std::to_string(i))) << t << "/" << i;
      EXPECT_TRUE(has(t, "b" + std::to_string(i))) << t << "/" << i;
    }
  EXPECT_EQ(writer_->batches_written(), uint64_t{kThreads * kEach});
  // Eight threads each waiting on an fsync overlap all the time: merging must have saved
  // synced writes (each is one fsync of the write-ahead log).
  EXPECT_LT(writer_->synced_writes(), writer_->batches_written());
  EXPECT_GT(writer_->synced_writes(), 0u);
}

TEST_F(WriterTest, AFailedWriteReachesEveryCallerAndAppliesNothing) {
  db_->inject_write_failure_for_testing(true);
  constexpr int kThreads = 8;
  std::vector<status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { results[t] = write_pair(t, 0); });
  for (auto& th : threads) th.join();
  // Whether merged into the failing group or refused after it, every caller hears of it.
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(results[t].is_io_error()) << t << ": " << results[t].to_string();
    EXPECT_FALSE(has(t, "a0"));
    EXPECT_FALSE(has(t, "b0"));
  }
  EXPECT_FALSE(db_->writable());
  EXPECT_TRUE(write_pair(99, 1).is_io_error());
}

TEST_F(WriterTest, ACallerAloneIsWrittenAsItIs) {
  ASSERT_TRUE(write_pair(1, 1).is_ok());
  EXPECT_EQ(writer_->synced_writes(), 1u);
  EXPECT_EQ(writer_->batches_written(), 1u);
  EXPECT_TRUE(has(1, "a1"));
  EXPECT_TRUE(has(1, "b1"));
}

}  // namespace
}  // namespace pchat::storage
