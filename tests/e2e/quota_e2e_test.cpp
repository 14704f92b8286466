// Per-user quotas through the real interfaces: preferences over SIP (cmd:setpref refused
// with XCCOS 413 beyond --max-prefs-per-user / --max-pref-bytes-per-user, counted from the
// store so a restart changes nothing, other users unaffected) and uploaded bytes over HTTP
// (507 beyond --max-upload-bytes-per-user, freed by removing a file, surviving a restart).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::client_loop;
using pchat::client::connection_config;

namespace {

// The XCCOS code of a setpref (0 if no reply), SIP status in *sip.
int set_pref(chat_client& c, const std::string& label, const std::string& base64,
             int* sip = nullptr) {
  auto r = c.wait_command(c.set_pref(label, base64), 10s);
  if (sip) *sip = r ? r->sip_status : 0;
  return r && r->replied ? r->reply.code : 0;
}

std::unique_ptr<chat_client> signed_in(client_loop& loop, uint16_t port, const std::string& user) {
  connection_config cc;
  cc.server_port = port;
  client_config cfg;
  cfg.user = user;
  auto c = std::make_unique<chat_client>(loop, cc, cfg);
  EXPECT_TRUE(c->sign_in(10s)) << c->failure_reason();
  return c;
}

}  // namespace

TEST(Quota, PreferencesBeyondTheUsersQuotaAreRefusedWith413AndTheCountSurvivesRestart) {
  pchat::testing::temp_dir dir("quota");
  // 3 labels, 200 bytes (label + value) per user.
  pchat::testing::server_process server(
      dir / "data", {"--max-prefs-per-user=3", "--max-pref-bytes-per-user=200"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  client_loop loop;
  {
    auto alice = signed_in(loop, server.sip_port(), "alice@example.com");
    EXPECT_EQ(set_pref(*alice, "a", "eA=="), 200);
    EXPECT_EQ(set_pref(*alice, "b", "eA=="), 200);
    EXPECT_EQ(set_pref(*alice, "c", "eA=="), 200);
    int sip = 0;
    EXPECT_EQ(set_pref(*alice, "d", "eA==", &sip), 413) << "a fourth label";
    EXPECT_EQ(sip, 200) << "refused inside XCCOS, not by SIP";
    EXPECT_EQ(set_pref(*alice, "b", "eHh4"), 200) << "replacing a label is within the quota";
    std::string big(240, 'Q');  // label + this > 200 bytes
    EXPECT_EQ(set_pref(*alice, "a", big), 413) << "over the byte quota";
    auto got = alice->wait_command(alice->get_pref("a"), 10s);
    ASSERT_TRUE(got && got->replied);
    EXPECT_EQ(got->reply.code, 200);
    // Another user has a quota of their own.
    auto bob = signed_in(loop, server.sip_port(), "bob@example.com");
    EXPECT_EQ(set_pref(*bob, "a", "eA=="), 200);
  }
  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start()) << server.stderr_text();
  {
    auto alice = signed_in(loop, server.sip_port(), "alice@example.com");
    EXPECT_EQ(set_pref(*alice, "e", "eA=="), 413) << "the count survives a restart";
    EXPECT_EQ(set_pref(*alice, "c", "eHk="), 200);
  }
  ASSERT_TRUE(server.stop());
}

TEST(Quota, UploadsBeyondTheUsersQuotaGet507UntilAFileIsRemovedAndTheCountSurvivesRestart) {
  pchat::testing::temp_dir dir("quota");
  pchat::testing::server_process server(dir / "data", {"--max-upload-bytes-per-user=1000"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  int rc = 0;
  std::string room =
      pchat::testing::json_field(server.ctl("--json room get --identity \"Demo Room\"", &rc), "id");
  ASSERT_FALSE(room.empty());
  const std::string target = "/files/v1/rooms/" + room + "?name=f.bin";
  auto upload = [&](const std::string& user, size_t n) {
    return pchat::testing::http(server.http_port(), "POST", target, {"X-PChat-User: " + user},
                                std::string(n, 'b'));
  };
  auto first = upload("sip:alice@example.com", 600);
  ASSERT_EQ(first.status, 201) << first.body;
  auto second = upload("sip:alice@example.com", 600);
  EXPECT_EQ(second.status, 507) << second.body;
  EXPECT_NE(second.body.find("upload quota"), std::string::npos) << second.body;
  EXPECT_EQ(upload("sip:alice@example.com", 400).status, 201) << "exactly the quota fits";
  EXPECT_EQ(upload("sip:bob@example.com", 600).status, 201) << "bob has a quota of his own";

  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_EQ(upload("sip:alice@example.com", 1).status, 507) << "the count survives a restart";
  // Removing alice's first file frees its bytes.
  std::string id = pchat::testing::json_field(first.body, "id");
  std::string out = server.ctl("file remove --room-id " + room + " --id " + id, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(upload("sip:alice@example.com", 600).status, 201);
  ASSERT_TRUE(server.stop());
}
