// Text is valid where it enters, and readers survive text that is not (issue 10, points 5
// and 6), through the real interfaces: posts over SIP/XCCOS with invalid UTF-8, &#0; or
// control characters get an XCCOS error and are not stored; the admin API and room
// management refuse such text with 400 and the reason; a record an older version stored
// with byte 0xFF (written into the store directly) is repaired, logged and reported by
// `pchatctl export`, shown repaired in back-chat and search, and survives re-import.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>

#include "storage/database.h"
#include "tests/support/chat_clients.h"
#include "tests/support/compliance_xsd.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/read_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using json = nlohmann::json;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;
using pchat::testing::join_demo;

namespace {

const std::string kFffd = "\xEF\xBF\xBD";

class BadTextE2E : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override {
    clients_.clear();
    if (server_) {
      EXPECT_TRUE(server_->stop()) << server_->exit_text() << "\n" << server_->stderr_text();
    }
  }
  void start() {
    server_ = std::make_unique<pchat::testing::server_process>(
        dir_ / "data", std::vector<std::string>{"--log-level=info"});
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
  }
  chat_client& client(const std::string& user) { return clients_.add(server_->sip_port(), user); }
  // The XCCOS reply to a command sent without one expected (a post, a raw INFO), which
  // arrives after the SIP 200.
  std::optional<pchat::client::xccos_reply> late_reply(chat_client& c, uint64_t id) {
    auto r = c.wait_command(id, 5s);
    if (!r || r->sip_status != 200) return std::nullopt;
    clients_.loop().run_until(
        [&] {
          auto now = c.wait_command(id, 0ms);
          return now && now->replied;
        },
        5s);
    auto now = c.wait_command(id, 0ms);
    if (!now || !now->replied) return std::nullopt;
    return now->reply;
  }
  std::vector<std::string> backchat_texts(chat_client& c, const std::string& room) {
    std::vector<std::string> out;
    auto h = c.backchat_and_wait(room, 50, 5s);
    if (h) {
      for (auto& p : *h) out.push_back(p.text);
    }
    return out;
  }
  // Stops pchatd, writes what an older version could have stored (no text check on entry):
  // a message with byte 0xFF in the demo room plus its staged compliance event, and a second
  // staged event whose text is a spreadsheet formula; starts pchatd with `args`. Returns the
  // last staged event's sequence (0 on failure).
  uint64_t stage_old_records(const std::string& room_id, std::vector<std::string> args) {
    clients_.clear();
    if (!server_->stop()) return 0;
    uint64_t last_event = 0;
    {
      std::unique_ptr<pchat::storage::database> st;
      if (!pchat::storage::database::open({dir_ / "data/store", false}, &st).is_ok()) return 0;
      uint64_t last = 0;
      if (!st->messages().last_sequence(room_id, &last).is_ok()) return 0;
      if (!st->compliance().last_sequence(&last_event).is_ok()) return 0;
      pchat::storage::message_record m;
      m.seq = last + 1;
      m.author = "sip:alice@example.com";
      m.ts_micros = 1767225600000000;  // 2026-01-01
      m.text = "bad \xFF byte";
      auto b = st->new_batch();
      st->messages().append(*b, room_id, m);
      pchat::storage::compliance_record e;
      e.kind = pchat::storage::compliance_kind::chat;
      e.ts_micros = m.ts_micros;
      e.room_id = room_id;
      e.room_name = "Demo Room";
      e.user_uri = m.author;
      e.message_id = m.seq;
      e.text = m.text;
      st->compliance().stage(*b, ++last_event, e);
      e.text = "=HYPERLINK(\"http://evil.example\",\"click\")";
      e.user_display = "@SUM(1+1)";
      st->compliance().stage(*b, ++last_event, e);
      if (!b->commit().is_ok()) return 0;
    }
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data", std::move(args));
    if (!server_->start()) return 0;
    return last_event;
  }
  json ctl_json(const std::string& args) { return pchat::testing::ctl_json_or_null(*server_, args); }
  // The only file with extension `ext` in `dir`, read whole ("" if none).
  static std::string only_output(const std::string& dir, const std::string& ext,
                                 std::string* path) {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (it->path().extension() != ext) continue;
      *path = it->path().string();
      return pchat::testing::read_file(*path);
    }
    return "";
  }
  bool delivered_through(uint64_t seq) {
    return pchat::testing::eventually(
        [&] {
          json s = ctl_json("compliance status");
          return s.is_object() && s.value("delivered_through", uint64_t{0}) >= seq;
        },
        15s, 50ms);
  }
  pchat::testing::http_reply admin(const std::string& method, const std::string& target,
                                   const std::string& body) {
    return pchat::testing::http(
        server_->http_port(), method, target,
        {"Authorization: Bearer " + server_->admin_token(), "Content-Type: application/json"}, body);
  }

  pchat::testing::temp_dir dir_{"badtext-e2e"};
  std::unique_ptr<pchat::testing::server_process> server_;
  pchat::testing::chat_clients clients_;
};

