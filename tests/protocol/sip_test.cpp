// SIP edge tests: framing, message parsing and echo, Digest, and the endpoint itself over
// a real loopback socket (REGISTER challenge -> SIPE-style answer -> 200, trusted after).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <vector>

#include "protocol/sip/digest_nonces.h"
#include "protocol/sip/sign_in_throttle.h"
#include "protocol/sip/sip_digest.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/sip/sip_framer.h"
#include "protocol/sip/sip_message.h"

using namespace pchat::sip;

// ---------------------------------------------------------------- framer
TEST(SipFramer, SkipsKeepAlivesAndReassemblesPartialReads) {
  sip_framer f(16384, 1024);
  std::string msg = "INFO sip:a SIP/2.0\r\nContent-Length: 5\r\n\r\nhello";
  std::string stream = "\r\n\r\n" + msg + "\r\n\r\n" + msg;
  frame fr;
  int got = 0;
  for (char c : stream) {
    f.append(&c, 1);
    while (f.next(&fr) == sip_framer::result::message) {
      EXPECT_EQ(fr.bytes, msg);
      ++got;
    }
  }
  EXPECT_EQ(got, 2);
}

TEST(SipFramer, CompactContentLengthIsHonoured) {
  sip_framer f(16384, 1024);
  std::string msg = "INFO sip:a SIP/2.0\r\nl: 3\r\n\r\nabcINFO";
  f.append(msg.data(), msg.size());
  frame fr;
  ASSERT_EQ(f.next(&fr), sip_framer::result::message);
  EXPECT_TRUE(fr.bytes.ends_with("abc"));
  EXPECT_EQ(f.next(&fr), sip_framer::result::need_more);
}

TEST(SipFramer, OversizedBodyIsReportedThenSkippedAndTheStreamContinues) {
  sip_framer f(16384, 10);
  std::string big = "INFO sip:a SIP/2.0\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x');
  std::string next = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n";
  f.append(big.data(), 60);
  frame fr;
  ASSERT_EQ(f.next(&fr), sip_framer::result::message);
  EXPECT_TRUE(fr.oversized);
  EXPECT_EQ(fr.declared_body, 100u);
  f.append(big.data() + 60, big.size() - 60);
  f.append(next.data(), next.size());
  ASSERT_EQ(f.next(&fr), sip_framer::result::message);
  EXPECT_FALSE(fr.oversized);
  EXPECT_EQ(fr.bytes, next);
}

TEST(SipFramer, EndlessHeaderBlockIsAFramingError) {
  sip_framer f(64, 10);
  std::string junk(200, 'a');
  f.append(junk.data(), junk.size());
  frame fr;
  EXPECT_EQ(f.next(&fr), sip_framer::result::error);
  EXPECT_NE(f.error_reason().find("exceeds"), std::string::npos);
}

TEST(SipFramer, MalformedContentLengthIsAFramingError) {
  sip_framer f(16384, 10);
  std::string m = "INFO sip:a SIP/2.0\r\nContent-Length: 12abc\r\n\r\n";
  f.append(m.data(), m.size());
  frame fr;
  EXPECT_EQ(f.next(&fr), sip_framer::result::error);
}

// ---------------------------------------------------------------- messages
const char* kSipeInvite =
    "INVITE sip:chat@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/tcp 127.0.0.1:40123\r\n"
    "From: <sip:alice@example.com>;tag=12345678;epid=0123456789\r\n"
    "To: <sip:chat@example.com>\r\n"
    "Max-Forwards: 70\r\n"
    "CSeq: 1 INVITE\r\n"
    "User-Agent: Purple/2.14.12 Sipe/1.25.0 (linux-x86_64)\r\n"
    "Call-ID: abc123\r\n"
    "Supported: ms-sender\r\n"
    "Contact: <sip:alice@example.com:40123;maddr=127.0.0.1;transport=tcp>;proxy=replace\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n\r\nv=0\n";

