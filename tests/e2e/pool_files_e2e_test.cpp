// Uploaded files across the pool end to end (docs/POOL.md "Uploaded files in a pool"): a
// loopback etcd and three pchatd processes. An upload through a node that is neither the
// room's owner nor its follower is on both of them, synced, when it is answered 201, so
// the room's files survive the owner's kill -9 and the uploading node's; a node that has
// not got a file copies it from one that has when it is asked for it; every node lists the
// pool's files, each with its own id; a follower chosen after a node's loss gets the room's
// files before it counts; the room's members on every node are told of an upload. What is
// checked is what an HTTP or SIP client sees: the status, the list, the bytes, the notice.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pool/placement.h"
#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using pchat::testing::eventually;
using pchat::testing::http;
using pchat::testing::pool_cluster;

namespace {

class PoolFilesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pool_.start()) << pool_.error();
    pchat::testing::ctl_ok(pool_.node(0), "category new --name Desk --allowed-members domain:example.com");
    for (size_t i = 1; i < pool_.size(); ++i)
      ASSERT_TRUE(eventually([&] { return pool_.admin_get(i, "/api/v1/categories/Desk").first == 200; }, 2s)) << i;
    ASSERT_TRUE(pool_.ensure_user("alice@example.com")) << pool_.error();
  }

  // The id of a room made through node 0 whose owner and follower are `owner`, `follower`.
  std::string room_placed(size_t owner, size_t follower) {
    for (int k = 0; k < 64; ++k) {
      std::string name = "desk" + std::to_string(k);
      pchat::testing::ctl_ok(pool_.node(0), "room new --name " + name + " --category Desk --privacy open");
      std::string uri = pool_.room_uri(0, name);
      if (uri.empty()) continue;
      std::string id = uri.substr(uri.rfind('/') + 1);
      auto r = pchat::pool::rank(id, {"n1", "n2", "n3"});
      if (r[0] != pool_cluster::name(owner) || r[1] != pool_cluster::name(follower)) continue;
      for (size_t i = 0; i < pool_.size(); ++i)
        if (!eventually([&] { return !pool_.room_uri(i, name).empty(); }, 2s)) return "";
      return id;
    }
    return "";
  }
  pchat::testing::http_reply get(size_t node, const std::string& target) {
    return http(pool_.node(node).http_port(), "GET", target, {"X-PChat-User: sip:alice@example.com"});
  }
  pchat::testing::http_reply upload(size_t node, const std::string& room, const std::string& name,
                                    const std::string& bytes) {
    return http(pool_.node(node).http_port(), "POST", "/files/v1/rooms/" + room + "?name=" + name,
                {"X-PChat-User: sip:alice@example.com"}, bytes);
  }
  // Node i's listing of the room: file name -> id (empty when it does not answer 200).
  std::map<std::string, std::string> listing(size_t node, const std::string& room,
                                             size_t* entries = nullptr) {
    std::map<std::string, std::string> out;
    auto r = get(node, "/files/v1/rooms/" + room);
    if (r.status != 200) return out;
    auto list = nlohmann::json::parse(r.body, nullptr, false);
    if (!list.is_array()) return out;
    if (entries) *entries = list.size();
    for (auto& f : list) out[f.value("name", "")] = std::to_string(f.value("id", uint64_t{0}));
    return out;
  }
  pchat::client::chat_client& signed_in(size_t node, const std::string& user) {
    EXPECT_TRUE(pool_.ensure_user(user)) << pool_.error();
    auto& c = clients_.add(pool_.node(node).sip_port(), user);
    EXPECT_TRUE(c.sign_in(10s)) << user << " on " << pool_cluster::name(node) << ": "
                                << c.failure_reason();
    return c;
  }

  pchat::testing::temp_dir dir_{"pool-files-e2e"};
  pool_cluster pool_{dir_.path(), 3, {"--demo-content=false", "--auth=none"}, "files"};
  pchat::testing::chat_clients clients_;
};

std::string random_bytes(size_t n) {
  std::mt19937 gen(12);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xFF);
  return out;
}

}  // namespace