std::string error_of(const pchat::testing::http_reply& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") && j["error"].is_string()
             ? j["error"].get<std::string>()
             : r.body;
}

}  // namespace

TEST_F(BadTextE2E, PostsWithInvalidTextGetAnXccosErrorAndAreNotStored) {
  auto& alice = client("alice@example.com");
  const std::string room = join_demo(alice);
  ASSERT_FALSE(room.empty()) << alice.failure_reason();
  ASSERT_TRUE(alice.post_and_wait_ack(room, "before", 5s));

  // The client sends text bytes as given (it escapes only markup).
  const std::pair<std::string, std::string> raw[] = {
      {"bad \xFF byte", "invalid UTF-8"},
      {"ctl \x01 char", "control character U+0001"},
      {"esc \x1B[2J", "control character U+001B"},
      {"trunc \xC3", "invalid UTF-8"},
  };
  for (const auto& [text, why] : raw) {
    auto r = late_reply(alice, alice.post(room, text));
    ASSERT_TRUE(r) << text;
    EXPECT_EQ(r->code, 400) << text;
    EXPECT_NE(r->text.find(why), std::string::npos) << r->text;
  }
  // A character reference to NUL: was stored as "nul " (the rest lost) before.
  auto nul = late_reply(
      alice,
      alice.send_raw_info("<xccos ver=\"1\" envid=\"4242\" xmlns=\"urn:parlano:xml:ns:xccos\">"
                          "<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"" +
                          room +
                          "\" author=\"sip:alice@example.com\" ts=\"2026-01-01T00:00:00Z\">"
                          "<chat>nul &#0; ref</chat></grpchat></xccos>"));
  ASSERT_TRUE(nul);
  EXPECT_EQ(nul->code, 400);
  EXPECT_NE(nul->text.find("&#0; (U+0000)"), std::string::npos) << nul->text;

  ASSERT_TRUE(alice.post_and_wait_ack(room, "after", 5s));
  auto& bob = client("bob@example.com");
  ASSERT_EQ(join_demo(bob), room);
  const auto texts = backchat_texts(bob, room);
  ASSERT_GE(texts.size(), 2u);
  EXPECT_EQ(texts[texts.size() - 2], "before");
  EXPECT_EQ(texts.back(), "after");  // nothing refused was stored in between
  for (const auto& t : texts) {
    EXPECT_EQ(t.find("nul"), std::string::npos) << t;
    EXPECT_EQ(t.find("ctl"), std::string::npos) << t;
    EXPECT_EQ(t.find("bad"), std::string::npos) << t;
  }
}

