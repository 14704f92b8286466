// Export / import through real pchatd processes: export -> wipe -> import reproduces
// categories, rooms (ids, URIs, names, roles) and history (back-chat over SIP and search);
// importing twice adds nothing; conflicts and malformed archives are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

constexpr const char* kRoomId = "7f3c2a10-0000-4000-8000-00000000a001";
constexpr const char* kCategoryId = "7f3c2a10-0000-4000-8000-00000000c001";

// A hand-written archive (docs/ARCHIVE.md): one category, one closed auditorium room with
// roles, two messages.
std::string seed_archive() {
  std::ostringstream a;
  a << R"({"format":"pchat-archive","version":1,"exported_at":"2024-05-01T00:00:00.000000Z","domain":"example.com","scope":{"category":null,"since":null}})" << "\n"
    << json{{"type", "category"}, {"id", kCategoryId}, {"name", "Trading"}, {"description", "Desk rooms"},
            {"allowed_members", {"domain:example.com"}}, {"denied_members", json::array()},
            {"creators", {"sip:carol@example.com"}}, {"file_upload", false}, {"invitations", true},
            {"chat_history", true}}.dump() << "\n"
    << json{{"type", "room"}, {"id", kRoomId}, {"name", "FX Desk"}, {"description", "Spot FX"},
            {"category_id", kCategoryId}, {"topic", "EURUSD only"}, {"room_type", "auditorium"},
            {"privacy", "open"}, {"invitations", "off"}, {"disabled", false}, {"addin", ""},
            {"members", {"sip:alice@example.com", "sip:bob@example.com"}},
            {"managers", {"sip:carol@example.com"}}, {"presenters", {"sip:alice@example.com"}}}.dump() << "\n"
    << json{{"type", "message"}, {"room", kRoomId}, {"seq", 1}, {"author", "sip:alice@example.com"},
            {"ts_micros", int64_t{1714550400000000}}, {"text", "opening the book"}, {"extra_xml", ""}}.dump() << "\n"
    << json{{"type", "message"}, {"room", kRoomId}, {"seq", 2}, {"author", "sip:bob@example.com"},
            {"ts_micros", int64_t{1714550460000000}}, {"text", "eurusd bid firm"}, {"extra_xml", ""}}.dump() << "\n"
    << R"({"type":"end","categories":1,"rooms":1,"messages":2})" << "\n";
  return a.str();
}

// Room listings without the live "users" count (who is joined right now is not archived).
json without_live_counts(json rooms) {
  for (auto& r : rooms) r.erase("users");
  return rooms;
}

class ArchiveE2E : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override {
    clients_.clear();
    if (server_) {
      EXPECT_TRUE(server_->stop()) << "pchatd did not stop cleanly on SIGTERM";
    }
  }
  void start() {
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data");
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
  }
  // "Wipe": stop pchatd, delete its data folder, start a fresh one.
  void wipe() {
    clients_.clear();
    ASSERT_TRUE(server_->stop());
    std::filesystem::remove_all(dir_ / "data");
    start();
  }
  chat_client& client(const std::string& user) { return clients_.add(server_->sip_port(), user); }
  json ctl_json(const std::string& args, int expect_rc = 0) {
    return pchat::testing::ctl_json(*server_, args, expect_rc);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }
  // The archive's lines without the header (which holds exported_at).
  std::vector<std::string> body_lines(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::vector<std::string> out;
    std::getline(in, line);
    while (std::getline(in, line)) out.push_back(line);
    return out;
  }
  std::vector<std::string> backchat(const std::string& user, const std::string& room_uri) {
    auto& c = client(user);
    std::vector<std::string> out;
    if (!c.sign_in(10s)) return {"sign-in failed"};
    auto j = c.join_and_wait(room_uri, 5s);
    if (!j || !j->ok()) return {"join failed"};
    auto h = c.backchat_and_wait(room_uri, 30, 5s);
    if (!h) return {"no back-chat"};
    for (auto& p : *h) out.push_back(p.author + ": " + p.text);
    return out;
  }

  pchat::testing::temp_dir dir_{"archive-e2e"};
  std::unique_ptr<pchat::testing::server_process> server_;
  pchat::testing::chat_clients clients_;
};