// Upload through n1 into a room n2 owns and n3 follows (700 KiB: three chunks over BASP);
// n2 is killed (-9), then n1: n3 serves the same bytes from its own copy.
TEST_F(PoolFilesE2E, AnUploadIsOnTheOwnerAndFollowerBeforeIts201AndSurvivesTheirNeighboursKill) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  const std::string bytes = random_bytes(700 * 1024);
  auto up = http(pool_.node(0).http_port(), "POST", "/files/v1/rooms/" + room + "?name=plan.bin",
                 {"X-PChat-User: sip:alice@example.com"}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  ASSERT_FALSE(id.empty());
  const std::string target = "/files/v1/rooms/" + room + "/" + id;
  pool_.kill(1);
  pool_.kill(0);
  auto down = get(2, target);
  ASSERT_EQ(down.status, 200) << down.body.substr(0, 200);
  EXPECT_TRUE(down.body == bytes) << "n3 served " << down.body.size() << " bytes of " << bytes.size();
}

// Upload through n1 into a room n2 owns and n1 follows; n3 (neither) is asked for the file
// after n2's kill -9: it copies it from n1 and serves the same bytes.
TEST_F(PoolFilesE2E, ANodeWithoutTheFileCopiesItFromOneThatHasIt) {
  std::string room = room_placed(1, 0);
  ASSERT_FALSE(room.empty());
  const std::string bytes = random_bytes(300 * 1024 + 7);
  auto up = http(pool_.node(0).http_port(), "POST", "/files/v1/rooms/" + room + "?name=notes.txt",
                 {"X-PChat-User: sip:alice@example.com"}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  const std::string target = "/files/v1/rooms/" + room + "/" + id;
  pool_.kill(1);
  auto down = get(2, target);
  ASSERT_EQ(down.status, 200) << down.body.substr(0, 200);
  EXPECT_TRUE(down.body == bytes) << "n3 served " << down.body.size() << " bytes of " << bytes.size();
  EXPECT_EQ(get(2, "/files/v1/rooms/" + room + "/999").status, 404);
}

// Uploads through all three nodes at once into a room n2 owns and n3 follows (each node
// numbers its own uploads): every upload gets its own id, and every node lists all of them
// (n1 holds only its own uploads; it asks the others), with the same id for the same file.
TEST_F(PoolFilesE2E, EveryNodeListsEveryUploadOfThePoolEachWithItsOwnId) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  constexpr int kPerNode = 8;
  std::map<std::string, std::string> ids;  // name -> id, as the 201s say
  std::vector<std::map<std::string, std::string>> got(pool_.size());
  std::vector<std::string> failures(pool_.size());
  std::vector<std::thread> uploaders;
  for (size_t n = 0; n < pool_.size(); ++n)
    uploaders.emplace_back([&, n] {
      for (int k = 0; k < kPerNode; ++k) {
        std::string name = "n" + std::to_string(n + 1) + "-" + std::to_string(k) + ".txt";
        auto up = upload(n, room, name, "file " + name);
        if (up.status != 201)
          failures[n] += name + ": " + std::to_string(up.status) + " " + up.body + "; ";
        got[n][name] = pchat::testing::json_field(up.body, "id");
      }
    });
  for (auto& t : uploaders) t.join();
  for (size_t n = 0; n < pool_.size(); ++n) {
    EXPECT_TRUE(failures[n].empty()) << failures[n];
    ids.insert(got[n].begin(), got[n].end());
  }
  ASSERT_EQ(ids.size(), pool_.size() * kPerNode);
  std::set<std::string> distinct;
  for (auto& [name, id] : ids) distinct.insert(id);
  EXPECT_EQ(distinct.size(), ids.size()) << "two uploads were given one id";
  for (size_t n = 0; n < pool_.size(); ++n) {
    size_t entries = 0;
    EXPECT_EQ(listing(n, room, &entries), ids) << pool_cluster::name(n) << "'s listing";
    EXPECT_EQ(entries, ids.size())
        << pool_cluster::name(n) << "'s listing has " << entries << " entries";
  }
  // A file uploaded through n3 is read through n1 (copied from n2 or n3) intact.
  auto down = get(0, "/files/v1/rooms/" + room + "/" + ids.at("n3-5.txt"));
  ASSERT_EQ(down.status, 200) << down.body;
  EXPECT_EQ(down.body, "file n3-5.txt");
}