TEST_F(BadTextE2E, TheAdminApiAndRoomManagementRefuseInvalidTextWithTheReason) {
  auto r = admin("POST", "/api/v1/categories", R"({"name": "bad\u0001name"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r), "field 'name': control character U+0001 at byte 3");
  r = admin("POST", "/api/v1/categories",
            R"({"name": "ok", "creators": ["sip:a@example.com", "x\u0000"]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r), "field 'creators[1]': control character U+0000 at byte 1");
  r = admin("POST", "/api/v1/categories", "{\"name\": \"raw \xFF\"}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r), "the body is not valid text: invalid UTF-8 at byte 14");
  r = pchat::testing::http(server_->http_port(), "GET", "/api/v1/categories",
                           {"Authorization: Bearer " + server_->admin_token()});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("bad"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("\"ok\""), std::string::npos) << r.body;
  // Without the token the guard is never reached: authentication comes first.
  EXPECT_EQ(pchat::testing::http(server_->http_port(), "POST", "/api/v1/categories", {},
                                 R"({"name": "bad\u0001name"})")
                .status,
            401);

  // Room management (users' /manage API) and file names.
  r = pchat::testing::http(
      server_->http_port(), "POST", "/manage/v1/rooms",
      {"X-PChat-User: sip:alice@example.com", "Content-Type: application/json"},
      R"({"name": "room\u001b[31m", "category": "Demo"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r), "field 'name': control character U+001B at byte 4");
  auto& alice = client("alice@example.com");
  const std::string room = join_demo(alice);
  ASSERT_FALSE(room.empty());
  const std::string room_id = room.substr(room.rfind('/') + 1);
  r = pchat::testing::http(server_->http_port(), "POST",
                           "/files/v1/rooms/" + room_id + "?name=a%C2%85b.txt",
                           {"X-PChat-User: sip:alice@example.com"}, "hello");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(BadTextE2E, DeeplyNestedJsonIsRefusedNotACrash) {
  // 200,000 levels of '[': the guard's walk recursed once per level (a stack overflow).
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  auto r = admin("PATCH", "/api/v1/categories/Demo", deep);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(error_of(r).find("nested deeper than 64 levels"), std::string::npos) << r.body;
  r = pchat::testing::http(server_->http_port(), "POST", "/manage/v1/rooms",
                           {"X-PChat-User: sip:alice@example.com", "Content-Type: application/json"},
                           R"({"name": "x", "category": "Demo", "members": )" + deep + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r).rfind("field 'members[0][0]", 0), 0u) << r.body;
  EXPECT_NE(error_of(r).find("nested deeper than 64 levels"), std::string::npos) << r.body;
  // 64 levels are still fine for the guard (the handler then says what it expected).
  r = admin("PATCH", "/api/v1/categories/Demo", std::string(64, '[') + std::string(64, ']'));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(error_of(r).find("expected a JSON object"), std::string::npos) << r.body;
  EXPECT_EQ(admin("GET", "/api/v1/categories/Demo", "").status, 200) << "pchatd is alive";
}

TEST_F(BadTextE2E, ARecordAnOlderVersionStoredWithByte0xFFIsRepairedLoggedAndReportedNeverFatal) {
  std::string room, room_id;
  {
    auto& alice = client("alice@example.com");
    room = join_demo(alice);
    ASSERT_FALSE(room.empty());
    ASSERT_TRUE(alice.post_and_wait_ack(room, "good one", 5s));
  }
  room_id = room.substr(room.rfind('/') + 1);
  clients_.clear();
  ASSERT_TRUE(server_->stop());

  // As an older version stored it: no text check on entry.
  uint64_t bad_seq = 0;
  {
    std::unique_ptr<pchat::storage::database> st;
    ASSERT_TRUE(pchat::storage::database::open({dir_ / "data/store", false}, &st).is_ok());
    uint64_t last = 0;
    ASSERT_TRUE(st->messages().last_sequence(room_id, &last).is_ok());
    bad_seq = last + 1;
    pchat::storage::message_record m;
    m.seq = bad_seq;
    m.author = "sip:alice@example.com";
    m.ts_micros = 1767225600000000;  // 2026-01-01
    m.text = "bad \xFF byte";
    ASSERT_TRUE(st->messages().put(room_id, m).is_ok());
  }
  start();

  // Export: succeeds, names the repaired record, leaves no .partial, logs it.
  const std::string file = dir_ / "backup.jsonl";
  int rc = -1;
  std::string out = server_->ctl("export --file " + file, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("repaired: 1"), std::string::npos) << out;
  EXPECT_NE(out.find("repaired record: room " + room_id + " message " + std::to_string(bad_seq) +
                     ": field 'text': invalid UTF-8 at byte 4"),
            std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));
  std::ifstream in(file);
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    if (j.value("type", "") == "message" && j.value("seq", uint64_t{0}) == bad_seq) {
      EXPECT_EQ(j["text"], "bad " + kFffd + " byte");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_NE(server_->stderr_text().find("export repaired a stored record"), std::string::npos);

  // The repaired archive imports again: the message counts as present, no conflict.
  out = server_->ctl("--json import --file " + file + " --what-if", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out, nullptr, false).value("messages_new", -1), 0) << out;

  // An export that cannot be written says why and leaves nothing behind.
  out = server_->ctl("export --file " + dir_ / "no-such-dir/x.jsonl", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("export failed, nothing written: cannot write"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "no-such-dir/x.jsonl.partial"));

  // Back-chat shows it repaired, and the session goes on.
  auto& bob = client("bob@example.com");
  ASSERT_EQ(join_demo(bob), room);
  const auto texts = backchat_texts(bob, room);
  ASSERT_GE(texts.size(), 2u);
  EXPECT_EQ(texts[texts.size() - 2], "good one");
  EXPECT_EQ(texts.back(), "bad " + kFffd + " byte");
  ASSERT_TRUE(bob.post_and_wait_ack(room, "still fine", 5s));
  EXPECT_TRUE(bob.wait_for_message([](auto& m) { return m.text == "still fine"; }, 5s));
}

TEST_F(BadTextE2E, ComplianceOutputOfAStoredByte0xFFPostParsesAndNoCsvCellRunsAsAFormula) {
  std::string room;
  {
    auto& alice = client("alice@example.com");
    room = join_demo(alice);
    ASSERT_FALSE(room.empty());
  }
  const std::string room_id = room.substr(room.rfind('/') + 1);
  const std::vector<std::string> common{"--compliance-enabled=true",
                                        "--compliance-test-run-interval-ms=200"};

  // XML: the file validates against the XSD, the bad byte shows as U+FFFD, status is truthful.
  auto xml_args = common;
  xml_args.push_back("--compliance-adapter=xml");
  xml_args.push_back("--compliance-output-dir=" + dir_ / "out-xml");
  const uint64_t xml_last = stage_old_records(room_id, xml_args);
  ASSERT_NE(xml_last, 0u) << server_->stderr_text();
  ASSERT_TRUE(delivered_through(xml_last)) << ctl_json("compliance status").dump();
  std::string path;
  const std::string xml = only_output(dir_ / "out-xml", ".xml", &path);
  ASSERT_FALSE(xml.empty());
  std::string lint;
  EXPECT_EQ(pchat::testing::xmllint_compliance_xml(path, &lint), 0) << lint;
  EXPECT_NE(xml.find("content=\"bad " + kFffd + " byte\""), std::string::npos) << xml;
  json status = ctl_json("compliance status");
  EXPECT_EQ(status.value("last_error", "?"), "") << status.dump();
  EXPECT_EQ(status.value("queue_depth", uint64_t{9}), 0u) << status.dump();

  // CSV: the same kind of records; the formula cells are quoted behind a single quote.
  auto csv_args = common;
  csv_args.push_back("--compliance-adapter=csv");
  csv_args.push_back("--compliance-output-dir=" + dir_ / "out-csv");
  const uint64_t csv_last = stage_old_records(room_id, csv_args);
  ASSERT_NE(csv_last, 0u) << server_->stderr_text();
  ASSERT_TRUE(delivered_through(csv_last)) << ctl_json("compliance status").dump();
  const std::string csv = only_output(dir_ / "out-csv", ".csv", &path);
  EXPECT_NE(csv.find(",bad " + kFffd + " byte,,\r\n"), std::string::npos) << csv;  // no target/previous
  EXPECT_NE(csv.find(",\"'@SUM(1+1)\","), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",,\r\n"),
            std::string::npos)
      << csv;
  EXPECT_EQ(csv.find(",=HYPERLINK"), std::string::npos) << csv;
}
