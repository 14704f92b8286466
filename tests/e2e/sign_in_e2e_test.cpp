// Sign-in that resists guessing and replay (issue 13 point 2), against a real pchatd with
// Digest on: raw SIP over TCP where the test must control every byte (replayed answers,
// forged responses, the user-part username), the in-tree client for signed-in users.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "protocol/sip/sip_digest.h"
#include "protocol/sip/sip_framer.h"
#include "tests/support/chat_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "text/base64.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;
using pchat::client::client_config;

namespace {

// One TCP connection speaking SIP byte by byte; every read has a 10 s deadline.
class raw_sip {
 public:
  explicit raw_sip(uint16_t port) : fd_(pchat::testing::connect_loopback(port)) {}
  ~raw_sip() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool send(const std::string& s) { return pchat::testing::send_all(fd_, s); }
  // The next SIP message the server sends; "" at the deadline or when it closed.
  std::string next() {
    pchat::sip::frame fr;
    for (;;) {
      if (framer_.next(&fr) == pchat::sip::sip_framer::result::message) return std::string(fr.bytes);
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      framer_.append(buf, static_cast<size_t>(n));
    }
  }
  // The next response (skipping requests such as the server's INFOs).
  std::string next_response() {
    for (int i = 0; i < 100; ++i) {
      std::string m = next();
      if (m.empty() || m.starts_with("SIP/2.0 ")) return m;
    }
    return {};
  }

 private:
  int fd_;
  pchat::sip::sip_framer framer_{16384, 1 << 20};
};

std::string header(const std::string& msg, const std::string& name) {
  std::smatch m;
  std::regex re("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase);
  return std::regex_search(msg, m, re) ? m[1].str() : std::string();
}

std::string param(const std::string& challenge, const std::string& name) {
  std::smatch m;
  std::regex re(name + "=\"([^\"]*)\"");
  return std::regex_search(challenge, m, re) ? m[1].str() : std::string();
}

int status_of(const std::string& response) {
  return response.size() > 11 && response.starts_with("SIP/2.0 ") ? std::stoi(response.substr(8, 3)) : 0;
}

// A REGISTER as SIPE sends it (its User-Agent: the server challenges with 407), with
// `auth` (a Proxy-Authorization line or "") and `user_agent` to look like another client.
std::string reg(const std::string& user, int cseq, const std::string& auth,
                const std::string& user_agent = "Purple/2.14.12 Sipe/1.25.0") {
  return "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKr" +
         std::to_string(cseq) + "\r\nFrom: <sip:" + user + ">;tag=rt" + std::to_string(cseq) +
         "\r\nTo: <sip:" + user + ">\r\nCall-ID: reg-" + user + "\r\nCSeq: " + std::to_string(cseq) +
         " REGISTER\r\nUser-Agent: " + user_agent +
         "\r\nContact: <sip:127.0.0.1:1;transport=tcp>\r\n" + auth + "Content-Length: 0\r\n\r\n";
}

// A Digest answer (RFC 2617 qop=auth) to `nonce` for REGISTER sip:example.com.
std::string answer(const std::string& header_name, const std::string& username, const std::string& password,
                   const std::string& nonce, const std::string& nc) {
  std::string uri = "sip:example.com";
  std::string ha1 = pchat::sip::digest_ha1(username, "example.com", password);
  std::string ha2 = pchat::sip::md5_hex("REGISTER:" + uri);
  std::string response = pchat::sip::md5_hex(ha1 + ":" + nonce + ":" + nc + ":c0ffee:auth:" + ha2);
  return header_name + ": Digest username=\"" + username + "\", realm=\"example.com\", nonce=\"" + nonce +
         "\", uri=\"" + uri + "\", qop=auth, nc=" + nc + ", cnonce=\"c0ffee\", opaque=\"pchat\", response=\"" +
         response + "\"\r\n";
}

// One Digest attempt on `c` as a standard SIP client (401, Authorization, `username` as
// given): challenged first, then answered with `password`. The final response.
std::string sign_in(raw_sip& c, const std::string& from, const std::string& username,
                    const std::string& password, int* cseq) {
  const std::string ua = "baresip/3.0";
  if (!c.send(reg(from, ++*cseq, "", ua))) return {};
  std::string r = c.next_response();
  if (status_of(r) != 401) return r;
  std::string nonce = param(header(r, "WWW-Authenticate"), "nonce");
  if (!c.send(reg(from, ++*cseq, answer("Authorization", username, password, nonce, "00000001"), ua))) return {};
  return c.next_response();
}

std::string basic(const std::string& user, const std::string& password) {
  return "Authorization: Basic " + pchat::text::base64_encode(user + ":" + password);
}

class SignInE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<pchat::testing::server_process>(dir_ / "data",
                                                                std::vector<std::string>{"--auth=digest", "--log-level=info"});
    ASSERT_TRUE(server_->start()) << server_->stderr_text();
    for (const char* u : {"zed", "ann", "ben"}) {
      int rc = 0;
      std::string out = server_->ctl(std::string("user new --uri ") + u + "@example.com --password pw-" + u, &rc);
      ASSERT_EQ(rc, 0) << out;
    }
  }
  void TearDown() override {
    if (server_) {
      EXPECT_TRUE(server_->stop());
    }
  }
  client_config user(const std::string& name) {
    client_config cfg;
    cfg.password = "pw-" + name;
    return cfg;
  }

