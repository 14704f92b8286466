// The web file service end to end: a real pchatd, files uploaded and downloaded over HTTP
// as users, the room rules (privacy, membership, category FileUpload, MaxFileSizeKB), a
// restart, and the FILEUPLOAD / FILEDOWNLOAD events in the compliance output.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/read_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tools/client/xccos_client.h"

namespace {

using namespace std::chrono_literals;
using pchat::testing::http;
using pchat::testing::http_reply;
using pchat::testing::json_field;
using pchat::testing::read_file;

std::string as(const std::string& user) { return "X-PChat-User: " + user; }

// Every "<Message type=T content=C ...><Sender ... uri=U" in the final XML outputs.
std::vector<std::string> compliance_messages(const std::string& dir) {
  static const std::regex re(
      "<Message type=\"([A-Z]+)\" content=\"([^\"]*)\" id=\"[0-9]+\">\\s*<Sender UserName=\"([^\"]*)\"[^>]* uri=\"([^\"]*)\"");
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".xml") continue;
    std::string doc = read_file(it->path());
    for (std::sregex_iterator m(doc.begin(), doc.end(), re), e; m != e; ++m)
      out.push_back((*m)[1].str() + " " + (*m)[2].str() + " " + (*m)[3].str() + " " + (*m)[4].str());
  }
  return out;
}

class FileE2E : public ::testing::Test {
 protected:
  std::string room_id(pchat::testing::server_process& s, const std::string& name) {
    int rc = 0;
    return json_field(s.ctl("--json room get --identity " + name, &rc), "id");
  }
  void ctl(pchat::testing::server_process& s, const std::string& args) {
    pchat::testing::ctl_ok(s, args);
  }

  pchat::testing::temp_dir dir_{"files"};
};

}  // namespace

