// index_feed (actors/index_feed.h): what the commit actor notes and the indexer takes. The
// wake-up answers (no lost wake, no second one while awake), the lag, rewrites below what
// was read, round-robin between rooms, and the bound on remembered rewrite ranges.
#include <gtest/gtest.h>

#include "actors/index_feed.h"

using pchat::actors::index_feed;
using pchat::actors::index_note;
using pchat::actors::kMaxRedoRanges;

TEST(IndexFeed, TheFirstNoteWakesTheIndexerAndTheNextOnesDoNotUntilItSleeps) {
  index_feed f;
  EXPECT_TRUE(f.note({{"a", 1, false}}));
  EXPECT_FALSE(f.note({{"a", 2, false}}));
  EXPECT_EQ(f.lag_messages(), 2u);
  auto w = f.next();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->room_id, "a");
  EXPECT_EQ(w->scanned, 0u);
  EXPECT_EQ(w->written, 2u);
  f.scanned("a", 2);
  EXPECT_EQ(f.lag_messages(), 0u);
  EXPECT_EQ(f.lag_age(), std::chrono::microseconds(0));
  EXPECT_FALSE(f.note({{"a", 3, false}}));  // still awake: it has not asked since
  ASSERT_TRUE(f.next());
  f.scanned("a", 3);
  EXPECT_FALSE(f.next());                  // asleep now
  EXPECT_TRUE(f.note({{"b", 1, false}}));  // so the next note wakes it
}

TEST(IndexFeed, LagCountsWhatIsWrittenAndNotReadAndItsAge) {
  index_feed f;
  f.note({{"a", 10, false}, {"b", 5, false}});
  EXPECT_EQ(f.lag_messages(), 15u);
  EXPECT_GE(f.lag_age(index_feed::clock::now() + std::chrono::seconds(2)), std::chrono::seconds(2));
  auto w = f.next();
  ASSERT_TRUE(w);
  f.scanned(w->room_id, 4);  // part of it
  EXPECT_EQ(f.lag_messages(), 11u);
  // A start over an index that holds more than the store said so far never lowers a mark.
  f.seed("c", 7, 9);
  EXPECT_EQ(f.lag_messages(), 13u);
  f.seed("c", 9, 9);
  EXPECT_EQ(f.lag_messages(), 11u);
  f.seed("c", 3, 9);
  EXPECT_EQ(f.lag_messages(), 11u);
  EXPECT_EQ(f.scanned_through("c"), 9u);
}

TEST(IndexFeed, RoomsWithWorkAreServedInTurn) {
  index_feed f;
  f.note({{"a", 1000, false}, {"b", 1000, false}});
  auto w1 = f.next();
  ASSERT_TRUE(w1);
  f.scanned(w1->room_id, 500);  // not done: back of the line
  auto w2 = f.next();
  ASSERT_TRUE(w2);
  EXPECT_NE(w2->room_id, w1->room_id);
  f.scanned(w2->room_id, 500);
  auto w3 = f.next();
  ASSERT_TRUE(w3);
  EXPECT_EQ(w3->room_id, w1->room_id);
  EXPECT_EQ(w3->scanned, 500u);
}

TEST(IndexFeed, RewritesBelowWhatWasReadAreReadAgainAsMergedRanges) {
  index_feed f;
  f.note({{"a", 100, false}});
  f.scanned("a", 100);
  ASSERT_TRUE(f.next() == std::nullopt);
  EXPECT_TRUE(f.done_through("a", 100));
  // seqs 5, 6, 7 and 9 rewritten, then 8: one range 5..9; 50 alone; 150 is ahead (no redo).
  EXPECT_TRUE(f.note({{"a", 5, true}, {"a", 6, true}, {"a", 7, true}, {"a", 9, true}, {"a", 50, true}}));
  f.note({{"a", 8, true}});
  EXPECT_FALSE(f.done_through("a", 10));
  EXPECT_TRUE(f.done_through("a", 4));
  auto w = f.next();
  ASSERT_TRUE(w);
  ASSERT_EQ(w->redo.size(), 2u);
  EXPECT_EQ(w->redo[0], std::make_pair(uint64_t{5}, uint64_t{9}));
  EXPECT_EQ(w->redo[1], std::make_pair(uint64_t{50}, uint64_t{50}));
  EXPECT_EQ(f.lag_messages(), 0u);  // rewrites are not new messages
  // Part of it done: what is left comes back.
  f.scanned("a", 100, {{50, 50}});
  auto again = f.next();
  ASSERT_TRUE(again);
  ASSERT_EQ(again->redo.size(), 1u);
  EXPECT_EQ(again->redo[0], std::make_pair(uint64_t{50}, uint64_t{50}));
  f.scanned("a", 100);
  EXPECT_FALSE(f.next());
  EXPECT_TRUE(f.done_through("a", 100));
}

TEST(IndexFeed, ScatteredRewritesCollapseIntoOneRangeBeyondTheBound) {
  index_feed f;
  f.note({{"a", 10000, false}});
  f.scanned("a", 10000);
  for (uint64_t s = 10; s < 10 + 3 * (kMaxRedoRanges + 5); s += 3) f.note({{"a", s, true}});
  auto w = f.next();
  ASSERT_TRUE(w);
  ASSERT_LE(w->redo.size(), kMaxRedoRanges);
  EXPECT_EQ(w->redo.front().first, 10u);
  EXPECT_GE(w->redo.back().second, 10u + 3 * (kMaxRedoRanges + 4));
}

TEST(IndexFeed, AHeldIndexerIsNotWokenByNotes) {
  index_feed f;
  EXPECT_FALSE(f.next());
  f.hold_awake();
  EXPECT_FALSE(f.note({{"a", 1, false}}));
  ASSERT_TRUE(f.next());
}
