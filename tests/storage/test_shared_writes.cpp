// Writes shared by a pool's nodes (storage/shared_writes.h): with a shared log installed,
// the directory, identities and configuration families hand their batches to it (and only
// they: posts and preferences stay local); a batch encoded as a record and decoded on
// another store makes the same change there; a damaged record is refused, never half-read.
#include "storage/shared_writes.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include "tests/storage/store_fixture.h"

namespace pchat::storage {
namespace {

using namespace store_fixture;

// Plays the pool: each batch becomes a record, applied to this store and to `peer` (the
// record decoded on each, as every node's directory log does).
class two_node_log final : public shared_write_log {
 public:
  two_node_log(database& self, database& peer) : self_(self), peer_(peer) {}
  status append(const rocksdb::WriteBatch& b) override {
    std::string record;
    if (auto s = encode_shared_batch(self_.db(), b, &record); !s.is_ok()) return s;
    records.push_back(record);
    for (database* d : {&self_, &peer_}) {
      rocksdb::WriteBatch applied;
      if (auto s = decode_shared_batch(d->db(), record, &applied); !s.is_ok()) return s;
      if (auto s = d->writer().write(&applied); !s.is_ok()) return s;
    }
    return status::ok();
  }
  std::vector<std::string> records;

 private:
  database& self_;
  database& peer_;
};

class SharedWrites : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    db_options opts;
    opts.path = dir_.path() + "/peer";
    ASSERT_TRUE(database::open(opts, &peer_).is_ok());
    log_ = std::make_unique<two_node_log>(*st_, *peer_);
    st_->writer().set_shared_log(log_.get());
  }
  void TearDown() override { st_->writer().set_shared_log(nullptr); }
  std::unique_ptr<database> peer_;
  std::unique_ptr<two_node_log> log_;
};

TEST_F(SharedWrites, DirectoryIdentityConfigurationAndPreferenceWritesReachThePeerAndPostsDoNot) {
  ASSERT_TRUE(st_->directory().put_category(make_category("c1", "Desk")).is_ok());
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "desk", "c1")).is_ok());
  user_record u;
  u.uri = "sip:alice@example.com";
  u.display_name = "Alice";
  ASSERT_TRUE(st_->identities().put_user(u).is_ok());
  chat_config cfg;
  cfg.participant_update_limit = 77;
  ASSERT_TRUE(st_->configuration().put(cfg).is_ok());
  EXPECT_EQ(log_->records.size(), 4u);

  // Posts are the node's own (their room log replicates them): no record.
  ASSERT_TRUE(st_->messages().put("r1", make_message(1)).is_ok());
  EXPECT_EQ(log_->records.size(), 4u);
  // A user's preferences (the rooms they follow) are the pool's: a record every node applies.
  ASSERT_TRUE(st_->preferences().put("sip:alice@example.com", "label", "v").is_ok());
  EXPECT_EQ(log_->records.size(), 5u);
  std::string pref;
  ASSERT_TRUE(peer_->preferences().get("sip:alice@example.com", "label", &pref).is_ok());
  EXPECT_EQ(pref, "v");

  room_record r;
  ASSERT_TRUE(peer_->directory().get_room("r1", &r).is_ok());
  EXPECT_EQ(r, make_room("r1", "desk", "c1"));
  category_record c;
  ASSERT_TRUE(peer_->directory().get_category("c1", &c).is_ok());
  EXPECT_EQ(c.name, "Desk");
  user_record got;
  ASSERT_TRUE(peer_->identities().get_user("sip:alice@example.com", &got).is_ok());
  EXPECT_EQ(got.display_name, "Alice");
  chat_config peer_cfg;
  ASSERT_TRUE(peer_->configuration().get(&peer_cfg).is_ok());
  EXPECT_EQ(peer_cfg.participant_update_limit, 77);

  // A room's deletion (record, messages: a delete range) is one record, the same on both.
  ASSERT_TRUE(peer_->messages().put("r1", make_message(1)).is_ok());
  ASSERT_TRUE(st_->directory().delete_room("r1").is_ok());
  EXPECT_EQ(log_->records.size(), 6u);
  for (database* d : {st_.get(), peer_.get()}) {
    EXPECT_TRUE(d->directory().get_room("r1", &r).is_not_found());
    std::vector<message_record> left;
    ASSERT_TRUE(d->messages().read_latest("r1", 10, &left).is_ok());
    EXPECT_TRUE(left.empty());
  }
}

TEST_F(SharedWrites, ThePeersRoomNameIndexFollowsWhenForgotten) {
  std::string id;
  EXPECT_TRUE(peer_->directory().find_room_by_name("desk", &id).is_not_found());  // index built
  ASSERT_TRUE(st_->directory().put_room(make_room("r1", "desk", "c1")).is_ok());
  peer_->directory().forget_room_names();  // what the directory log does after applying
  ASSERT_TRUE(peer_->directory().find_room_by_name("desk", &id).is_ok());
  EXPECT_EQ(id, "r1");
  // And the name is taken there too.
  EXPECT_TRUE(peer_->directory().put_room(make_room("r2", "Desk", "c1")).is_already_exists());
}

TEST_F(SharedWrites, ADamagedRecordIsRefusedWhole) {
  ASSERT_TRUE(st_->directory().put_category(make_category("c1", "Desk")).is_ok());
  const std::string good = log_->records.back();
  rocksdb::WriteBatch b;
  ASSERT_TRUE(decode_shared_batch(st_->db(), good, &b).is_ok());
  EXPECT_EQ(b.Count(), 1u);
  std::vector<std::string> bad = {"", std::string(1, '\x02') + good.substr(1), good.substr(0, good.size() - 1),
                                  good + "P", good + std::string("P\x09\x01k", 4), good + std::string("X\x00\x01k", 4),
                                  good + std::string("P\x00\xff\xff\xff\xff\xff", 7)};
  for (const auto& record : bad) {
    rocksdb::WriteBatch out;
    auto s = decode_shared_batch(st_->db(), record, &out);
    EXPECT_TRUE(s.is_corruption()) << s.to_string();
  }
}

}  // namespace
}  // namespace pchat::storage