TEST_F(FileE2E, UploadListDownloadFollowTheRoomRulesAndReachCompliance) {
  pchat::testing::server_process server(
      dir_ / "data", {"--compliance-enabled=true", "--compliance-adapter=xml",
                       "--compliance-test-run-interval-ms=200"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  ctl(server, "category new --name Shared");
  ctl(server, "category new --name NoFiles --file-upload false");
  ctl(server, "room new --name Desk --category Shared --privacy open");
  ctl(server, "room new --name Board --category Shared --privacy closed --members sip:alice@example.com");
  ctl(server, "room new --name Quiet --category NoFiles --privacy open");
  std::string desk = room_id(server, "Desk"), board = room_id(server, "Board"),
              quiet = room_id(server, "Quiet");
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();
  const std::string files = "/files/v1/rooms/";
  std::string bytes("line 1\r\n\0binary\xff tail", 21);

  // bob is in the room over SIP when alice uploads: the room hears of the file.
  pchat::client::client_loop loop;
  pchat::client::connection_config cc;
  cc.server_port = server.sip_port();
  pchat::client::client_config bob_cfg;
  bob_cfg.user = "bob@example.com";
  pchat::client::chat_client bob(loop, cc, bob_cfg);
  ASSERT_TRUE(bob.sign_in(10s));
  auto joined = bob.join_and_wait("ma-chan://example.com/" + desk, 5s);
  ASSERT_TRUE(joined && joined->ok());

  // Upload as alice; bob (anyone may read the open room) lists and downloads it intact.
  auto up = http(port, "POST", files + desk + "?name=Q3%20report.txt", {as("sip:alice@example.com")}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = json_field(up.body, "id");
  EXPECT_EQ(json_field(up.body, "name"), "Q3 report.txt");
  EXPECT_EQ(json_field(up.body, "size"), std::to_string(bytes.size()));
  EXPECT_EQ(json_field(up.body, "uploader"), "sip:alice@example.com");
  auto note = bob.wait_for_message(
      [&](const pchat::client::chat_post& m) { return m.text.find("shared a file: Q3 report.txt") == 0; }, 5s);
  ASSERT_TRUE(note) << "the room was not told of the upload";
  EXPECT_EQ(note->author, "sip:alice@example.com");
  EXPECT_NE(note->text.find("(21 bytes) http://127.0.0.1:" + std::to_string(port) + files + desk + "/" + id),
            std::string::npos) << note->text;
  auto list = http(port, "GET", files + desk, {as("sip:bob@example.com")});
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(json_field(list.body, "id"), id);
  auto down = http(port, "GET", files + desk + "/" + id, {as("sip:bob@example.com")});
  ASSERT_EQ(down.status, 200) << down.body;
  EXPECT_EQ(down.body, bytes);
  EXPECT_NE(down.head.find("Content-Disposition: attachment; filename=\"Q3 report.txt\""), std::string::npos)
      << down.head;

  // Default-deny: no user, a closed room's non-member, a category without file upload,
  // unknown rooms and files, bad names.
  auto anon = http(port, "POST", files + desk + "?name=x", {}, "x");
  EXPECT_EQ(anon.status, 401);
  EXPECT_NE(anon.head.find("WWW-Authenticate: Basic"), std::string::npos) << anon.head;
  EXPECT_EQ(http(port, "POST", files + board + "?name=x", {as("sip:bob@example.com")}, "x").status, 403);
  EXPECT_EQ(http(port, "GET", files + board, {as("sip:bob@example.com")}).status, 403);
  EXPECT_EQ(http(port, "POST", files + board + "?name=x", {as("sip:alice@example.com")}, "x").status, 201);
  auto off = http(port, "POST", files + quiet + "?name=x", {as("sip:alice@example.com")}, "x");
  EXPECT_EQ(off.status, 403);
  EXPECT_NE(off.body.find("file upload is off"), std::string::npos) << off.body;
  EXPECT_EQ(http(port, "GET", files + "no-such-room", {as("sip:bob@example.com")}).status, 404);
  EXPECT_EQ(http(port, "GET", files + desk + "/12345", {as("sip:bob@example.com")}).status, 404);
  EXPECT_EQ(http(port, "GET", files + desk + "/../x", {as("sip:bob@example.com")}).status, 404);
  EXPECT_EQ(http(port, "POST", files + desk + "?name=a%2Fb", {as("sip:bob@example.com")}, "x").status, 400);
  EXPECT_EQ(http(port, "POST", files + desk, {as("sip:bob@example.com")}, "x").status, 400);
  EXPECT_EQ(http(port, "POST", files + desk + "?name=%FF%FE.txt", {as("sip:bob@example.com")}, "x").status, 400)
      << "names must be UTF-8: they go into JSON and the compliance XML";
  EXPECT_EQ(http(port, "DELETE", files + desk + "/" + id, {as("sip:bob@example.com")}).status, 405);

  // Compliance: the upload and the download, each exactly once, with who and which file:
  // the content is the stored name (a GUID with the upload's extension), as in Lync.
  std::string blob;
  for (auto& e : std::filesystem::directory_iterator(dir_ / "data/files/" + desk)) blob = e.path().filename();
  EXPECT_TRUE(std::regex_match(blob, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.txt")))
      << blob;
  std::string out_dir = dir_ / "data/compliance";
  auto count = [&](const std::string& line) {
    auto all = compliance_messages(out_dir);
    return std::count(all.begin(), all.end(), line);
  };
  ASSERT_TRUE(pchat::testing::eventually(
      [&] {
        return count("FILEUPLOAD " + blob + " alice alice@example.com") == 1 &&
               count("FILEDOWNLOAD " + blob + " bob bob@example.com") == 1;
      },
      15s))
      << ::testing::PrintToString(compliance_messages(out_dir));

  // MaxFileSizeKB, applied live: an upload over it is refused at once with the documented
  // error; the limit and the stored file survive the restart.
  ctl(server, "config set --max-file-size-kb 1");
  {
    auto over = http(server.http_port(), "POST", files + desk + "?name=big.bin", {as("sip:alice@example.com")},
                     std::string(1025, 'b'));
    EXPECT_EQ(over.status, 413) << over.body;
    EXPECT_NE(over.body.find("MaxFileSizeKB allows 1024"), std::string::npos) << over.body;
  }
  ASSERT_TRUE(server.stop()) << server.stderr_text();
  ASSERT_TRUE(server.start()) << server.stderr_text();
  const int port2 = server.http_port();
  auto big = http(port2, "POST", files + desk + "?name=big.bin", {as("sip:alice@example.com")},
                  std::string(1025, 'b'));
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(http(port2, "POST", files + desk + "?name=fits.bin", {as("sip:alice@example.com")},
                 std::string(1024, 'b')).status, 201);
  auto again = http(port2, "GET", files + desk + "/" + id, {as("sip:carol@example.com")});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, bytes);
  EXPECT_EQ(count("FILEUPLOAD " + blob + " alice alice@example.com"), 1);

  // An administrator lists the room's files and takes one down: record and bytes go,
  // compliance keeps what happened.
  int rc = 0;
  std::string listed = server.ctl("file get --room Desk", &rc);
  ASSERT_EQ(rc, 0) << listed;
  EXPECT_NE(listed.find("Q3 report.txt"), std::string::npos) << listed;
  // pchatctl refuses a non-number --id itself: ask the admin API, which must not read a prefix.
  std::string junk = http(port2, "DELETE", "/api/v1/files/" + desk + "/" + id + "x",
                          {"Authorization: Bearer " + server.admin_token()})
                         .body;
  EXPECT_NE(junk.find("no file"), std::string::npos) << "a file id with junk after it names no file: " << junk;
  std::string removed = server.ctl("file remove --room-id " + desk + " --id " + id, &rc);
  ASSERT_EQ(rc, 0) << removed;
  EXPECT_EQ(http(port2, "GET", files + desk + "/" + id, {as("sip:alice@example.com")}).status, 404);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data/files/" + desk + "/" + blob));
  std::string again2 = server.ctl("file remove --room-id " + desk + " --id " + id, &rc);
  EXPECT_NE(again2.find("no file"), std::string::npos) << "removing it again: " << again2;
  EXPECT_EQ(count("FILEUPLOAD " + blob + " alice alice@example.com"), 1);

  // Removing the room removes its files, records and bytes.
  ASSERT_TRUE(std::filesystem::exists(dir_ / "data/files/" + desk));
  ctl(server, "room remove --identity Desk");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data/files/" + desk));
  EXPECT_EQ(http(port2, "GET", files + desk, {as("sip:alice@example.com")}).status, 404);
  ASSERT_TRUE(server.stop());
}

TEST_F(FileE2E, ClientsThatExpect100ContinueGetItBeforeSendingTheBody) {
  pchat::testing::server_process server(dir_ / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  ctl(server, "category new --name Shared");
  ctl(server, "room new --name Desk --category Shared --privacy open");
  std::string desk = room_id(server, "Desk");
  int fd = pchat::testing::connect_loopback(server.http_port());
  ASSERT_GE(fd, 0);
  std::string body(5000, 'z');
  std::string head = "POST /files/v1/rooms/" + desk + "?name=z.bin HTTP/1.1\r\nHost: x\r\n" +
                     "X-PChat-User: sip:alice@example.com\r\nExpect: 100-continue\r\n" +
                     "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);  // the body is not sent yet: only 100 can come
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(send(fd, body.data(), body.size(), MSG_NOSIGNAL), static_cast<ssize_t>(body.size()));
  std::string rest;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) rest.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(rest.rfind("HTTP/1.1 201 Created", 0), 0u) << rest;

  // Without a user the answer is 401 at once, before any of a large body is accepted.
  fd = pchat::testing::connect_loopback(server.http_port());
  ASSERT_GE(fd, 0);
  head = "POST /files/v1/rooms/" + desk + "?name=big.bin HTTP/1.1\r\nHost: x\r\n" +
         "Expect: 100-continue\r\nContent-Length: 100000000\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  rest.clear();
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) rest.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(rest.rfind("HTTP/1.1 401 Unauthorized", 0), 0u) << rest;
  ASSERT_TRUE(server.stop());
}

TEST_F(FileE2E, OnADigestServerUsersSignInWithTheirSipPassword) {
  pchat::testing::server_process server(dir_ / "data", {"--auth=digest"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  ctl(server, "user new --uri zed@example.com --password c0rrect");
  ctl(server, "category new --name Shared");
  ctl(server, "room new --name Desk --category Shared --privacy open");
  std::string desk = room_id(server, "Desk");
  const int port = server.http_port();
  const std::string target = "/files/v1/rooms/" + desk + "?name=n.txt";
  // base64("zed@example.com:c0rrect"), base64("zed@example.com:wrong")
  auto ok = http(port, "POST", target, {"Authorization: Basic emVkQGV4YW1wbGUuY29tOmMwcnJlY3Q="}, "hi");
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(json_field(ok.body, "uploader"), "sip:zed@example.com");
  // Scheme and address are case-insensitive: "basic", base64("SIP:Zed@Example.com:c0rrect").
  EXPECT_EQ(http(port, "POST", target, {"Authorization: basic U0lQOlplZEBFeGFtcGxlLmNvbTpjMHJyZWN0"}, "hi").status, 201);
  EXPECT_EQ(http(port, "POST", target, {"Authorization: Basic emVkQGV4YW1wbGUuY29tOndyb25n"}, "hi").status, 401);
  EXPECT_EQ(http(port, "POST", target, {as("sip:zed@example.com")}, "hi").status, 401)
      << "the user header is trusted only with --auth=none";
  EXPECT_EQ(http(port, "POST", target, {"Authorization: Basic !!!"}, "hi").status, 401);
  ASSERT_TRUE(server.stop());
}
