// The pool's side of the message log (storage/message_log.h): epochs, shipped entries,
// catch-up and full copies, on a real database.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include "storage/database.h"
#include "store_fixture.h"

namespace pchat::storage {
namespace {

using namespace store_fixture;

message_record divergent(uint64_t seq) {
  message_record m = make_message(seq);
  m.text = "unacknowledged " + std::to_string(seq);
  return m;
}

class RoomLogTest : public StoreTest {
 protected:
  room_log_state state(const std::string& room) {
    room_log_state s;
    status r = st_->messages().read_state(room, &s);
    EXPECT_TRUE(r.is_ok()) << r.to_string();
    return s;
  }
  uint64_t last(const std::string& room) {
    uint64_t n = 0;
    EXPECT_TRUE(st_->messages().last_sequence(room, &n).is_ok());
    return n;
  }
  std::vector<message_record> all(const std::string& room) {
    std::vector<message_record> out;
    EXPECT_TRUE(st_->messages().read_from(room, 1, 100000, &out).is_ok());
    return out;
  }
  // Ships `seqs` at `epoch` in one synced batch, as the commit actor does; the status of
  // the first refusal (nothing of a refused one is added).
  status ship(const std::string& room, uint64_t epoch, const std::vector<message_record>& ms) {
    room_log_state s = state(room);
    auto b = st_->new_batch();
    status first;
    for (const auto& m : ms)
      if (status r = st_->messages().ship(*b, room, epoch, m, nullptr, &s); !r.is_ok() && first.is_ok())
        first = r;
    status c = b->commit();
    EXPECT_TRUE(c.is_ok()) << c.to_string();
    return first;
  }
  std::vector<message_record> msgs(uint64_t first, uint64_t last) {
    std::vector<message_record> out;
    for (uint64_t s = first; s <= last; ++s) out.push_back(make_message(s));
    return out;
  }
};

TEST_F(RoomLogTest, AStandaloneLogHasNoState) {
  fill("room", 3);
  EXPECT_EQ(state("room"), room_log_state{});
  EXPECT_EQ(state("never"), room_log_state{});
}

TEST_F(RoomLogTest, ShippedEntriesCarryTheirEpochInTheSameWrite) {
  ASSERT_TRUE(ship("room", 7, msgs(1, 5)).is_ok());
  EXPECT_EQ(state("room"), (room_log_state{7, 7, false}));
  EXPECT_EQ(seqs_of(all("room")), range(1, 5));
  reopen();
  EXPECT_EQ(state("room"), (room_log_state{7, 7, false}));
  // The state key is not a message: reads end at the last message.
  EXPECT_EQ(last("room"), 5u);
  std::vector<message_record> latest;
  ASSERT_TRUE(st_->messages().read_latest("room", 10, &latest).is_ok());
  EXPECT_EQ(seqs_of(latest), range(1, 5));
}

TEST_F(RoomLogTest, ALowerEpochIsRefusedAndWritesNothing) {
  ASSERT_TRUE(ship("room", 9, msgs(1, 3)).is_ok());
  status r = ship("room", 8, {divergent(3), divergent(4)});
  EXPECT_TRUE(r.is_invalid_argument()) << r.to_string();
  EXPECT_NE(r.reason().find("stale epoch 8"), std::string::npos) << r.reason();
  reopen();
  auto ms = all("room");
  ASSERT_EQ(seqs_of(ms), range(1, 3));
  EXPECT_EQ(ms[2].text, "message 3");
  EXPECT_EQ(state("room"), (room_log_state{9, 9, false}));
  // The same or a higher epoch is taken.
  EXPECT_TRUE(ship("room", 9, msgs(4, 4)).is_ok());
  EXPECT_TRUE(ship("room", 12, msgs(5, 5)).is_ok());
  EXPECT_EQ(state("room"), (room_log_state{12, 12, false}));
  EXPECT_EQ(last("room"), 5u);
}

TEST_F(RoomLogTest, AFullCopyReplacesADivergentSuffix) {
  // This node wrote 1..6 under epoch 3, 5 and 6 never acknowledged; the new owner (epoch 4)
  // has 1..4 and then 5..8 of its own.
  ASSERT_TRUE(ship("room", 3, msgs(1, 4)).is_ok());
  ASSERT_TRUE(ship("room", 3, {divergent(5), divergent(6)}).is_ok());
  room_log_state s = state("room");
  auto source = msgs(1, 8);
  for (size_t at = 0; at < source.size(); at += 3) {  // chunks of 3
    std::vector<message_record> chunk(source.begin() + static_cast<long>(at),
                                      source.begin() + static_cast<long>(std::min(at + 3, source.size())));
    auto b = st_->new_batch();
    ASSERT_TRUE(st_->messages().copy_chunk(*b, "room", 4, chunk, at == 0, &s).is_ok());
    ASSERT_TRUE(b->commit().is_ok());
  }
  auto b = st_->new_batch();
  ASSERT_TRUE(st_->messages().mark(*b, "room", 4, &s).is_ok());
  ASSERT_TRUE(b->commit().is_ok());
  reopen();
  auto ms = all("room");
  ASSERT_EQ(seqs_of(ms), range(1, 8));
  EXPECT_EQ(ms[4].text, "message 5");
  EXPECT_EQ(state("room"), (room_log_state{4, 4, false}));
}

TEST_F(RoomLogTest, AFullCopyOfAShorterLogDropsTheLongerSuffix) {
  ASSERT_TRUE(ship("room", 2, msgs(1, 10)).is_ok());
  room_log_state s = state("room");
  auto b = st_->new_batch();
  ASSERT_TRUE(st_->messages().copy_chunk(*b, "room", 5, msgs(1, 4), true, &s).is_ok());
  ASSERT_TRUE(st_->messages().mark(*b, "room", 5, &s).is_ok());
  ASSERT_TRUE(b->commit().is_ok());
  EXPECT_EQ(seqs_of(all("room")), range(1, 4));
  EXPECT_EQ(last("room"), 4u);
}

TEST_F(RoomLogTest, ACrashDuringACopyLeavesALogMarkedIncomplete) {
  ASSERT_TRUE(ship("room", 2, msgs(1, 10)).is_ok());
  room_log_state s = state("room");
  {
    auto b = st_->new_batch();
    ASSERT_TRUE(st_->messages().copy_chunk(*b, "room", 6, msgs(1, 3), true, &s).is_ok());
    ASSERT_TRUE(b->commit().is_ok());
  }
  reopen();  // the copy stops here: its later chunks and the mark never come
  room_log_state after = state("room");
  EXPECT_TRUE(after.copying);
  EXPECT_EQ(after.data_epoch, 0u);
  EXPECT_EQ(after.epoch, 6u);
  EXPECT_EQ(seqs_of(all("room")), range(1, 3));
  // A stale owner cannot write into it; a new copy at the epoch completes it.
  EXPECT_TRUE(ship("room", 2, msgs(11, 11)).is_invalid_argument());
  auto b = st_->new_batch();
  ASSERT_TRUE(st_->messages().copy_chunk(*b, "room", 6, msgs(1, 7), true, &after).is_ok());
  ASSERT_TRUE(st_->messages().mark(*b, "room", 6, &after).is_ok());
  ASSERT_TRUE(b->commit().is_ok());
  EXPECT_EQ(state("room"), (room_log_state{6, 6, false}));
  EXPECT_EQ(seqs_of(all("room")), range(1, 7));
}

TEST_F(RoomLogTest, StaleCopiesAndMarksAreRefused) {
  ASSERT_TRUE(ship("room", 9, msgs(1, 2)).is_ok());
  room_log_state s = state("room");
  auto b = st_->new_batch();
  EXPECT_TRUE(st_->messages().copy_chunk(*b, "room", 8, msgs(1, 1), true, &s).is_invalid_argument());
  EXPECT_TRUE(st_->messages().mark(*b, "room", 8, &s).is_invalid_argument());
  EXPECT_EQ(b->count(), 0u);
  EXPECT_EQ(s, (room_log_state{9, 9, false}));
}

TEST_F(RoomLogTest, AFollowerKeepsShippedEventsBesideTheLogAndACopyDropsThem) {
  room_log_state s;
  compliance_record e;
  e.kind = compliance_kind::chat;
  e.room_id = "room";
  e.user_uri = "sip:alice@example.com";
  e.message_id = 1;
  e.text = "message 1";
  e.ts_micros = 1700000000000001;
  {
    auto b = st_->new_batch();
    ASSERT_TRUE(st_->messages().ship(*b, "room", 3, make_message(1), &e, &s).is_ok());
    ASSERT_TRUE(b->commit().is_ok());
  }
  std::vector<compliance_record> kept;
  ASSERT_TRUE(st_->messages().read_events("room", 1, 10, &kept).is_ok());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].text, "message 1");
  EXPECT_EQ(seqs_of(all("room")), range(1, 1));  // events are not messages
  auto b = st_->new_batch();
  ASSERT_TRUE(st_->messages().copy_chunk(*b, "room", 4, {}, true, &s).is_ok());
  ASSERT_TRUE(b->commit().is_ok());
  ASSERT_TRUE(st_->messages().read_events("room", 1, 10, &kept).is_ok());
  EXPECT_TRUE(kept.empty());
  EXPECT_TRUE(all("room").empty());
}