// Uploads through the owner n2 and the follower n3: the files are on n2 and n3 only. n2 is
// killed (-9): n3 takes the room over and n1 becomes its follower, which gets the room's
// files before it counts (a post acknowledged again shows it counts). Then n3 is killed: n1,
// alone, lists and serves both files from its own disk.
TEST_F(PoolFilesE2E, ANewFollowerGetsTheRoomsFilesBeforeItCounts) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  const std::string big = random_bytes(600 * 1024 + 3);
  auto a = upload(1, room, "big.bin", big);
  ASSERT_EQ(a.status, 201) << a.body;
  auto b = upload(2, room, "small.txt", "small file");
  ASSERT_EQ(b.status, 201) << b.body;
  std::map<std::string, std::string> ids{{"big.bin", pchat::testing::json_field(a.body, "id")},
                                         {"small.txt", pchat::testing::json_field(b.body, "id")}};
  auto& ann = signed_in(0, "ann@example.com");
  std::string uri = "ma-chan://example.com/" + room;
  auto joined = ann.join_and_wait(uri, 10s);
  ASSERT_TRUE(joined && joined->ok());
  ASSERT_TRUE(ann.post_and_wait_ack(uri, "before", 10s));
  pool_.kill(1);
  ASSERT_TRUE(pool_.wait_view(0, {"n1", "n3"}, 5s));
  ASSERT_TRUE(ann.post_and_wait_ack(uri, "after the owner's kill", 15s));
  pool_.kill(2);
  ASSERT_TRUE(pool_.wait_view(0, {"n1"}, 5s));
  EXPECT_EQ(listing(0, room), ids);
  auto big_down = get(0, "/files/v1/rooms/" + room + "/" + ids["big.bin"]);
  ASSERT_EQ(big_down.status, 200) << big_down.body.substr(0, 200);
  EXPECT_TRUE(big_down.body == big)
      << "n1 served " << big_down.body.size() << " bytes of " << big.size();
  auto small_down = get(0, "/files/v1/rooms/" + room + "/" + ids["small.txt"]);
  ASSERT_EQ(small_down.status, 200) << small_down.body;
  EXPECT_EQ(small_down.body, "small file");
}

// Members signed in on each node in a room n2 owns; an upload through n1 (neither owner nor
// follower): every member, whichever node it is on, is told once ("shared a file").
TEST_F(PoolFilesE2E, EveryMemberOnEveryNodeIsToldOfAnUpload) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  std::string uri = "ma-chan://example.com/" + room;
  std::vector<pchat::client::chat_client*> members;
  for (size_t n = 0; n < pool_.size(); ++n) {
    auto& c = signed_in(n, "member" + std::to_string(n + 1) + "@example.com");
    auto joined = c.join_and_wait(uri, 10s);
    ASSERT_TRUE(joined && joined->ok()) << pool_cluster::name(n);
    members.push_back(&c);
  }
  auto up = upload(0, room, "minutes.txt", "the minutes");
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  for (size_t n = 0; n < members.size(); ++n) {
    auto note = members[n]->wait_for_message(
        [&](const pchat::client::chat_post& m) {
          return m.room == uri && m.text.find("shared a file: minutes.txt") == 0;
        },
        10s);
    ASSERT_TRUE(note) << "the member on " << pool_cluster::name(n) << " was not told of the upload";
    EXPECT_EQ(note->author, "sip:alice@example.com");
    EXPECT_NE(note->text.find("/files/v1/rooms/" + room + "/" + id), std::string::npos)
        << note->text;
  }
  for (size_t n = 0; n < members.size(); ++n) {
    size_t copies = 0;
    for (auto& m : members[n]->messages())
      if (m.room == uri && m.text.find("shared a file: minutes.txt") == 0) ++copies;
    EXPECT_EQ(copies, 1u) << pool_cluster::name(n);
    pchat::testing::expect_clean(*members[n]);
  }
}

