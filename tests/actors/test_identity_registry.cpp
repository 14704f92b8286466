// identity_registry: snapshots are immutable and one of them answers a whole command, while
// admin writers publish new ones from other threads without losing each other's changes.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "actors/identity_registry.h"

using namespace pchat;

namespace {

storage::user_record user(const std::string& uri) {
  storage::user_record u;
  u.uri = uri;
  u.display_name = uri.substr(4, uri.find('@') - 4);
  return u;
}

}  // namespace

TEST(IdentityRegistry, ASnapshotKeepsAnsweringAsItWasWhileWritersMoveOn) {
  actors::identity_registry reg("example.com");
  EXPECT_FALSE(reg.current()->chat_enabled("sip:alice@example.com"));  // no policy: off
  reg.upsert_policy({"global", true, ""});
  reg.upsert_user(user("sip:alice@example.com"));
  reg.upsert_group({"desk", "", {"sip:alice@example.com"}});
  auto before = reg.current();
  reg.upsert_policy({"global", false, ""});
  reg.remove_group("desk");
  reg.remove_user("sip:alice@example.com");
  // The command that took `before` still sees one whole state...
  EXPECT_TRUE(before->chat_enabled("sip:alice@example.com"));
  EXPECT_TRUE(before->known_user("sip:alice@example.com"));
  EXPECT_TRUE(before->matches({"group:desk"}, "sip:alice@example.com"));
  // ...and the next command sees every change.
  auto after = reg.current();
  EXPECT_FALSE(after->chat_enabled("sip:alice@example.com"));
  EXPECT_FALSE(after->known_user("sip:alice@example.com"));
  EXPECT_FALSE(after->matches({"group:desk"}, "sip:alice@example.com"));
}

TEST(IdentityRegistry, ReadersRacingWritersSeeStableSnapshotsAndNoWriteIsLost) {
  actors::identity_registry reg("example.com");
  reg.upsert_policy({"global", true, ""});
  constexpr int kWriters = 3, kUsersEach = 200, kReaders = 2;
  std::atomic<int> writers_left{kWriters};
  std::atomic<long> reads{0}, torn{0};
  std::vector<std::thread> threads;
  // Each writer adds its own users and a group naming all of them, one change at a time,
  // as concurrent admin requests do.
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      storage::group_record g{"team" + std::to_string(w), "", {}};
      for (int i = 0; i < kUsersEach; ++i) {
        std::string uri = "sip:w" + std::to_string(w) + "u" + std::to_string(i) + "@example.com";
        reg.upsert_user(user(uri));
        g.members.push_back(uri);
        reg.upsert_group(g);
        if (i % 3 == 0) reg.upsert_policy({"tag:t" + std::to_string(w), i % 2 == 0, ""});
      }
      writers_left.fetch_sub(1);
    });
  // Readers ask the same questions twice of one snapshot (as a command does across its
  // steps): the answers must not change under them.
  for (int r = 0; r < kReaders; ++r)
    threads.emplace_back([&] {
      while (writers_left.load() > 0) {
        auto ids = reg.current();
        std::vector<storage::principal> everyone{"group:team0", "group:team1", "group:team2"};
        auto first = ids->expand(everyone);
        std::this_thread::yield();
        auto second = ids->expand(everyone);
        bool same = first.size() == second.size() &&
                    ids->matches(everyone, first.empty() ? "sip:nobody@example.com" : first.front()) ==
                        !first.empty();
        if (!same) torn.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  // Writers serialise: every user and every group's last member list is in the final view.
  auto last = reg.current();
  for (int w = 0; w < kWriters; ++w) {
    auto members = last->expand({"group:team" + std::to_string(w)});
    EXPECT_EQ(members.size(), static_cast<size_t>(kUsersEach)) << "writer " << w;
    for (int i = 0; i < kUsersEach; i += 37)
      EXPECT_TRUE(last->known_user("sip:w" + std::to_string(w) + "u" + std::to_string(i) + "@example.com"));
  }
}