  pchat::testing::temp_dir dir_{"sign-in"};
  std::unique_ptr<pchat::testing::server_process> server_;
};

}  // namespace

// A captured Digest answer is good once: sent again on its connection (another request) or
// on another connection it signs nobody in; a client that counts up (nc=2 on the same
// nonce) and a retransmission of the accepted request still pass.
TEST_F(SignInE2E, AReplayedDigestAnswerIsRefused) {
  raw_sip a(server_->sip_port());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.send(reg("zed@example.com", 1, "")));
  std::string r = a.next_response();
  ASSERT_EQ(status_of(r), 407) << r;
  std::string nonce = param(header(r, "Proxy-Authenticate"), "nonce");
  ASSERT_EQ(nonce.size(), 32u) << r;
  std::string good = answer("Proxy-Authorization", "zed@example.com", "pw-zed", nonce, "00000001");
  ASSERT_TRUE(a.send(reg("zed@example.com", 2, good)));
  r = a.next_response();
  ASSERT_EQ(status_of(r), 200) << r;
  // The same request again (a retransmission): the same answer.
  ASSERT_TRUE(a.send(reg("zed@example.com", 2, good)));
  EXPECT_EQ(status_of(a.next_response()), 200);
  // The answer replayed in another request: refused with a fresh challenge.
  ASSERT_TRUE(a.send(reg("zed@example.com", 3, good)));
  r = a.next_response();
  EXPECT_EQ(status_of(r), 407) << r;
  EXPECT_NE(header(r, "Warning").find("nonce count already used"), std::string::npos) << r;
  // Counting up on the same nonce is what standard clients do.
  ASSERT_TRUE(a.send(reg("zed@example.com", 4, answer("Proxy-Authorization", "zed@example.com", "pw-zed",
                                                      nonce, "00000002"))));
  EXPECT_EQ(status_of(a.next_response()), 200);

  // On another connection the captured answer names a nonce it was never given.
  raw_sip b(server_->sip_port());
  ASSERT_TRUE(b.send(reg("zed@example.com", 2, good)));
  r = b.next_response();
  EXPECT_EQ(status_of(r), 407) << r;
  EXPECT_NE(header(r, "Proxy-Authenticate").find("stale=true"), std::string::npos) << r;
  EXPECT_NE(param(header(r, "Proxy-Authenticate"), "nonce"), nonce);
  // ... and cannot act before it has answered a challenge of its own.
  ASSERT_TRUE(b.send(reg("zed@example.com", 3, "")));
  EXPECT_EQ(status_of(b.next_response()), 407);
  EXPECT_NE(server_->stderr_text().find("replayed Digest answer refused"), std::string::npos);
}