// n2, the room's owner, is killed; an upload made meanwhile (through n1) is on n3, the
// acting owner, and n1. n2 returns and takes its room back: before it acknowledges a post
// again it holds that file too (it copies what the other nodes hold and it does not). Then
// n1 and n3 are killed: n2, alone, lists and serves the file from its own disk.
TEST_F(PoolFilesE2E, AReturningOwnerCopiesTheFilesUploadedWhileItWasGone) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  std::string uri = "ma-chan://example.com/" + room;
  auto& ann = signed_in(0, "ann@example.com");
  auto joined = ann.join_and_wait(uri, 10s);
  ASSERT_TRUE(joined && joined->ok());
  pool_.kill(1);
  ASSERT_TRUE(pool_.wait_view(0, {"n1", "n3"}, 5s));
  ASSERT_TRUE(ann.post_and_wait_ack(uri, "while n2 is gone", 15s));
  const std::string bytes = random_bytes(400 * 1024 + 11);
  auto up = upload(0, room, "gone.bin", bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  ASSERT_TRUE(pool_.restart(1)) << pool_.error();
  for (size_t i = 0; i < pool_.size(); ++i)
    ASSERT_TRUE(pool_.wait_view(i, {"n1", "n2", "n3"}, 10s)) << i;
  auto n2_claims = [&] {
    auto s = pool_.pool_status(1);
    if (!s.is_object()) return false;
    for (auto& r : s.value("rooms", nlohmann::json::array()))
      if (r.value("room_id", "") == room) return true;
    return false;
  };
  ASSERT_TRUE(eventually(n2_claims, 15s)) << "n2 did not take its room back";
  ASSERT_TRUE(ann.post_and_wait_ack(uri, "after n2's return", 15s));
  pool_.kill(0);
  pool_.kill(2);
  ASSERT_TRUE(pool_.wait_view(1, {"n2"}, 5s));
  EXPECT_EQ(listing(1, room), (std::map<std::string, std::string>{{"gone.bin", id}}));
  auto down = get(1, "/files/v1/rooms/" + room + "/" + id);
  ASSERT_EQ(down.status, 200) << down.body.substr(0, 200);
  EXPECT_TRUE(down.body == bytes) << "n2 served " << down.body.size() << " bytes of "
                                  << bytes.size();
}

// An upload through n1 into a room n2 owns and n3 follows is on all three; an administrator
// removes it through n3 (pchatctl file remove): no node lists or serves it any more, and
// `file get` through any node shows none (each node's own copy removed, not only n3's).
TEST_F(PoolFilesE2E, AFileRemovedThroughOneNodeIsGoneFromEveryNode) {
  std::string room = room_placed(1, 2);
  ASSERT_FALSE(room.empty());
  auto up = upload(0, room, "takedown.txt", "to be taken down");
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = pchat::testing::json_field(up.body, "id");
  for (size_t n = 0; n < pool_.size(); ++n)
    ASSERT_EQ(listing(n, room).count("takedown.txt"), 1u) << pool_cluster::name(n);
  int rc = -1;
  std::string out = pool_.node(2).ctl("--json file remove --room-id " + room + " --id " + id, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(pchat::testing::json_field(out, "copies"), "3") << out;
  for (size_t n = 0; n < pool_.size(); ++n) {
    size_t entries = 99;
    listing(n, room, &entries);
    EXPECT_EQ(entries, 0u) << pool_cluster::name(n) << " still lists the removed file";
    EXPECT_EQ(get(n, "/files/v1/rooms/" + room + "/" + id).status, 404) << pool_cluster::name(n);
    auto admin = pool_.admin_get(n, "/api/v1/files?room=" + room);
    EXPECT_EQ(admin.first, 200);
    EXPECT_TRUE(admin.second.is_array() && admin.second.empty()) << admin.second.dump();
  }
  out = pool_.node(0).ctl("file remove --room-id " + room + " --id " + id, &rc);
  EXPECT_NE(rc, 0) << "a second removal found the file: " << out;
}
