// History search through a real pchatd: posts over SIP (the in-tree XCCOS client), search
// through pchatctl and the admin API, admin replacement, restart with a lost index, and
// `pchatctl test message`.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;
using pchat::testing::join_demo;

class SearchE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data");
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
  }
  void TearDown() override {
    clients_.clear();
    EXPECT_TRUE(server_->stop()) << "pchatd did not stop cleanly on SIGTERM";
  }
  chat_client& client(const std::string& user) { return clients_.add(server_->sip_port(), user); }
  json ctl_json(const std::string& args, int expect_rc = 0) {
    return pchat::testing::ctl_json(*server_, args, expect_rc);
  }
  // The texts of a search's results, newest first.
  std::vector<std::string> texts(const std::string& args) {
    json j = ctl_json("search " + args);
    std::vector<std::string> out;
    if (j.is_object() && j["results"].is_array())
      for (auto& h : j["results"]) out.push_back(h.value("text", ""));
    return out;
  }

  pchat::testing::temp_dir dir_{"search-e2e"};
  std::unique_ptr<pchat::testing::server_process> server_;
  pchat::testing::chat_clients clients_;
};

TEST_F(SearchE2E, AcknowledgedPostsAreFoundByWordPhraseAuthorAndDate) {
  auto& alice = client("alice@example.com");
  auto& bob = client("bob@example.com");
  std::string room = join_demo(alice);
  ASSERT_FALSE(room.empty());
  ASSERT_FALSE(join_demo(bob).empty());
  ASSERT_TRUE(alice.post_and_wait_ack(room, "The quarterly report is ready", 5s));
  ASSERT_TRUE(bob.post_and_wait_ack(room, "report quarterly numbers, please", 5s));
  ASSERT_TRUE(bob.post_and_wait_ack(room, "lunch at noon?", 5s));

  // Search runs right after the acknowledgements: no waiting, the API syncs the indexer.
  EXPECT_EQ(texts("--query quarterly").size(), 2u);
  EXPECT_EQ(texts("--query '\"quarterly report\"'"),
            (std::vector<std::string>{"The quarterly report is ready"}));
  EXPECT_EQ(texts("--query report --author bob@example.com"),
            (std::vector<std::string>{"report quarterly numbers, please"}));
  EXPECT_EQ(texts("--query lunch --room 'Demo Room'"), (std::vector<std::string>{"lunch at noon?"}));
  EXPECT_TRUE(texts("--query quarterly --to 2000-01-01").empty());
  EXPECT_EQ(texts("--query quarterly --from 2000-01-01").size(), 2u);

  json j = ctl_json("search --query quarterly --limit 1");
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_TRUE(j["truncated"].get<bool>());
  EXPECT_EQ(j["limit"], 1);
  auto& hit = j["results"][0];
  EXPECT_EQ(hit["room"], "Demo Room");
  EXPECT_EQ(hit["room_uri"], room);
  EXPECT_EQ(hit["author"], "sip:bob@example.com");
  EXPECT_EQ(hit["seq"], 2);

  // Readable table by default.
  int rc = -1;
  std::string table = server_->ctl("search --query lunch", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(table.find("lunch at noon?"), std::string::npos) << table;
  EXPECT_NE(table.find("1 result"), std::string::npos) << table;
}

TEST_F(SearchE2E, BadSearchesAreRefusedWithReasons) {
  int rc = -1;
  std::string out = server_->ctl("search --query x --room 'No Such Room'", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no room"), std::string::npos) << out;
  out = server_->ctl("search --query x --from yesterday", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("from must be"), std::string::npos) << out;
  out = server_->ctl("search", &rc);
  EXPECT_EQ(rc, 2);
}

TEST_F(SearchE2E, AdminReplacementShowsInBackchatAndSearchNotTheOriginal) {
  auto& alice = client("alice@example.com");
  std::string room = join_demo(alice);
  ASSERT_FALSE(room.empty());
  ASSERT_TRUE(alice.post_and_wait_ack(room, "the launch codes are zebra42", 5s));
  ASSERT_EQ(texts("--query zebra42").size(), 1u);

  int rc = -1;
  std::string out = server_->ctl(
      "message remove --room 'Demo Room' --contains zebra42 --replace 'removed by the moderator'", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(texts("--query zebra42").empty());
  EXPECT_EQ(texts("--query moderator"), (std::vector<std::string>{"removed by the moderator"}));

  auto& bob = client("bob@example.com");
  ASSERT_FALSE(join_demo(bob).empty());
  auto history = bob.backchat_and_wait(room, 10, 5s);
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().text, "removed by the moderator");
}

TEST_F(SearchE2E, IndexIsRebuiltFromTheStoreAfterRestart) {
  {
    auto& alice = client("alice@example.com");
    std::string room = join_demo(alice);
    ASSERT_FALSE(room.empty());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(alice.post_and_wait_ack(room, "persistent giraffe " + std::to_string(i), 5s));
    clients_.clear();
  }
  ASSERT_TRUE(server_->stop());
  std::filesystem::remove_all(dir_ / "data/search");  // lose the whole index
  ASSERT_TRUE(server_->start()) << server_->stderr_text();
  // The index is rebuilt at start-up before the indexer answers: the first search waits.
  EXPECT_EQ(texts("--query giraffe").size(), 5u);
}

TEST_F(SearchE2E, TestMessageExchangesAMessageBetweenTwoTestUsers) {
  int rc = -1;
  const std::string file = " --credential-file " + (dir_ / "creds.json");
  // No test users set: it refuses and says what to run (it creates no account itself).
  std::string out = server_->ctl("test message" + file, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("pchatctl test credential set"), std::string::npos) << out;
  out = server_->ctl("test credential set --user1 alice@example.com --password1 a --user2 bob@example.com "
                     "--password2 b --room 'Demo Room'" + file, &rc);
  ASSERT_EQ(rc, 0) << out;
  out = server_->ctl("test message" + file, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Success"), std::string::npos) << out;
  json j = ctl_json("test message --room 'Demo Room'" + file);
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j["success"].get<bool>());
  EXPECT_EQ(j["steps"].size(), 7u);  // find room, 2 sign-ins, 2 joins, 2 exchanges
  out = server_->ctl("test message --room 'No Such Room'" + file, &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("Failure"), std::string::npos) << out;
  // The test users' messages are searchable like any others.
  EXPECT_FALSE(texts("--query 'pchat test message'").empty());
}

}  // namespace

TEST_F(SearchE2E, RoomClearRemovesOlderContentFromBackchatAndSearch) {
  auto& alice = client("alice@example.com");
  ASSERT_TRUE(alice.sign_in(10s));
  std::string room = join_demo(alice);
  ASSERT_FALSE(room.empty());
  ASSERT_TRUE(alice.post_and_wait_ack(room, "ancient zebra memo", 5s));
  ASSERT_TRUE(alice.post_and_wait_ack(room, "another zebra note", 5s));
  ASSERT_EQ(texts("--query zebra").size(), 2u);
  // Clear-CsPersistentChatRoom -EndDate today: everything so far goes.
  std::time_t now = std::time(nullptr);
  char today[16];
  std::strftime(today, sizeof today, "%Y-%m-%d", std::gmtime(&now));
  json cleared = ctl_json(std::string("room clear --identity 'Demo Room' --before ") + today);
  EXPECT_EQ(cleared.value("removed_messages", 0), 2);
  EXPECT_TRUE(texts("--query zebra").empty());
  auto h = alice.backchat_and_wait(room, 25, 5s);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->empty());
  // New posts are unaffected, and an unknown room or a bad date is refused.
  std::time_t later = now - 86400 * 365;
  char old_day[16];
  std::strftime(old_day, sizeof old_day, "%Y-%m-%d", std::gmtime(&later));
  ASSERT_TRUE(alice.post_and_wait_ack(room, "fresh zebra", 5s));
  ctl_json(std::string("room clear --identity 'Demo Room' --before ") + old_day);
  EXPECT_EQ(texts("--query zebra"), (std::vector<std::string>{"fresh zebra"}));
  int rc = 0;
  server_->ctl("room clear --identity 'Nowhere' --before 2020-01-01", &rc);
  EXPECT_EQ(rc, 1);
  server_->ctl("room clear --identity 'Demo Room' --before yesterday", &rc);
  EXPECT_EQ(rc, 1);
}
