// The store on a really full disk: a small tmpfs (skipped where mounting is not allowed)
// filled with a filler file, then freed. Checks that writes fail cleanly, nothing
// acknowledged is lost, reads go on, and writes resume by themselves once space is back.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/database.h"
#include "tests/support/tmpfs_mount.h"

namespace pchat::storage {
namespace {

using namespace std::chrono_literals;

message_record message(uint64_t seq) {
  message_record m;
  m.seq = seq;
  m.author = "sip:alice@example.com";
  m.ts_micros = 1700000000000000 + static_cast<int64_t>(seq);
  m.text = "message " + std::to_string(seq) + " " + std::string(2000, 'x');
  return m;
}

std::vector<uint64_t> stored_seqs(const database& st) {
  std::vector<message_record> ms;
  EXPECT_TRUE(st.messages().read_from("room", 1, 1'000'000, &ms).is_ok());
  std::vector<uint64_t> out;
  for (auto& m : ms) out.push_back(m.seq);
  return out;
}

bool wait_writable(const database& st, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!st.db().writable() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  return st.db().writable();
}

// flush_first: every memtable empty when the disk fills (RocksDB's Resume() then keeps the
// failed write-ahead log unless the store prevents it; writing to that log aborts).
void run_disk_full(bool flush_first) {
  testing::tmpfs_mount fs(16 << 20);
  if (!fs.mounted()) {
    GTEST_SKIP() << "skipped: " << fs.reason();
  }
  db_options opts;
  opts.path = fs.path() + "/db";
  opts.resume_first_delay = 20ms;
  opts.resume_max_delay = 100ms;
  std::unique_ptr<database> st;
  ASSERT_TRUE(database::open(opts, &st).is_ok());

  std::vector<uint64_t> acked;
  uint64_t seq = 1;
  for (; seq <= 20; ++seq) {
    ASSERT_TRUE(st->messages().put("room", message(seq)).is_ok());
    acked.push_back(seq);
  }
  if (flush_first) {
    ASSERT_TRUE(st->db().flush_for_testing().is_ok());
  }
  // With every memtable empty, the very first write must be the one that fails.
  ASSERT_GT(fs.fill(flush_first ? 0 : 64 << 10), 0u);

  // Post one at a time until the disk refuses (bounded).
  status failed;
  for (int i = 0; i < 10'000 && failed.is_ok(); ++i, ++seq) {
    auto b = st->new_batch();
    st->messages().append(*b, "room", message(seq));
    failed = b->commit();
    if (failed.is_ok()) acked.push_back(seq);
  }
  ASSERT_TRUE(failed.is_io_error()) << failed.to_string();
  EXPECT_NE(failed.reason().find("No space left"), std::string::npos) << failed.to_string();
  uint64_t failed_seq = seq - 1;
  EXPECT_FALSE(st->db().writable());

  // While full: writes are refused, reads work, resume attempts keep failing.
  EXPECT_FALSE(st->preferences().put("sip:a@b", "l", "v").is_ok());
  EXPECT_EQ(stored_seqs(*st), acked);
  std::this_thread::sleep_for(300ms);  // several resume attempts (20..100 ms apart)
  EXPECT_FALSE(st->db().writable());
  EXPECT_EQ(st->db().resume_count(), 0u);

  fs.release();
  ASSERT_TRUE(wait_writable(*st, 10s)) << "writes did not resume after space was freed";
  EXPECT_EQ(st->db().resume_count(), 1u);
  for (int i = 0; i < 5; ++i, ++seq) {
    ASSERT_TRUE(st->messages().put("room", message(seq)).is_ok());
    acked.push_back(seq);
  }
  EXPECT_EQ(stored_seqs(*st), acked);
  auto all = stored_seqs(*st);
  EXPECT_EQ(std::count(all.begin(), all.end(), failed_seq), 0) << "the failed write appeared";

  // Durable: a reopen finds every acknowledged write.
  st.reset();
  ASSERT_TRUE(database::open(opts, &st).is_ok());
  EXPECT_EQ(stored_seqs(*st), acked);
}

TEST(StoreDiskFull, WritesFailCleanlyAndResumeWhenSpaceReturns) {
  run_disk_full(false);
}

TEST(StoreDiskFull, ResumesAlsoWhenEveryMemtableWasEmpty) {
  run_disk_full(true);
}

}  // namespace
}  // namespace pchat::storage