TEST_F(ArchiveE2E, ExportWipeImportReproducesRoomsRolesAndHistory) {
  // Content: the seeded room with roles, the demo room, and live posts in both.
  ASSERT_EQ(ctl_json("import --file " + write("seed.jsonl", seed_archive()))["messages_new"], 2);
  std::string fx_uri = std::string("ma-chan://example.com/") + kRoomId, demo_uri;
  {
    auto& alice = client("alice@example.com");
    ASSERT_TRUE(alice.sign_in(10s));
    auto j = alice.join_and_wait(fx_uri, 5s);
    ASSERT_TRUE(j && j->ok());
    ASSERT_TRUE(alice.post_and_wait_ack(fx_uri, "live post after the import", 5s));
    auto rooms = alice.search_rooms("demo", 5s);
    ASSERT_TRUE(rooms && !rooms->empty());
    demo_uri = rooms->front().uri;
    ASSERT_TRUE(alice.join_and_wait(demo_uri, 5s));
    ASSERT_TRUE(alice.post_and_wait_ack(demo_uri, "hello demo", 5s));
  }
  auto fx_history = backchat("bob@example.com", fx_uri);
  auto demo_history = backchat("bob@example.com", demo_uri);
  ASSERT_EQ(fx_history.size(), 3u);
  ASSERT_EQ(demo_history.size(), 1u);
  json rooms_before = without_live_counts(ctl_json("room get"));
  json cats_before = ctl_json("category get");

  std::string archive = dir_ / "all.jsonl";
  json exp = ctl_json("export --file " + archive);
  EXPECT_EQ(exp["categories"], 2);
  EXPECT_EQ(exp["rooms"], 2);
  EXPECT_EQ(exp["messages"], 4);
  auto exported = body_lines(archive);

  // Wipe: stop, delete the data folder, start empty (no demo content), import.
  clients_.clear();
  ASSERT_TRUE(server_->stop());
  std::filesystem::remove_all(dir_ / "data");
  server_ = std::make_unique<pchat::testing::server_process>(
      dir_ / "data", std::vector<std::string>{"--demo-content=false"});
  ASSERT_TRUE(server_->start()) << server_->stderr_text();
  ASSERT_TRUE(ctl_json("room get").empty());
  json imp = ctl_json("import --file " + archive);
  EXPECT_EQ(imp["messages_new"], 4);

  // Rooms keep ids, URIs, names and categories; a re-export is identical line for line,
  // which covers every stored field (roles, privacy, type, topic, seqs, times, texts).
  EXPECT_EQ(without_live_counts(ctl_json("room get")), rooms_before);
  EXPECT_EQ(ctl_json("category get"), cats_before);
  std::string again = dir_ / "again.jsonl";
  ctl_json("export --file " + again);
  EXPECT_EQ(body_lines(again), exported);
  bool roles = false;
  for (auto& l : exported)
    roles |= l.find("\"managers\":[\"sip:carol@example.com\"]") != std::string::npos &&
             l.find("\"presenters\":[\"sip:alice@example.com\"]") != std::string::npos;
  EXPECT_TRUE(roles);
  // History: back-chat over SIP and search, as before the wipe.
  EXPECT_EQ(backchat("bob@example.com", fx_uri), fx_history);
  EXPECT_EQ(backchat("bob@example.com", demo_uri), demo_history);
  EXPECT_EQ(ctl_json("search --query eurusd")["results"].size(), 1u);
  EXPECT_EQ(ctl_json("search --query hello --room " + demo_uri)["results"].size(), 1u);
}

