// Transport security end to end (issue 13 points 1 and 4) against a real pchatd: SIP over
// TLS with the in-tree client and HTTPS with curl, both verifying the server's certificate
// (the self-signed one pchatd makes on first start, or --tls-cert); --plain=loopback refusing
// plain SIP and HTTP from a "remote" address (127.0.0.2, declared remote with the tests-only
// --test-remote-addresses); SIGHUP reloading the certificate for new connections while an
// open one stays; trusted front ends (--trusted-peer by certificate fingerprint or address)
// asserting users without Digest, and untrusted peers refused.
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/read_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tls/certificate.h"
#include "tools/client/xccos_client.h"

namespace {

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::client::client_config;
using pchat::client::connection_config;
using pchat::client::transport_kind;
using pchat::testing::chat_clients;
using pchat::testing::server_process;

// Runs a shell command; its stdout, *rc its exit status.
std::string sh(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

connection_config tls_to(const server_process& s, const std::string& ca_file) {
  connection_config cc;
  cc.transport = transport_kind::tls;
  cc.server_port = s.sip_tls_port();
  cc.tls_ca_file = ca_file;
  return cc;
}

connection_config plain_to(const server_process& s) {
  connection_config cc;
  cc.server_port = s.sip_port();
  return cc;
}

client_config user(const std::string& uri, const std::string& password = {}) {
  client_config cfg;
  cfg.user = uri;
  cfg.password = password;
  return cfg;
}

void add_user(const server_process& s, const std::string& uri, const std::string& password) {
  pchat::testing::ctl_ok(s, "user new --uri " + uri + " --password " + password);
}

std::string demo_room_id(const server_process& s) {
  int rc = 0;
  return pchat::testing::json_field(s.ctl("--json room get --identity 'Demo Room'", &rc), "id");
}

chat_client& add(chat_clients& clients, const connection_config& cc, const client_config& cfg) {
  return clients.add(cc.server_port, cfg.user, cc, cfg);
}

// A new self-signed certificate and key at `stem`.crt / .key.
void make_cert(const std::filesystem::path& stem, const std::string& name) {
  auto s = pchat::tls::create_self_signed(stem.string() + ".crt", stem.string() + ".key", name);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
}

// Replaces `to` by a copy of `from` in one rename (a reader never sees half a file).
void install(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::copy_file(from, to.string() + ".new", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to.string() + ".new", to);
}

}  // namespace

TEST(TlsE2E, SignInJoinAndPostOverTlsWithTheCertificateVerified) {
  pchat::testing::temp_dir dir("tls-sip");
  server_process server(dir / "data", {"--auth=digest"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  std::string crt = (dir / "data/tls.crt");
  // First start: a self-signed certificate in the data folder, its key private, and the
  // fingerprint printed is that certificate's.
  std::string fp;
  ASSERT_TRUE(pchat::tls::file_fingerprint(crt, &fp).is_ok());
  EXPECT_EQ(server.tls_fingerprint(), fp);
  struct stat st{};
  ASSERT_EQ(::stat((dir / "data/tls.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_NE(server.sip_tls_port(), 0);
  add_user(server, "dave@example.com", "d4ve-pw");
  add_user(server, "erin@example.com", "er1n-pw");

  chat_clients clients;
  chat_client& dave = add(clients, tls_to(server, crt), user("dave@example.com", "d4ve-pw"));
  chat_client& erin = add(clients, plain_to(server), user("erin@example.com", "er1n-pw"));
  std::string room = pchat::testing::join_demo(dave);
  ASSERT_FALSE(room.empty()) << dave.failure_reason();
  ASSERT_EQ(pchat::testing::join_demo(erin), room) << erin.failure_reason();
  ASSERT_TRUE(dave.post_and_wait_ack(room, "over tls", 5s));
  EXPECT_TRUE(erin.wait_for_message([](auto& m) { return m.text == "over tls"; }, 5s));
  EXPECT_TRUE(dave.wait_for_message([](auto& m) { return m.text == "over tls"; }, 5s));
  ASSERT_TRUE(erin.post_and_wait_ack(room, "back over tcp", 5s));
  EXPECT_TRUE(dave.wait_for_message([](auto& m) { return m.text == "back over tcp"; }, 5s));
  pchat::testing::expect_clean(dave);
  pchat::testing::expect_clean(erin);

  // A certificate the client does not trust, or one not naming the server, ends the
  // connection before anything is sent.
  make_cert(dir / "other", "example.com");
  chat_client& stranger = add(clients, tls_to(server, (dir / "other.crt")),
                                      user("dave@example.com", "d4ve-pw"));
  EXPECT_FALSE(stranger.sign_in(10s));
  EXPECT_NE(stranger.failure_reason().find("certificate not trusted"), std::string::npos) << stranger.failure_reason();
  connection_config wrong_name = tls_to(server, crt);
  wrong_name.tls_server_name = "chat.elsewhere.org";
  chat_client& misnamed = add(clients, wrong_name, user("dave@example.com", "d4ve-pw"));
  EXPECT_FALSE(misnamed.sign_in(10s));
  EXPECT_NE(misnamed.failure_reason().find("certificate not trusted"), std::string::npos) << misnamed.failure_reason();
  clients.clear();
  EXPECT_TRUE(server.stop());
}

TEST(TlsE2E, HttpsUploadAndDownloadWithCurlVerifyingTheCertificate) {
  pchat::testing::temp_dir dir("tls-https");
  server_process server(dir / "data", {"--auth=digest"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  add_user(server, "dave@example.com", "d4ve-pw");
  std::string room = demo_room_id(server);
  ASSERT_FALSE(room.empty());
  std::string crt = (dir / "data/tls.crt");
  std::string base = "https://127.0.0.1:" + std::to_string(server.http_port());
  {
    std::ofstream f(dir / "report.txt");
    for (int i = 0; i < 20000; ++i) f << "line " << i << " of the quarterly report\n";
  }
  int rc = 0;
  std::string up = sh("curl -sS --cacert " + crt + " -u dave@example.com:d4ve-pw --data-binary @" +
                          (dir / "report.txt") + " '" + base + "/files/v1/rooms/" + room + "?name=report.txt'",
                      &rc);
  ASSERT_EQ(rc, 0) << up;
  std::string id = pchat::testing::json_field(up, "id");
  ASSERT_FALSE(id.empty()) << up;
  std::string down = sh("curl -sS -f --cacert " + crt + " -u dave@example.com:d4ve-pw -o " +
                            (dir / "back.txt") + " " + base + "/files/v1/rooms/" + room + "/" + id,
                        &rc);
  ASSERT_EQ(rc, 0) << down;
  EXPECT_EQ(pchat::testing::read_file(dir / "back.txt"), pchat::testing::read_file(dir / "report.txt"));
  // Without the certificate curl cannot verify the server and sends nothing (exit 60).
  std::string unverified = sh("curl -sS -u dave@example.com:d4ve-pw " + base + "/files/v1/rooms/" + room, &rc);
  EXPECT_EQ(rc, 60) << unverified;
  // Plain HTTP on the same port still serves loopback (pchatctl, the README's curl lines).
  std::string status = server.ctl("status get", &rc);
  EXPECT_EQ(rc, 0) << status;
  EXPECT_TRUE(server.stop());
}

TEST(TlsE2E, PlainFromARemoteAddressIsRefusedWithPlainLoopback) {
  pchat::testing::temp_dir dir("tls-plain");
  server_process server(dir / "data", {"--auth=digest", "--test-remote-addresses=127.0.0.2"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  add_user(server, "dave@example.com", "d4ve-pw");
  std::string crt = (dir / "data/tls.crt");
  chat_clients clients;
  connection_config remote_plain = plain_to(server);
  remote_plain.local_address = "127.0.0.2";
  chat_client& refused = add(clients, remote_plain, user("dave@example.com", "d4ve-pw"));
  EXPECT_FALSE(refused.sign_in(10s));
  EXPECT_NE(refused.failure_reason().find("closed"), std::string::npos) << refused.failure_reason();
  connection_config remote_tls = tls_to(server, crt);
  remote_tls.local_address = "127.0.0.2";
  chat_client& secure = add(clients, remote_tls, user("dave@example.com", "d4ve-pw"));
  EXPECT_TRUE(secure.sign_in(10s)) << secure.failure_reason();
  chat_client& local = add(clients, plain_to(server), user("dave@example.com", "d4ve-pw"));
  EXPECT_TRUE(local.sign_in(10s)) << local.failure_reason();

  int rc = 0;
  std::string port = std::to_string(server.http_port());
  std::string plain = sh("curl -sS --interface 127.0.0.2 -w ' %{http_code}' http://127.0.0.1:" + port + "/healthz", &rc);
  EXPECT_NE(plain.find("use https"), std::string::npos) << plain;
  EXPECT_NE(plain.find(" 403"), std::string::npos) << plain;
  std::string https = sh("curl -sS -f --interface 127.0.0.2 --cacert " + crt + " https://127.0.0.1:" + port + "/healthz", &rc);
  EXPECT_EQ(rc, 0) << https;
  // The admin API answers loopback clients only, token or not.
  std::string admin = sh("curl -sS --interface 127.0.0.2 --cacert " + crt + " -w ' %{http_code}' -H 'Authorization: Bearer " +
                             server.admin_token() + "' https://127.0.0.1:" + port + "/api/v1/status",
                         &rc);
  EXPECT_NE(admin.find(" 403"), std::string::npos) << admin;
  std::string local_admin = sh("curl -sS -f -H 'Authorization: Bearer " + server.admin_token() + "' http://127.0.0.1:" +
                                   port + "/api/v1/status",
                               &rc);
  EXPECT_EQ(rc, 0) << local_admin;
  clients.clear();
  EXPECT_TRUE(server.stop());
}

TEST(TlsE2E, SighupReloadsTheCertificateForNewConnectionsAndKeepsOpenOnes) {
  pchat::testing::temp_dir dir("tls-reload");
  make_cert(dir / "a", "example.com");
  make_cert(dir / "b", "example.com");
  install(dir / "a.crt", dir / "live.crt");
  install(dir / "a.key", dir / "live.key");
  server_process server(dir / "data", {"--tls-cert=" + (dir / "live.crt"),
                                       "--tls-key=" + (dir / "live.key")});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  EXPECT_FALSE(std::filesystem::exists(dir / "data/tls.crt"));  // given: none made
  chat_clients clients;
  chat_client& old = add(clients, tls_to(server, (dir / "a.crt")), user("alice@example.com"));
  std::string room = pchat::testing::join_demo(old);
  ASSERT_FALSE(room.empty()) << old.failure_reason();

  install(dir / "b.crt", dir / "live.crt");
  install(dir / "b.key", dir / "live.key");
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  std::string port = std::to_string(server.http_port());
  int rc = 0;
  // New connections get the new certificate (SIP and HTTPS)...
  ASSERT_TRUE(pchat::testing::eventually(
      [&] {
        sh("curl -sS -f --cacert " + (dir / "b.crt") + " https://127.0.0.1:" + port + "/healthz", &rc);
        return rc == 0;
      },
      10s));
  sh("curl -sS -f --cacert " + (dir / "a.crt") + " https://127.0.0.1:" + port + "/healthz", &rc);
  EXPECT_EQ(rc, 60);
  chat_client& fresh = add(clients, tls_to(server, (dir / "b.crt")), user("bob@example.com"));
  ASSERT_EQ(pchat::testing::join_demo(fresh), room) << fresh.failure_reason();
  chat_client& stale = add(clients, tls_to(server, (dir / "a.crt")), user("carol@example.com"));
  EXPECT_FALSE(stale.sign_in(10s));
  // ...while the connection opened under the old one stays up and works.
  ASSERT_TRUE(old.post_and_wait_ack(room, "still on the old certificate", 5s));
  EXPECT_TRUE(fresh.wait_for_message([](auto& m) { return m.text == "still on the old certificate"; }, 5s));

  // A reload that cannot read the files keeps the certificate in service and says so.
  {
    std::ofstream f(dir / "broken.crt");
    f << "not a certificate\n";
  }
  install(dir / "broken.crt", dir / "live.crt");
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  ASSERT_TRUE(pchat::testing::eventually(
      // (the reason, whichever reload path logs it)
      [&] { return server.stderr_text().find("cannot read the certificate chain") != std::string::npos; }, 10s));
  EXPECT_TRUE(server.running());
  sh("curl -sS -f --cacert " + (dir / "b.crt") + " https://127.0.0.1:" + port + "/healthz", &rc);
  EXPECT_EQ(rc, 0);
  clients.clear();
  EXPECT_TRUE(server.stop());
}

TEST(TlsE2E, ATrustedFrontEndMultiplexesUsersAndAnUntrustedOneAssertingAUserIsRefused) {
  pchat::testing::temp_dir dir("tls-trust");
  make_cert(dir / "fe", "fe.example.com");
  make_cert(dir / "rogue", "fe.example.com");
  std::string fe_fp;
  ASSERT_TRUE(pchat::tls::file_fingerprint((dir / "fe.crt"), &fe_fp).is_ok());
  server_process server(dir / "data", {"--auth=digest", "--trusted-peer=" + fe_fp, "--trusted-peer=127.0.0.3"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  std::string crt = (dir / "data/tls.crt");
  chat_clients clients;
  auto& loop = clients.loop();

  // The front end presents its certificate and carries alice and bob without passwords.
  connection_config fe = tls_to(server, crt);
  fe.tls_cert_file = (dir / "fe.crt");
  fe.tls_key_file = (dir / "fe.key");
  auto trunk = pchat::client::sip_connection::open(loop, fe);
  chat_client& alice = clients.add_on(trunk, "alice@example.com");
  chat_client& bob = clients.add_on(trunk, "bob@example.com");
  ASSERT_TRUE(alice.start());
  ASSERT_TRUE(bob.start());
  ASSERT_TRUE(loop.run_until([&] { return (alice.is_ready() && bob.is_ready()) || trunk->is_closed(); }, 15s));
  ASSERT_TRUE(alice.is_ready()) << alice.failure_reason();
  ASSERT_TRUE(bob.is_ready()) << bob.failure_reason();
  std::string room = pchat::testing::demo_room(alice);
  ASSERT_TRUE(alice.join_and_wait(room, 5s));
  ASSERT_TRUE(bob.join_and_wait(room, 5s));
  ASSERT_TRUE(alice.post_and_wait_ack(room, "through the front end", 5s));
  EXPECT_TRUE(bob.wait_for_message([](auto& m) { return m.text == "through the front end"; }, 5s));

  // A front end trusted by its address (plain TCP from 127.0.0.3).
  connection_config by_address = plain_to(server);
  by_address.local_address = "127.0.0.3";
  chat_client& carol = add(clients, by_address, user("carol@example.com"));
  EXPECT_TRUE(carol.sign_in(10s)) << carol.failure_reason();

  // Anyone else asserting a user is challenged and, without the password, not let in: over
  // TLS without a certificate, with another certificate, or plain from another address.
  chat_client& no_cert = add(clients, tls_to(server, crt), user("alice@example.com"));
  EXPECT_FALSE(no_cert.sign_in(10s));
  EXPECT_NE(no_cert.failure_reason().find("no password"), std::string::npos) << no_cert.failure_reason();
  connection_config rogue = tls_to(server, crt);
  rogue.tls_cert_file = (dir / "rogue.crt");
  rogue.tls_key_file = (dir / "rogue.key");
  chat_client& impostor = add(clients, rogue, user("alice@example.com"));
  EXPECT_FALSE(impostor.sign_in(10s));
  EXPECT_NE(impostor.failure_reason().find("no password"), std::string::npos) << impostor.failure_reason();
  chat_client& plain = add(clients, plain_to(server), user("bob@example.com"));
  EXPECT_FALSE(plain.sign_in(10s));
  clients.clear();
  trunk.reset();
  EXPECT_TRUE(server.stop());
}

TEST(TlsE2E, AStalledHandshakeIsCutOffLikeAStalledMessage) {
  // A TLS client that starts a handshake and stops holds a descriptor like a slowloris: the
  // SIP edge closes it at --sip-message-timeout, HTTPS at --http-head-timeout-ms.
  pchat::testing::temp_dir dir("tls-stall");
  server_process server(dir / "data", {"--sip-message-timeout=1", "--http-head-timeout-ms=1000"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  // A TLS record header announcing 255 bytes of ClientHello, and 6 of them: enough for the
  // HTTP port to tell TLS from plain (before that, a connection is bounded by the idle timeout).
  const std::string partial("\x16\x03\x01\x00\xff\x01\x00\x00\xfb\x03\x03", 11);
  for (uint16_t port : {server.sip_tls_port(), server.http_port()}) {
    int fd = pchat::testing::connect_loopback(port, 10s);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(pchat::testing::send_all(fd, partial));
    auto begun = std::chrono::steady_clock::now();
    char buf[64];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // the server's close (or the 10 s timeout: -1)
    auto took = std::chrono::steady_clock::now() - begun;
    ::close(fd);
    EXPECT_EQ(n, 0) << "port " << port;
    EXPECT_LT(took, 6s) << "port " << port;
  }
  EXPECT_TRUE(server.stop());
}

TEST(TlsE2E, SipAndHttpBindApartAndPlainOffRefusesEvenLoopback) {
  pchat::testing::temp_dir dir("tls-hosts");
  server_process server(dir / "data", {"--sip-host=127.0.0.4", "--plain=off"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  std::string crt = dir / "data/tls.crt";
  chat_clients clients;
  // SIP listens on 127.0.0.4 only; the certificate names the domain, which the client checks.
  connection_config secure = tls_to(server, crt);
  secure.server_host = "127.0.0.4";
  secure.tls_server_name = "example.com";
  chat_client& alice = clients.add_known(secure, user("alice@example.com"));
  EXPECT_FALSE(pchat::testing::join_demo(alice).empty()) << alice.failure_reason();
  connection_config elsewhere = tls_to(server, crt);  // 127.0.0.1: nothing listens there
  chat_client& lost = clients.add_known(elsewhere, user("bob@example.com"));
  EXPECT_FALSE(lost.sign_in(5s));
  EXPECT_NE(lost.failure_reason().find("refused"), std::string::npos) << lost.failure_reason();
  // --plain=off: no unencrypted SIP or HTTP, not even from loopback.
  connection_config plain = plain_to(server);
  plain.server_host = "127.0.0.4";
  chat_client& carol = clients.add_known(plain, user("carol@example.com"));
  EXPECT_FALSE(carol.sign_in(5s));
  int rc = 0;
  std::string port = std::to_string(server.http_port());
  std::string refused = sh("curl -sS -w ' %{http_code}' http://127.0.0.1:" + port + "/healthz", &rc);
  EXPECT_NE(refused.find(" 403"), std::string::npos) << refused;
  std::string ok = sh("curl -sS -f --cacert " + crt + " https://127.0.0.1:" + port + "/healthz", &rc);
  EXPECT_EQ(rc, 0) << ok;
  clients.clear();
  EXPECT_TRUE(server.stop());
}