// Before, a 481 whose From tag matched a dialog's closed it, whoever sent it. A forged 481
// (and BYE) from another connection that knows every identifier of ann's dialog now
// closes nothing: ann keeps posting and ben keeps receiving.
TEST_F(SignInE2E, AForged481FromAnotherConnectionClosesNothing) {
  pchat::testing::chat_clients clients;
  auto& ann = clients.add(server_->sip_port(), "ann@example.com", {}, user("ann"));
  auto& ben = clients.add(server_->sip_port(), "ben@example.com", {}, user("ben"));
  std::string room = pchat::testing::join_demo(ann);
  ASSERT_FALSE(room.empty()) << ann.failure_reason();
  ASSERT_EQ(pchat::testing::join_demo(ben), room) << ben.failure_reason();
  ASSERT_TRUE(ann.post_and_wait_ack(room, "before", 5s));
  ASSERT_TRUE(ben.wait_for_message([](auto& m) { return m.text == "before"; }, 5s));

  raw_sip forger(server_->sip_port());
  ASSERT_TRUE(forger.ok());
  std::string from = "From: <sip:chat@example.com>;tag=" + ann.channel_remote_tag();
  std::string to = "To: <sip:ann@example.com>;tag=" + ann.channel_local_tag();
  std::string call_id = "Call-ID: " + ann.channel_call_id();
  for (int cseq = 1; cseq <= 50; ++cseq)
    ASSERT_TRUE(forger.send("SIP/2.0 481 Call/Transaction Does Not Exist\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKf" +
                            std::to_string(cseq) + "\r\n" + from + "\r\n" + to + "\r\n" + call_id +
                            "\r\nCSeq: " + std::to_string(cseq) + " INFO\r\nContent-Length: 0\r\n\r\n"));
  // A BYE in ann's dialog from the forger's connection: not its dialog.
  ASSERT_TRUE(forger.send("BYE sip:chat@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKfb\r\n"
                          "From: <sip:ann@example.com>;tag=" + ann.channel_local_tag() +
                          "\r\nTo: <sip:chat@example.com>;tag=" + ann.channel_remote_tag() + "\r\n" + call_id +
                          "\r\nCSeq: 900 BYE\r\nContent-Length: 0\r\n\r\n"));
  // The connection's messages are handled in order: the BYE's answer comes after the 481s
  // were handled.
  std::string r = forger.next_response();
  EXPECT_EQ(status_of(r), 481) << r;

  ASSERT_TRUE(ann.post_and_wait_ack(room, "after", 5s)) << ann.failure_reason();
  EXPECT_TRUE(ben.wait_for_message([](auto& m) { return m.text == "after"; }, 5s));
  EXPECT_TRUE(ann.is_ready()) << ann.failure_reason();
  EXPECT_TRUE(ann.in_room(room));
  pchat::testing::expect_clean(ann);
  // Fifty forged responses in well under 10 s: logged once (a peer cannot flood the log).
  std::string log = server_->stderr_text();
  size_t logged = 0;
  for (size_t at = log.find("ignored a response"); at != std::string::npos; at = log.find("ignored a response", at + 1))
    ++logged;
  EXPECT_EQ(logged, 1u) << log;
}