TEST(SipMessage, ParsesTheInviteSipeSendsWithoutABranch) {
  sip_message m;
  auto r = parse_message(kSipeInvite, &m);
  ASSERT_TRUE(r.ok()) << r.result.reason();
  EXPECT_TRUE(m.is_request);
  EXPECT_EQ(m.method, "INVITE");
  EXPECT_EQ(m.from_uri, "sip:alice@example.com");
  EXPECT_EQ(m.from_tag, "12345678");
  EXPECT_EQ(m.to_uri, "sip:chat@example.com");
  EXPECT_TRUE(m.to_tag.empty());
  EXPECT_TRUE(m.via_branch.empty());
  EXPECT_EQ(m.cseq, 1u);
  EXPECT_EQ(m.call_id, "abc123");
  EXPECT_NE(m.contact_uri.find("maddr=127.0.0.1"), std::string::npos);
  EXPECT_NE(m.user_agent.find("Sipe/1.25.0"), std::string::npos);
  EXPECT_EQ(m.body, "v=0\n");
}

TEST(SipMessage, ResponseEchoesHeadersAddsOurTagAndAlwaysHasReasonAndLength) {
  sip_message m;
  ASSERT_TRUE(parse_message(kSipeInvite, &m).ok());
  std::string resp = build_response(m, 200, {}, "servertag", "Contact: <sip:chat@h>\r\n");
  EXPECT_TRUE(resp.starts_with("SIP/2.0 200 OK\r\n"));
  EXPECT_NE(resp.find("Via: SIP/2.0/tcp 127.0.0.1:40123\r\n"), std::string::npos);
  EXPECT_NE(resp.find("From: <sip:alice@example.com>;tag=12345678;epid=0123456789\r\n"), std::string::npos);
  EXPECT_NE(resp.find("To: <sip:chat@example.com>;tag=servertag\r\n"), std::string::npos);
  EXPECT_NE(resp.find("CSeq: 1 INVITE\r\n"), std::string::npos);
  EXPECT_TRUE(resp.ends_with("Content-Length: 0\r\n\r\n"));
}

TEST(SipMessage, CompactHeadersAreEchoedUnderTheirFullNames) {
  std::string req =
      "OPTIONS sip:chat@example.com SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4\r\nf: <sip:a@b>;tag=1\r\n"
      "t: <sip:chat@example.com>\r\ni: cid\r\nCSeq: 2 OPTIONS\r\nl: 0\r\n\r\n";
  sip_message m;
  ASSERT_TRUE(parse_message(req, &m).ok());
  std::string resp = build_response(m, 200, {}, "t", {});
  EXPECT_NE(resp.find("\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n"), std::string::npos);
  EXPECT_NE(resp.find("\r\nCall-ID: cid\r\n"), std::string::npos);
  EXPECT_EQ(resp.find("\r\nv:"), std::string::npos);
}

TEST(SipMessage, FoldedHeaderLinesAreJoinedBeforeEchoAndTags) {
  std::string req =
      "OPTIONS sip:chat@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4\r\n  ;rport\r\n"
      "From: <sip:a@b>\r\n\t;tag=folded1\r\nTo: <sip:chat@example.com>\r\nCall-ID: cid\r\n"
      "CSeq: 4 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  sip_message m;
  ASSERT_TRUE(parse_message(req, &m).ok());
  EXPECT_EQ(m.from_tag, "folded1");
  std::string resp = build_response(m, 200, {}, "t", {});
  EXPECT_NE(resp.find("\r\nVia: SIP/2.0/TCP 1.2.3.4 ;rport\r\n"), std::string::npos) << resp;
  EXPECT_NE(resp.find("\r\nFrom: <sip:a@b> ;tag=folded1\r\n"), std::string::npos) << resp;
}

TEST(SipMessage, MalformedRequestsSayWhy) {
  sip_message m;
  auto r = parse_message("INVITE sip:chat@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n"
                         "From: <sip:a@b;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
                         &m);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.can_respond);
  sip_message m2;
  auto r2 = parse_message("INFO sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a@b>;tag=1\r\n"
                          "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n",
                          &m2);
  EXPECT_FALSE(r2.ok());
  EXPECT_NE(r2.result.reason().find("CSeq method"), std::string::npos);
}