TEST_F(ArchiveE2E, ExportWipeImportByCategoryReproducesRoomsRolesAndHistory) {
  ASSERT_EQ(ctl_json("import --file " + write("seed.jsonl", seed_archive()))["messages_new"], 2);
  std::string fx_uri = std::string("ma-chan://example.com/") + kRoomId;
  {
    auto& alice = client("alice@example.com");
    ASSERT_TRUE(alice.sign_in(10s));
    auto j = alice.join_and_wait(fx_uri, 5s);
    ASSERT_TRUE(j && j->ok());
    ASSERT_TRUE(alice.post_and_wait_ack(fx_uri, "live post after the import", 5s));
  }
  std::vector<std::string> history = backchat("bob@example.com", fx_uri);
  ASSERT_EQ(history, (std::vector<std::string>{"sip:alice@example.com: opening the book",
                                               "sip:bob@example.com: eurusd bid firm",
                                               "sip:alice@example.com: live post after the import"}));
  json room_before = ctl_json("room get --identity " + std::string(kRoomId));
  std::string archive = dir_ / "trading.jsonl";
  json exp = ctl_json("export --file " + archive + " --category Trading");
  EXPECT_EQ(exp["rooms"], 1);
  EXPECT_EQ(exp["messages"], 3);
  auto exported = body_lines(archive);

  wipe();
  json what_if = ctl_json("import --file " + archive + " --what-if");
  EXPECT_EQ(what_if["messages_new"], 3);
  EXPECT_TRUE(ctl_json("room get --identity " + std::string(kRoomId), 1).is_discarded());  // not written

  json imp = ctl_json("import --file " + archive);
  EXPECT_EQ(imp["rooms"], 1);
  EXPECT_EQ(imp["messages_new"], 3);
  // Same room: id, URI, name, category, description; and a re-export is identical, which
  // covers every stored field (roles, privacy, type, topic, seqs, timestamps, texts).
  json room_after = ctl_json("room get --identity " + std::string(kRoomId));
  EXPECT_EQ(room_after["uri"], fx_uri);
  EXPECT_EQ(room_after["name"], room_before["name"]);
  EXPECT_EQ(room_after["category_id"], room_before["category_id"]);
  std::string again = dir_ / "again.jsonl";
  ctl_json("export --file " + again + " --category Trading");
  EXPECT_EQ(body_lines(again), exported);
  EXPECT_NE(exported[1].find("\"managers\":[\"sip:carol@example.com\"]"), std::string::npos) << exported[1];
  EXPECT_NE(exported[1].find("\"presenters\":[\"sip:alice@example.com\"]"), std::string::npos) << exported[1];

  // History over SIP and in search, as before the wipe.
  EXPECT_EQ(backchat("bob@example.com", fx_uri), history);
  json found = ctl_json("search --query eurusd --room 'FX Desk'");
  ASSERT_EQ(found["results"].size(), 1u);
  EXPECT_EQ(found["results"][0]["seq"], 2);
  EXPECT_EQ(found["results"][0]["ts"], "2024-05-01T08:01:00.000000Z");

  // Importing again adds nothing; new posts continue after the imported seqs.
  json twice = ctl_json("import --file " + archive);
  EXPECT_EQ(twice["messages_new"], 0);
  EXPECT_EQ(twice["messages_present"], 3);
  {
    auto& alice = client("alice@example.com");  // a presenter of the auditorium
    ASSERT_TRUE(alice.sign_in(10s));
    ASSERT_TRUE(alice.join_and_wait(fx_uri, 5s));
    ASSERT_TRUE(alice.post_and_wait_ack(fx_uri, "fourth", 5s));
  }
  json fourth = ctl_json("search --query fourth");
  ASSERT_EQ(fourth["results"].size(), 1u);
  EXPECT_EQ(fourth["results"][0]["seq"], 4);
}

TEST_F(ArchiveE2E, ConflictsAndMalformedArchivesAreRefusedAndNothingIsWritten) {
  ASSERT_EQ(ctl_json("import --file " + write("seed.jsonl", seed_archive()))["rooms"], 1);
  int rc = -1;
  // Same room name under another id.
  std::string other = seed_archive();
  for (size_t p; (p = other.find("00000000a001")) != std::string::npos;) other.replace(p, 12, "00000000a002");
  std::string out = server_->ctl("import --file " + write("other.jsonl", other), &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("conflict: room name 'FX Desk'"), std::string::npos) << out;
  // Same seq, other text.
  std::string edited = seed_archive();
  edited.replace(edited.find("eurusd bid firm"), 15, "eurusd offered!");
  out = server_->ctl("import --file " + write("edited.jsonl", edited), &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("already has a different message 2"), std::string::npos) << out;
  // Truncated (no end record), wrong version, missing file.
  std::string cut = seed_archive();
  cut = cut.substr(0, cut.rfind("{\"type\":\"end\""));
  out = server_->ctl("import --file " + write("cut.jsonl", cut), &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;
  std::string v2 = seed_archive();
  v2.replace(v2.find("\"version\":1"), 11, "\"version\":2");
  out = server_->ctl("import --file " + write("v2.jsonl", v2), &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("not supported"), std::string::npos) << out;
  out = server_->ctl("import --file " + dir_ / "missing.jsonl", &rc);
  EXPECT_EQ(rc, 1);
  // Nothing of the refused archives was written.
  json found = ctl_json("search --query offered");
  EXPECT_TRUE(found["results"].empty());
}

TEST_F(ArchiveE2E, ExportSinceKeepsRoomsAndOnlyNewerMessages) {
  ASSERT_EQ(ctl_json("import --file " + write("seed.jsonl", seed_archive()))["messages_new"], 2);
  std::string path = dir_ / "since.jsonl";
  json exp = ctl_json("export --file " + path + " --since 2024-05-01T08:00:30Z");
  EXPECT_EQ(exp["messages"], 1);
  EXPECT_EQ(exp["rooms"], 2);  // the demo room and FX Desk
  auto lines = body_lines(path);
  EXPECT_NE(lines.back().find("\"type\":\"end\""), std::string::npos);
}

}  // namespace