// A standard SIP client answers with the user part alone as the Digest username; SIPE with
// the whole address. Both sign in (the directory keeps both HA1), and neither form lets
// one user act as another.
TEST_F(SignInE2E, TheUserPartAloneSignsInAsWellAsTheWholeAddress) {
  int cseq = 0;
  raw_sip a(server_->sip_port());
  std::string r = sign_in(a, "ann@example.com", "ann", "pw-ann", &cseq);
  EXPECT_EQ(status_of(r), 200) << r;
  raw_sip b(server_->sip_port());
  r = sign_in(b, "ann@example.com", "ann@example.com", "pw-ann", &cseq);
  EXPECT_EQ(status_of(r), 200) << r;
  raw_sip c(server_->sip_port());
  r = sign_in(c, "ann@example.com", "ann", "pw-ben", &cseq);
  EXPECT_EQ(status_of(r), 403) << r;
  raw_sip d(server_->sip_port());
  r = sign_in(d, "ben@example.com", "ann", "pw-ann", &cseq);  // ann's password, ben's From
  EXPECT_EQ(status_of(r), 403) << r;
  EXPECT_NE(header(r, "Warning").find("cannot act as"), std::string::npos) << r;
  // The in-tree client (SIPE's way) still signs in, joins and posts.
  pchat::testing::chat_clients clients;
  auto& ann = clients.add(server_->sip_port(), "ann@example.com", {}, user("ann"));
  std::string room = pchat::testing::join_demo(ann);
  ASSERT_FALSE(room.empty()) << ann.failure_reason();
  EXPECT_TRUE(ann.post_and_wait_ack(room, "signed in", 5s));
}

// A guessing loop: the first failures are answered at once; from the 5th on the user waits
// (1 s, doubling), and while it waits even the right password is refused unchecked, with
// Retry-After. Once the delay has passed the right password signs in. Nothing in the log
// carries a password.
TEST_F(SignInE2E, APasswordGuessingLoopIsThrottledAndTheRightPasswordWorksAfterwards) {
  int cseq = 0;
  raw_sip c(server_->sip_port());
  ASSERT_TRUE(c.ok());
  std::chrono::steady_clock::time_point fifth;
  for (int i = 1; i <= 5; ++i) {
    std::string r = sign_in(c, "zed@example.com", "zed@example.com", "guess-" + std::to_string(i), &cseq);
    ASSERT_EQ(status_of(r), 403) << "attempt " << i << ": " << r;
    EXPECT_EQ(header(r, "Retry-After"), "") << "attempt " << i << " was not checked: " << r;
    if (i == 5) fifth = std::chrono::steady_clock::now();
  }
  // The 6th attempt, with the right password, waits.
  std::string r = sign_in(c, "zed@example.com", "zed@example.com", "pw-zed", &cseq);
  ASSERT_EQ(status_of(r), 403) << r;
  EXPECT_EQ(header(r, "Retry-After"), "1") << r;
  EXPECT_NE(header(r, "Warning").find("too many failed sign-ins"), std::string::npos) << r;
  // ... on every connection, whatever the username form.
  raw_sip other(server_->sip_port());
  r = sign_in(other, "zed@example.com", "zed", "pw-zed", &cseq);
  EXPECT_NE(header(r, "Retry-After"), "") << r;
  // Retry until it signs in (deadline 10 s): not before the delay has passed.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    r = sign_in(c, "zed@example.com", "zed@example.com", "pw-zed", &cseq);
    status = status_of(r);
    if (status != 403 || header(r, "Retry-After").empty()) break;
    std::this_thread::sleep_for(100ms);  // a polite client's pause between retries
  }
  EXPECT_EQ(status, 200) << r;
  EXPECT_GE(std::chrono::steady_clock::now() - fifth, 900ms);
  // After a success the user's count starts again: one more failure is answered at once.
  raw_sip again(server_->sip_port());
  r = sign_in(again, "zed@example.com", "zed@example.com", "guess-6", &cseq);
  EXPECT_EQ(status_of(r), 403) << r;
  EXPECT_EQ(header(r, "Retry-After"), "") << r;

  std::string log = server_->stderr_text();
  EXPECT_NE(log.find("user_failures=5 source_failures=5 delay_ms=1000"), std::string::npos) << log;
  EXPECT_EQ(log.find("guess-"), std::string::npos);
  EXPECT_EQ(log.find("pw-zed"), std::string::npos);
}