TEST(SipMessage, ResponsesTakeTheLightPath) {
  sip_message m;
  auto r = parse_message("SIP/2.0 487 Request Terminated\r\nVia: SIP/2.0/TCP h\r\n"
                         "From: <sip:chat@example.com>;tag=ours\r\nTo: <sip:a@b>;tag=theirs\r\n"
                         "Call-ID: c1\r\nCSeq: 7 INFO\r\nContent-Length: 0\r\n\r\n",
                         &m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(m.is_request);
  EXPECT_EQ(m.status, 487);
  EXPECT_EQ(m.from_tag, "ours");
  EXPECT_EQ(m.cseq, 7u);
}

// ---------------------------------------------------------------- digest
TEST(SipDigest, VerifiesTheRfc2617Example) {
  digest_credentials c;
  ASSERT_TRUE(parse_digest_credentials(
      "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, "
      "nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", "
      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
      &c));
  std::string ha1 = digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
  EXPECT_TRUE(verify_digest(c, ha1, "GET"));
  EXPECT_FALSE(verify_digest(c, digest_ha1("Mufasa", "testrealm@host.com", "wrong"), "GET"));
}

// What SIPE 1.25 sends back to a 407: uri and method come from its response object.
std::string sipe_answer(const std::string& user, const std::string& password,
                        const std::string& realm, const std::string& nonce) {
  std::string ha1 = digest_ha1(user, realm, password);
  std::string ha2 = md5_hex("(null):(null)");
  std::string resp = md5_hex(ha1 + ":" + nonce + ":00000001:1a2b3c4d:auth:" + ha2);
  return "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce +
         "\", uri=\"(null)\", qop=auth, nc=00000001, cnonce=\"1a2b3c4d\", opaque=\"pchat\", "
         "response=\"" + resp + "\"";
}

TEST(SipDigest, AcceptsSipesAnswerWithNullUriAndMethod) {
  digest_credentials c;
  ASSERT_TRUE(parse_digest_credentials(sipe_answer("alice@example.com", "pw", "example.com", "n1"), &c));
  EXPECT_EQ(c.uri, "(null)");
  EXPECT_TRUE(verify_digest(c, digest_ha1("alice@example.com", "example.com", "pw"), "REGISTER"));
}

TEST(DigestNonces, AreRandomExpireAndAreBoundToTheirConnection) {
  digest_nonces ns;
  std::string n = ns.issue(1, 1000);
  EXPECT_EQ(n.size(), 32u);
  EXPECT_NE(n, ns.issue(1, 1000));
  EXPECT_EQ(ns.check(n, "00000001", 1, "k", 1100), digest_nonces::verdict::fresh);
  EXPECT_EQ(ns.check(n, "00000001", 1, "k", 1400), digest_nonces::verdict::stale);
  EXPECT_EQ(ns.check(n, "00000001", 2, "k", 1100), digest_nonces::verdict::stale);
  std::string tampered = n;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(ns.check(tampered, "00000001", 1, "k", 1100), digest_nonces::verdict::stale);
  EXPECT_EQ(ns.check(n, "0000000g", 1, "k", 1100), digest_nonces::verdict::bad_count);
  EXPECT_EQ(ns.check(n, "00000000", 1, "k", 1100), digest_nonces::verdict::bad_count);
  ns.forget(1);
  EXPECT_EQ(ns.check(n, "00000001", 1, "k", 1100), digest_nonces::verdict::stale);
  EXPECT_EQ(ns.size(), 0u);
}

TEST(DigestNonces, AnAcceptedCountIsGoodOnceAndOnlyHigherCountsFollow) {
  digest_nonces ns;
  std::string n = ns.issue(7, 1000);
  ns.accept(n, "00000001", "call\n1");
  // The same request again (a UDP retransmission) is told from a replay by another one.
  EXPECT_EQ(ns.check(n, "00000001", 7, "call\n1", 1001), digest_nonces::verdict::retransmission);
  EXPECT_EQ(ns.check(n, "00000001", 7, "call\n2", 1001), digest_nonces::verdict::replayed);
  EXPECT_EQ(ns.check(n, "", 7, "call\n2", 1001), digest_nonces::verdict::replayed);  // no qop: nc 1
  EXPECT_EQ(ns.check(n, "00000002", 7, "call\n2", 1001), digest_nonces::verdict::fresh);
  ns.accept(n, "00000005", "call\n3");
  EXPECT_EQ(ns.check(n, "00000004", 7, "call\n4", 1001), digest_nonces::verdict::replayed);
  EXPECT_EQ(ns.check(n, "00000006", 7, "call\n4", 1001), digest_nonces::verdict::fresh);
}

TEST(DigestNonces, MemoryIsBoundedPerConnectionAndInAll) {
  digest_nonces::limits l;
  l.capacity = 20;
  l.per_scope = 3;
  digest_nonces ns(l);
  std::vector<std::string> first;
  for (int i = 0; i < 5; ++i) first.push_back(ns.issue(1, 1000));
  EXPECT_EQ(ns.size(), 3u);  // the connection's oldest two were forgotten: stale
  EXPECT_EQ(ns.check(first[0], "1", 1, "k", 1000), digest_nonces::verdict::stale);
  EXPECT_EQ(ns.check(first[4], "1", 1, "k", 1000), digest_nonces::verdict::fresh);
  for (uint64_t conn = 2; conn < 200; ++conn) ns.issue(conn, 1000);
  EXPECT_EQ(ns.size(), 20u);
  EXPECT_EQ(ns.check(first[4], "1", 1, "k", 1000), digest_nonces::verdict::stale);
  // Expired nonces go first when new ones are issued.
  ns.issue(500, 2000);
  EXPECT_EQ(ns.size(), 1u);
}

// A long Call-ID is kept as a fixed-size digest: its retransmission is still known, and
// another request that shares all but its last byte is a replay.
TEST(DigestNonces, ALongRequestKeyIsKeptAsADigestAndStillTellsARetransmission) {
  digest_nonces ns;
  std::string n = ns.issue(3, 1000);
  std::string call(60000, 'c');
  ns.accept(n, "00000001", call + "\n1");
  EXPECT_EQ(ns.check(n, "00000001", 3, call + "\n1", 1001), digest_nonces::verdict::retransmission);
  std::string other = call;
  other.back() = 'd';
  EXPECT_EQ(ns.check(n, "00000001", 3, other + "\n1", 1001), digest_nonces::verdict::replayed);
  EXPECT_EQ(ns.check(n, "00000001", 3, call + "\n2", 1001), digest_nonces::verdict::replayed);
}

// Keys are cut to 256 bytes: two 16 KiB user names that differ only past that share one
// count (the table never keeps more than 256 bytes of a name).
TEST(SignInThrottle, KeysAreCutTo256Bytes) {
  sign_in_throttle t;
  auto t0 = sign_in_throttle::clock::now();
  std::string a = "sip:" + std::string(16384, 'a') + "@x";
  std::string b = "sip:" + std::string(16384, 'a') + "@y";
  EXPECT_EQ(t.failed(a, "10.0.0.1", t0).user_failures, 1);
  EXPECT_EQ(t.failed(b, "10.0.0.2", t0).user_failures, 2);
  std::string src(1000, '1');
  EXPECT_EQ(t.failed("sip:z@x", src + "a", t0).source_failures, 1);
  EXPECT_EQ(t.failed("sip:z@x", src + "b", t0).source_failures, 2);
  t.succeeded(b);  // the same 256 bytes as a's key
  EXPECT_EQ(t.failed(a, "10.0.0.3", t0).user_failures, 1);
  EXPECT_EQ(t.limits().max_key_bytes, 256u);
}

TEST(SignInThrottle, DelaysGrowPerUserAndPerAddressAndASuccessClearsTheUser) {
  sign_in_throttle t;
  using ms = std::chrono::milliseconds;
  auto t0 = sign_in_throttle::clock::now();
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(t.failed("sip:a@x", "10.0.0.1", t0).delay, ms(0)) << i;
  EXPECT_EQ(t.wait("sip:a@x", "10.0.0.1", t0), ms(0));
  auto o = t.failed("sip:a@x", "10.0.0.1", t0);  // the 5th
  EXPECT_EQ(o.user_failures, 5);
  EXPECT_EQ(o.delay, ms(1000));
  EXPECT_EQ(t.wait("sip:a@x", "10.0.0.9", t0 + ms(400)), ms(600));  // from anywhere
  EXPECT_EQ(t.wait("sip:b@x", "10.0.0.1", t0), ms(0));                // others from there
  EXPECT_EQ(t.wait("sip:a@x", "10.0.0.1", t0 + ms(1000)), ms(0));
  EXPECT_EQ(t.failed("sip:a@x", "10.0.0.1", t0 + ms(1000)).delay, ms(2000));
  EXPECT_EQ(t.failed("sip:a@x", "10.0.0.1", t0 + ms(3000)).delay, ms(4000));
  for (int i = 0; i < 10; ++i) t.failed("sip:a@x", "10.0.0.1", t0 + ms(3000));
  EXPECT_EQ(t.wait("sip:a@x", "10.0.0.2", t0 + ms(3000)), ms(30000));  // capped
  t.succeeded("sip:a@x");
  EXPECT_EQ(t.wait("sip:a@x", "10.0.0.2", t0 + ms(3000)), ms(0));
  // The address (17 failures so far) keeps its count: 3 more make it wait.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(t.failed("sip:c" + std::to_string(i) + "@x", "10.0.0.1", t0 + ms(3000)).delay, ms(0));
  o = t.failed("sip:d@x", "10.0.0.1", t0 + ms(3000));
  EXPECT_EQ(o.source_failures, 20);
  EXPECT_EQ(o.delay, ms(1000));
  EXPECT_EQ(t.wait("sip:e@x", "10.0.0.1", t0 + ms(3000)), ms(1000));
  // Forgotten after 15 minutes without a failure.
  EXPECT_EQ(t.failed("sip:d@x", "10.0.0.1", t0 + std::chrono::minutes(16)).source_failures, 1);
}

TEST(SignInThrottle, TablesAreBounded) {
  sign_in_throttle_limits l;
  l.max_keys = 100;
  sign_in_throttle t(l);
  auto t0 = sign_in_throttle::clock::now();
  for (int i = 0; i < 5; ++i) t.failed("sip:victim@x", "10.0.0.1", t0);
  for (int i = 0; i < 1000; ++i) t.failed("sip:u" + std::to_string(i) + "@x", "10.1.0." + std::to_string(i), t0);
  // The oldest keys went first; the newest are kept.
  EXPECT_EQ(t.wait("sip:victim@x", "10.9.9.9", t0), std::chrono::milliseconds(0));
  EXPECT_EQ(t.failed("sip:u999@x", "10.1.0.999", t0).user_failures, 2);
}

TEST(SipDigest, ChallengeQuotesWhatSipeParses) {
  std::string ch = digest_challenge("example.com", "abc.def", false);
  EXPECT_TRUE(ch.starts_with("Digest realm=\"example.com\", nonce=\"abc.def\", opaque=\""));
  EXPECT_EQ(ch.find("stale"), std::string::npos);
  EXPECT_NE(digest_challenge("r", "n", true).find("stale=true"), std::string::npos);
}

TEST(SipDigest, IncompleteCredentialsAreRejected) {
  digest_credentials c;
  EXPECT_FALSE(parse_digest_credentials("Basic dXNlcjpwdw==", &c));
  EXPECT_FALSE(parse_digest_credentials("Digest username=\"a\", realm=\"r\"", &c));
  EXPECT_FALSE(parse_digest_credentials("Digest username=\"a, realm=r", &c));
}

// ---------------------------------------------------------------- endpoint over a socket
namespace {

class fake_events final : public endpoint_events {
 public:
  std::string provisioning_body(const std::string&) override { return "<provisionGroupList/>"; }
  void on_dialog_open(const dialog_info& d) override {
    std::lock_guard<std::mutex> l(mu);
    opened[d.id] = d.user_uri;
  }
  void on_info(dialog_id, txn_id, std::string) override {}
  void on_dialog_closed(dialog_id, const std::string&) override {}
  std::string user_ha1(const std::string& username) override {
    if (username == "alice@example.com") return digest_ha1(username, "example.com", "s3cret");
    return {};
  }
  std::mutex mu;
  std::map<dialog_id, std::string> opened;
};

class raw_client {
 public:
  explicit raw_client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_client() { ::close(fd_); }
  bool ok() const { return ok_; }
  void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), 0), static_cast<ssize_t>(s.size())); }
  // Reads one response (5 s deadline through SO_RCVTIMEO).
  std::string recv_message() {
    frame fr;
    for (;;) {
      if (framer_.next(&fr) == sip_framer::result::message) return std::string(fr.bytes);
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      framer_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool ok_ = false;
  sip_framer framer_{16384, 1 << 20};
};

std::string request(const std::string& method, const std::string& uri, int cseq,
                    const std::string& extra = {}) {
  return method + " " + uri + " SIP/2.0\r\nVia: SIP/2.0/tcp 127.0.0.1:1;branch=z9hG4bK" +
         std::to_string(cseq) + "\r\nFrom: <sip:alice@example.com>;tag=t1;epid=e\r\nTo: <" +
         (method == "INVITE" ? uri : std::string("sip:alice@example.com")) +
         ">\r\nCall-ID: c-" + method + "\r\nCSeq: " + std::to_string(cseq) + " " + method +
         "\r\nUser-Agent: Purple/2.14.12 Sipe/1.25.0\r\nContact: <sip:127.0.0.1:1;transport=tcp>\r\n" +
         extra + "Content-Length: 0\r\n\r\n";
}

std::string header(const std::string& msg, const std::string& name) {
  std::smatch m;
  std::regex re("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase);
  return std::regex_search(msg, m, re) ? m[1].str() : std::string();
}

}  // namespace

TEST(SipEndpoint, SipeGetsA407AndItsDigestAnswerSignsIn) {
  fake_events ev;
  endpoint_config cfg;
  cfg.port = 0;
  cfg.udp = false;
  cfg.require_auth = true;
  endpoint ep(cfg);
  ASSERT_EQ(ep.start(&ev), "");
  raw_client c(ep.port());
  ASSERT_TRUE(c.ok());
  c.send(request("REGISTER", "sip:example.com", 1));
  std::string r1 = c.recv_message();
  ASSERT_TRUE(r1.starts_with("SIP/2.0 407 ")) << r1;
  std::string ch = header(r1, "Proxy-Authenticate");
  std::smatch nm;
  ASSERT_TRUE(std::regex_search(ch, nm, std::regex("nonce=\"([^\"]+)\"")));
  // Wrong password: a clear 403, not an endless challenge loop.
  c.send(request("REGISTER", "sip:example.com", 1,
                 "Proxy-Authorization: " + sipe_answer("alice@example.com", "nope", "example.com", nm[1]) + "\r\n"));
  std::string r2 = c.recv_message();
  EXPECT_TRUE(r2.starts_with("SIP/2.0 403 ")) << r2;
  // The right answer, as SIPE re-sends it (same CSeq and Via).
  c.send(request("REGISTER", "sip:example.com", 1,
                 "Proxy-Authorization: " + sipe_answer("alice@example.com", "s3cret", "example.com", nm[1]) + "\r\n"));
  std::string r3 = c.recv_message();
  ASSERT_TRUE(r3.starts_with("SIP/2.0 200 ")) << r3;
  EXPECT_EQ(header(r3, "Supported"), "msrtc-event-categories");
  // Later requests of the authenticated user on this connection are trusted.
  c.send(request("SUBSCRIBE", "sip:alice@example.com", 2, "Event: vnd-microsoft-provisioning-v2\r\nExpires: 0\r\n"));
  EXPECT_TRUE(c.recv_message().starts_with("SIP/2.0 200 "));
  c.send(request("INVITE", "sip:chat@example.com", 3));
  EXPECT_TRUE(c.recv_message().starts_with("SIP/2.0 200 "));
  EXPECT_EQ(ep.stats().auth_failures, 1u);
  ep.stop();
  ASSERT_EQ(ev.opened.size(), 1u);
  EXPECT_EQ(ev.opened.begin()->second, "sip:alice@example.com");
}

TEST(SipEndpoint, UnauthenticatedInviteNeverOpensADialog) {
  fake_events ev;
  endpoint_config cfg;
  cfg.port = 0;
  cfg.udp = false;
  cfg.require_auth = true;
  endpoint ep(cfg);
  ASSERT_EQ(ep.start(&ev), "");
  raw_client c(ep.port());
  std::string inv = request("INVITE", "sip:chat@example.com", 1);
  inv.replace(inv.find("Sipe/1.25.0"), 11, "Other/1.0  ");
  c.send(inv);
  std::string r = c.recv_message();
  EXPECT_TRUE(r.starts_with("SIP/2.0 401 ")) << r;  // non-SIPE clients get a 401
  EXPECT_NE(header(r, "WWW-Authenticate").find("Digest realm=\"example.com\""), std::string::npos);
  ep.stop();
  EXPECT_TRUE(ev.opened.empty());
}

namespace {

// Records the INFOs the endpoint hands over (SIP thread) for the test to answer.
class info_events final : public endpoint_events {
 public:
  std::string provisioning_body(const std::string&) override { return "<provisionGroupList/>"; }
  void on_dialog_open(const dialog_info&) override {}
  void on_info(dialog_id, txn_id txn, std::string body) override {
    std::lock_guard<std::mutex> l(mu);
    infos.emplace_back(txn, std::move(body));
    cv.notify_all();
  }
  void on_dialog_closed(dialog_id, const std::string&) override {}
  std::string user_ha1(const std::string&) override { return {}; }
  // The txn of the n-th INFO handed over (0-based), waiting up to 5 s; 0 if none.
  txn_id nth(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(5), [&] { return infos.size() > n; });
    return infos.size() > n ? infos[n].first : 0;
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu);
    return infos.size();
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<txn_id, std::string>> infos;
};

std::string in_dialog_info(const std::string& to_tag, int cseq, const std::string& body) {
  return "INFO sip:chat@example.com SIP/2.0\r\nVia: SIP/2.0/tcp 127.0.0.1:1;branch=z9hG4bKi" +
         std::to_string(cseq) +
         "\r\nFrom: <sip:alice@example.com>;tag=t1;epid=e\r\nTo: <sip:chat@example.com>;tag=" +
         to_tag + "\r\nCall-ID: c-INVITE\r\nCSeq: " + std::to_string(cseq) +
         " INFO\r\nContent-Type: application/cccp+xml\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

// Regression (hostile_input_test): a client pipelining INFOs whose first copy of one is lost
// (UDP) retransmits it after later CSeqs arrived. The edge took every CSeq up to the highest
// seen for a replay and dropped it without an answer, so the INFO was held until the client
// gave up (32 s) and the user's in-flight slot with it. Now an INFO not seen before is
// handed over whatever its order; a repeated one is never handed over twice, and gets its
// final answer again once it has one.
TEST(SipEndpoint, AnOvertakenInfoIsHandedOverAndARepeatedOneIsAnsweredAgain) {
  info_events ev;
  endpoint_config cfg;
  cfg.port = 0;
  cfg.udp = false;
  endpoint ep(cfg);
  ASSERT_EQ(ep.start(&ev), "");
  raw_client c(ep.port());
  ASSERT_TRUE(c.ok());
  c.send(request("INVITE", "sip:chat@example.com", 1));
  std::string ok = c.recv_message();
  ASSERT_TRUE(ok.starts_with("SIP/2.0 200 ")) << ok;
  std::smatch tm;
  std::string to = header(ok, "To");
  ASSERT_TRUE(std::regex_search(to, tm, std::regex("tag=([^;>]+)"))) << to;
  const std::string tag = tm[1];

  c.send(in_dialog_info(tag, 10, "<a/>"));
  c.send(in_dialog_info(tag, 12, "<c/>"));
  c.send(in_dialog_info(tag, 11, "<b/>"));  // overtaken by 12: still a new request
  const txn_id t10 = ev.nth(0), t12 = ev.nth(1), t11 = ev.nth(2);
  ASSERT_NE(t11, 0u) << "an INFO that arrived after a higher CSeq was dropped";
  c.send(in_dialog_info(tag, 10, "<a/>"));  // a retransmission while pending: absorbed
  ep.respond(t10, 200);
  ep.respond(t12, 200);
  ep.respond(t11, 200);
  EXPECT_EQ(header(c.recv_message(), "CSeq"), "10 INFO");
  EXPECT_EQ(header(c.recv_message(), "CSeq"), "12 INFO");
  EXPECT_EQ(header(c.recv_message(), "CSeq"), "11 INFO");
  c.send(in_dialog_info(tag, 11, "<b/>"));  // a retransmission once answered: answered again
  std::string again = c.recv_message();
  EXPECT_TRUE(again.starts_with("SIP/2.0 200 ")) << again;
  EXPECT_EQ(header(again, "CSeq"), "11 INFO");
  // Nothing else was sent meanwhile: the next response is the next INFO's.
  c.send(in_dialog_info(tag, 13, "<d/>"));
  const txn_id t13 = ev.nth(3);
  ASSERT_NE(t13, 0u);
  ep.respond(t13, 200);
  EXPECT_EQ(header(c.recv_message(), "CSeq"), "13 INFO");
  EXPECT_EQ(ev.count(), 4u) << "a repeated CSeq was handed over twice";
  ep.stop();
}