// Compliance across the pool (docs/POOL.md): a copy carries the source's kept events, and
// delivered ones are deleted up to the room's mark, no further, and not in another room.
TEST_F(RoomLogTest, ACopyCarriesKeptEventsAndTrimDeletesThoseDelivered) {
  std::vector<compliance_record> events;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    compliance_record e;
    e.kind = compliance_kind::chat;
    e.room_id = "room";
    e.user_uri = "sip:alice@example.com";
    e.message_id = seq;
    e.text = "message " + std::to_string(seq);
    events.push_back(e);
  }
  room_log_state s;
  {
    auto b = st_->new_batch();
    ASSERT_TRUE(st_->messages().copy_chunk(*b, "room", 4, msgs(1, 5), true, &s, &events).is_ok());
    ASSERT_TRUE(b->commit().is_ok());
  }
  room_log_state other;
  {
    auto b = st_->new_batch();
    ASSERT_TRUE(st_->messages().copy_chunk(*b, "room1", 4, msgs(1, 2), true, &other, &events).is_ok());
    ASSERT_TRUE(b->commit().is_ok());
  }
  std::vector<compliance_record> kept;
  ASSERT_TRUE(st_->messages().read_events("room", 1, 10, &kept).is_ok());
  ASSERT_EQ(kept.size(), 5u);
  EXPECT_EQ(kept[2].text, "message 3");
  ASSERT_TRUE(st_->messages().trim_events("room", 3).is_ok());
  ASSERT_TRUE(st_->messages().read_events("room", 1, 10, &kept).is_ok());
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].message_id, 4u);
  EXPECT_EQ(seqs_of(all("room")), range(1, 5));  // the messages stay
  ASSERT_TRUE(st_->messages().read_events("room1", 1, 10, &kept).is_ok());
  EXPECT_EQ(kept.size(), 5u);
  ASSERT_TRUE(st_->messages().trim_events("room", ~uint64_t{0}).is_ok());
  ASSERT_TRUE(st_->messages().read_events("room", 1, 10, &kept).is_ok());
  EXPECT_TRUE(kept.empty());
  EXPECT_EQ(state("room"), (room_log_state{4, 0, true}));  // the state is no event
}

TEST_F(RoomLogTest, DeletingARoomDeletesItsStateAndNeighboursKeepTheirs) {
  ASSERT_TRUE(ship("room", 3, msgs(1, 2)).is_ok());
  ASSERT_TRUE(ship("room1", 4, msgs(1, 2)).is_ok());
  rocksdb::WriteBatch wb;
  ASSERT_TRUE(st_->messages().erase_room(&wb, "room").is_ok());
  ASSERT_TRUE(st_->writer().write(&wb).is_ok());
  EXPECT_EQ(state("room"), room_log_state{});
  EXPECT_TRUE(all("room").empty());
  EXPECT_EQ(state("room1"), (room_log_state{4, 4, false}));
  EXPECT_EQ(seqs_of(all("room1")), range(1, 2));
}

}  // namespace
}  // namespace pchat::storage
