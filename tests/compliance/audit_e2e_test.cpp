// Audit-grade compliance through a real pchatd (issue 16 pt 3): users post and read back-chat
// over SIP, an administrator replaces, clears, searches and changes a room with pchatctl
// under --admin-name, and the delivered XML (validated against the XSD) holds each as the
// admin's own event (who, on what, what it was), the back-chat holds what bob was sent, and
// `compliance status`'s delivered counters go on from where they were after a restart.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

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

namespace {

// Every final XML output file's text, concatenated (in name order: batch order).
std::string all_output(const std::string& dir, std::vector<std::string>* files = nullptr) {
  std::set<std::string> names;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    if (it->path().extension() == ".xml") names.insert(it->path().string());
  std::string out;
  for (auto& n : names) {
    out += pchat::testing::read_file(n);
    if (files) files->push_back(n);
  }
  return out;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(AuditE2E, AdminActionsAreTheAdminsOwnEventsAndDeliveredCountersSurviveARestart) {
  pchat::testing::temp_dir dir("audit-e2e");
  const std::string out_dir = dir.path() + "/out";
  pchat::testing::server_process server(
      dir.path() + "/data",
      {"--compliance-enabled=true", "--compliance-adapter=xml",
       "--compliance-output-dir=" + out_dir, "--compliance-test-run-interval-ms=300"});
  ASSERT_TRUE(server.start()) << server.stderr_text();

  std::string room;
  {
    pchat::testing::chat_clients clients;
    auto& alice = clients.add(server.sip_port(), "alice@example.com");
    auto& bob = clients.add(server.sip_port(), "bob@example.com");
    ASSERT_TRUE(alice.sign_in(10s));
    ASSERT_TRUE(bob.sign_in(10s));
    auto rooms = alice.search_rooms("Demo Room", 5s);
    ASSERT_TRUE(rooms && !rooms->empty());
    room = rooms->front().uri;
    ASSERT_TRUE(alice.join_and_wait(room, 5s));
    ASSERT_TRUE(alice.post_and_wait_ack(room, "quarterly numbers are 42", 5s));
    ASSERT_TRUE(bob.join_and_wait(room, 5s));
    auto history = bob.backchat_and_wait(room, 10, 5s);
    ASSERT_TRUE(history && !history->empty());
  }
  const std::string as = "--admin-name auditor.jane ";
  json j = pchat::testing::ctl_json(server, as + "search --query quarterly --room 'Demo Room'");
  EXPECT_EQ(j["results"].size(), 1u);
  pchat::testing::ctl_json(server, as + "search --query quarterly");  // every room
  j = pchat::testing::ctl_json(server, as +
                                           "message remove --room 'Demo Room' --contains quarterly "
                                           "--replace 'removed by compliance'");
  EXPECT_EQ(j["replaced"], 1);
  pchat::testing::ctl_json(server, as + "room set --identity 'Demo Room' --description 'audited' "
                                        "--add-managers sip:carol@example.com");
  j = pchat::testing::ctl_json(server,
                               as + "room clear --identity 'Demo Room' --before 2999-01-01");
  EXPECT_EQ(j["removed_messages"], 1);
  // A name that is not one is refused before anything is done: by pchatctl, and by the
  // server for a client that sends one anyway (nothing recorded under a mangled name).
  int rc = 0;
  std::string bad = server.ctl("--admin-name 'jane doe' search --query x", &rc);
  EXPECT_EQ(rc, 2) << bad;
  for (const std::string& name : {std::string("jane doe"), std::string(65, 'j'), std::string("x\"y")}) {
    auto r = pchat::testing::http(server.http_port(), "POST", "/api/v1/messages/replace",
                                  {"Authorization: Bearer " + server.admin_token(),
                                   "Content-Type: application/json", "X-PChat-Admin: " + name},
                                  R"({"room": "Demo Room", "contains": "quarterly"})");
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
    EXPECT_NE(r.body.find("X-PChat-Admin"), std::string::npos) << r.body;
  }

  std::string doc;
  ASSERT_TRUE(pchat::testing::eventually(
      [&] {
        doc = all_output(out_dir);
        return doc.find("ADMINCLEAR") != std::string::npos;
      },
      20s, 50ms))
      << doc;
  std::vector<std::string> files;
  doc = all_output(out_dir, &files);
  for (auto& f : files) {
    std::string lint;
    EXPECT_EQ(pchat::testing::xmllint_compliance_xml(f, &lint), 0) << f << ": " << lint;
  }
  // Bob's back-chat holds the post he was sent.
  EXPECT_TRUE(std::regex_search(
      doc, std::regex("<Message type=\"BACKCHAT\" content=\"\\[1\\] [0-9TZ:-]+ "
                      "sip:alice@example.com: quarterly numbers are 42&#xA;\" id=\"0\">\\s*"
                      "<Sender UserName=\"[^\"]*\" id=\"[0-9]+\" uri=\"bob@example.com\"")))
      << doc;
  // Each admin action is the admin's own event, naming what it was done to.
  const std::string admin = "<Sender UserName=\"admin:auditor.jane\" id=\"";
  EXPECT_TRUE(std::regex_search(
      doc,
      std::regex("<Message type=\"ADMINREPLACE\" content=\"removed by compliance\" id=\"1\">\\s*" +
                 admin +
                 "[0-9]+\" uri=\"admin:auditor.jane\" />\\s*<DateTimeUTC [^>]*/>\\s*"
                 "<Target uri=\"alice@example.com\" previous=\"quarterly numbers are 42\" />")))
      << doc;
  EXPECT_TRUE(std::regex_search(
      doc, std::regex("<Message type=\"ADMINCLEAR\" content=\"cleared: posted on or before "
                      "2999-01-01T23:59:59Z\" "
                      "id=\"1\">\\s*" +
                      admin +
                      "[0-9]+\" uri=\"admin:auditor.jane\" />\\s*<DateTimeUTC [^>]*/>\\s*"
                      "<Target uri=\"alice@example.com\" previous=\"removed by compliance\" />")))
      << doc;
  EXPECT_EQ(count(doc, "<Message type=\"ADMINSEARCH\" content=\"q=quarterly"), 2u) << doc;
  EXPECT_NE(doc.find("results=1"), std::string::npos) << doc;
  EXPECT_NE(doc.find("<Channel uri=\"ma-chan://example.com/\""), std::string::npos)
      << "the every-room search";
  EXPECT_NE(doc.find("<Channel uri=\"" + room + "\""), std::string::npos);
  EXPECT_TRUE(std::regex_search(
      doc, std::regex("<Message type=\"ADMINROOM\" content=\"changed: \\{&quot;description&quot;:"
                      "&quot;audited&quot;\\}\" id=\"0\">")))
      << doc;
  EXPECT_TRUE(std::regex_search(
      doc, std::regex("<Message type=\"ADMINMEMBERS\" content=\"manager added\" id=\"0\">"
                      "\\s*" +
                      admin +
                      "[^>]*/>\\s*<DateTimeUTC [^>]*/>\\s*"
                      "<Target uri=\"carol@example.com\" />")))
      << doc;
  EXPECT_EQ(doc.find("type=\"CHAT\" content=\"removed by compliance\""), std::string::npos)
      << "the replacement is not a post by alice";
  EXPECT_EQ(doc.find("uri=\"admin\""), std::string::npos) << "no anonymous admin";

  // Delivered counters: what `compliance status` says now is where it goes on after a restart.
  json before;
  ASSERT_TRUE(pchat::testing::eventually(
      [&] {
        before = pchat::testing::ctl_json_or_null(server, "compliance status");
        return before.is_object() && before["queue_depth"] == 0 &&
               before["events_delivered"].get<uint64_t>() > 0;
      },
      10s, 50ms))
      << before.dump();
  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start()) << server.stderr_text();
  json after = pchat::testing::ctl_json(server, "compliance status");
  EXPECT_EQ(after["events_delivered"], before["events_delivered"]) << after.dump();
  EXPECT_EQ(after["batches_delivered"], before["batches_delivered"]) << after.dump();
  EXPECT_EQ(after["last_success"], before["last_success"]) << after.dump();
  // And they keep counting from there.
  pchat::testing::ctl_json(server, as + "search --query anything");
  ASSERT_TRUE(pchat::testing::eventually(
      [&] {
        after = pchat::testing::ctl_json_or_null(server, "compliance status");
        return after.is_object() && after["events_delivered"].get<uint64_t>() >
                                        before["events_delivered"].get<uint64_t>();
      },
      10s, 50ms))
      << after.dump();
  EXPECT_EQ(after["batches_delivered"].get<uint64_t>(),
            before["batches_delivered"].get<uint64_t>() + 1);
}
