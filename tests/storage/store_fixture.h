// What the store tests share: record makers, the StoreTest fixture (a database in a fresh
// temp dir, reopened at will) and raw RocksDB access for faking on-disk damage.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "storage/database.h"
#include "tests/support/temp_dir.h"

namespace pchat::storage::store_fixture {

using pchat::testing::temp_dir;

inline category_record make_category(const std::string& id, const std::string& name) {
  category_record c;
  c.id = id;
  c.name = name;
  c.description = "category " + name;
  c.allowed_members = {"domain:example.com"};
  c.creators = {"sip:admin@example.com"};
  return c;
}

inline room_record make_room(const std::string& id, const std::string& name,
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

inline message_record make_message(uint64_t seq) {
  message_record m;
  m.seq = seq;
  m.author = "sip:alice@example.com";
  m.ts_micros = 1700000000000000 + static_cast<int64_t>(seq);
  m.text = "message " + std::to_string(seq);
  return m;
}

inline std::vector<uint64_t> seqs_of(const std::vector<message_record>& ms) {
  std::vector<uint64_t> out;
  for (const auto& m : ms) out.push_back(m.seq);
  return out;
}

inline std::vector<uint64_t> range(uint64_t first, uint64_t last) {
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

}  // namespace pchat::storage::store_fixture