// HTTP Basic is throttled the same way, and shares the counts with SIP Digest: three SIP
// failures and two HTTP ones make the next HTTP attempt wait (429, Retry-After); afterwards
// the right password is served.
TEST_F(SignInE2E, HttpBasicIsThrottledTooAndSharesTheCountWithSip) {
  int cseq = 0;
  raw_sip c(server_->sip_port());
  for (int i = 1; i <= 3; ++i)
    ASSERT_EQ(status_of(sign_in(c, "ben@example.com", "ben", "guess", &cseq)), 403);
  const int port = server_->http_port();
  for (int i = 1; i <= 2; ++i) {
    auto r = pchat::testing::http(port, "GET", "/manage/v1/categories", {basic("ben@example.com", "guess")});
    ASSERT_EQ(r.status, 401) << r.body;
  }
  auto r = pchat::testing::http(port, "GET", "/manage/v1/categories", {basic("ben@example.com", "pw-ben")});
  ASSERT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.head.find("Retry-After: 1"), std::string::npos) << r.head;
  EXPECT_NE(r.body.find("too many failed sign-ins"), std::string::npos) << r.body;
  // Another user from the same address is not held up (the address allows 20).
  EXPECT_EQ(pchat::testing::http(port, "GET", "/manage/v1/categories", {basic("ann@example.com", "pw-ann")}).status, 200);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    r = pchat::testing::http(port, "GET", "/manage/v1/categories", {basic("ben@example.com", "pw-ben")});
    if (r.status != 429) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(server_->stderr_text().find("comp=http msg=\"authentication failed\""), std::string::npos);
}

// HTTP Basic with the user part alone on a node whose --domain is mixed-case: the address
// is the lower-case one the directory keeps (its HA1, the throttle's key, the requester),
// so the right password signs in and a wrong one counts against the same user as SIP.
TEST(SignInMixedCaseDomain, HttpBasicWithTheUserPartSignsIn) {
  pchat::testing::temp_dir dir("sign-in-mixed");
  pchat::testing::server_process server(dir / "data", {"--auth=digest", "--domain=Example.COM"});
  ASSERT_TRUE(server.start()) << server.stderr_text();
  int rc = 0;
  std::string out = server.ctl("user new --uri ann@example.com --password pw-ann", &rc);
  ASSERT_EQ(rc, 0) << out;
  const int port = server.http_port();
  for (const char* who : {"ann", "ANN", "ann@example.com", "Ann@Example.COM"}) {
    auto r = pchat::testing::http(port, "GET", "/manage/v1/categories", {basic(who, "pw-ann")});
    EXPECT_EQ(r.status, 200) << who << ": " << r.body;
  }
  auto r = pchat::testing::http(port, "GET", "/manage/v1/categories", {basic("Ann", "wrong")});
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(server.stderr_text().find("user=sip:ann@example.com "), std::string::npos) << server.stderr_text();
  EXPECT_TRUE(server.stop());
}

// The file service and room management authenticate in the HTTP server's head check and
// again in their handler; a failed HTTP Basic sign-in is refused by the first and counted
// once per request, never twice.
TEST_F(SignInE2E, AFailedHttpBasicSignInIsCountedOncePerRequest) {
  const int port = server_->http_port();
  auto failures_logged = [&](int n) {
    return server_->stderr_text().find("user=sip:ann@example.com peer=127.0.0.1 user_failures=" + std::to_string(n) +
                                       " ") != std::string::npos;
  };
  auto r = pchat::testing::http(port, "GET", "/manage/v1/categories", {basic("ann@example.com", "guess")});
  ASSERT_EQ(r.status, 401) << r.body;
  r = pchat::testing::http(port, "GET", "/files/some-room", {basic("ann@example.com", "guess")});
  ASSERT_EQ(r.status, 401) << r.body;
  r = pchat::testing::http(port, "POST", "/files/some-room", {basic("ann@example.com", "guess")}, "data");
  ASSERT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(failures_logged(1) && failures_logged(2) && failures_logged(3)) << server_->stderr_text();
  EXPECT_FALSE(failures_logged(4)) << "a failed request was counted twice:\n" << server_->stderr_text();
}
