// pool::etcd_client against a real single-member etcd on loopback (tests/support/
// etcd_server.h), and against a fake HTTP server that answers whatever a test tells it to
// (an endpoint is a peer: it can send anything).
#include "pool/etcd_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/etcd_server.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using pchat::status;
using pchat::pool::etcd_claim;
using pchat::pool::etcd_client;
using pchat::pool::etcd_kv;
using pchat::pool::etcd_options;
using pchat::pool::etcd_range;
using pchat::testing::etcd_server;
using pchat::testing::eventually;
using pchat::testing::temp_dir;

std::unique_ptr<etcd_client> client_of(const std::string& endpoints,
                                       std::chrono::milliseconds timeout = 1000ms,
                                       size_t max_response_bytes = 16u << 20) {
  std::unique_ptr<etcd_client> c;
  etcd_options o;
  o.timeout = timeout;
  o.max_response_bytes = max_response_bytes;
  auto s = etcd_client::create(endpoints, o, &c);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return c;
}

class EtcdClient : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.start()) << etcd_.log_text();
    client_ = client_of(etcd_.endpoint());
  }
  temp_dir dir_{"etcd"};
  etcd_server etcd_{dir_ / "etcd"};
  std::unique_ptr<etcd_client> client_;
};

TEST(EtcdClientEndpoints, BadListsAreRefusedNamingTheCulprit) {
  std::unique_ptr<etcd_client> c;
  for (const char* bad : {"", "127.0.0.1:2379", "https://127.0.0.1:2379", "http://127.0.0.1:2379/v3",
                          "http://no-such-host.invalid:2379", "http://127.0.0.1:0", "http://127.0.0.1:99999",
                          "http://127.0.0.1:2379,ftp://x", "http://[::1:2379"}) {
    auto s = etcd_client::create(bad, {}, &c);
    EXPECT_TRUE(s.is_invalid_argument()) << bad << ": " << s.to_string();
  }
  EXPECT_TRUE(etcd_client::create("http://127.0.0.1:2379, http://localhost:2380,http://[::1]:2379/", {}, &c).is_ok());
  EXPECT_EQ(c->current_endpoint(), "http://127.0.0.1:2379");
}

TEST_F(EtcdClient, PutGetRangeEraseRoundTripBinaryKeysAndValues) {
  std::string value("v\0\xff\n\"x\"", 7);
  int64_t r1 = 0, r2 = 0, r3 = 0;
  ASSERT_TRUE(client_->put("/t/a/1", value, 0, &r1).is_ok());
  ASSERT_TRUE(client_->put("/t/a/2", "two", 0, &r2).is_ok());
  ASSERT_TRUE(client_->put("/t/b", "outside", 0, &r3).is_ok());
  EXPECT_LT(r1, r2);
  EXPECT_LT(r2, r3);
  int64_t now = 0;
  ASSERT_TRUE(client_->current_revision(&now).is_ok());
  EXPECT_EQ(now, r3);

  etcd_kv kv;
  ASSERT_TRUE(client_->get("/t/a/1", &kv).is_ok());
  EXPECT_EQ(kv.value, value);
  EXPECT_EQ(kv.create_revision, r1);
  EXPECT_EQ(kv.mod_revision, r1);
  EXPECT_EQ(kv.version, 1);
  EXPECT_EQ(kv.lease, 0);
  EXPECT_TRUE(client_->get("/t/a/none", &kv).is_not_found());

  etcd_range r;
  ASSERT_TRUE(client_->range("/t/a/", &r).is_ok());
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "/t/a/1");
  EXPECT_EQ(r.kvs[1].key, "/t/a/2");
  EXPECT_GE(r.revision, r3);

  // A log kept as keys: what was created after a revision, oldest first, in pages.
  ASSERT_TRUE(client_->put("/t/a/0", "zero", 0, nullptr).is_ok());
  ASSERT_TRUE(client_->range_created_since("/t/a/", r2, 1, &r).is_ok());
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].key, "/t/a/2");
  EXPECT_TRUE(r.more);
  ASSERT_TRUE(client_->range_created_since("/t/a/", r.kvs[0].create_revision + 1, 10, &r).is_ok());
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].key, "/t/a/0");
  EXPECT_FALSE(r.more);

  int64_t deleted = -1;
  ASSERT_TRUE(client_->erase("/t/a/1", &deleted).is_ok());
  EXPECT_EQ(deleted, 1);
  ASSERT_TRUE(client_->erase("/t/a/1", &deleted).is_ok());
  EXPECT_EQ(deleted, 0);
  EXPECT_TRUE(client_->get("/t/a/1", &kv).is_not_found());
}

TEST_F(EtcdClient, LeaseExpiryRemovesTheLeasedKey) {
  int64_t lease = 0, ttl = 0;
  ASSERT_TRUE(client_->grant_lease(1, &lease).is_ok());
  ASSERT_TRUE(client_->put("/t/node", "n1", lease, nullptr).is_ok());
  etcd_kv kv;
  ASSERT_TRUE(client_->get("/t/node", &kv).is_ok());
  EXPECT_EQ(kv.lease, lease);
  EXPECT_TRUE(eventually([&] { return client_->get("/t/node", &kv).is_not_found(); }, 10s, 100ms));
  auto s = client_->keep_alive(lease, &ttl);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
  EXPECT_TRUE(client_->put("/t/node", "n1", lease, nullptr).is_not_found());
}

TEST_F(EtcdClient, KeepAliveRenewsAndRevokeEndsTheLeaseAndItsKeys) {
  int64_t lease = 0, ttl = 0;
  ASSERT_TRUE(client_->grant_lease(2, &lease).is_ok());
  ASSERT_TRUE(client_->put("/t/k", "v", lease, nullptr).is_ok());
  ASSERT_TRUE(client_->keep_alive(lease, &ttl).is_ok());
  EXPECT_EQ(ttl, 2);
  ASSERT_TRUE(client_->revoke(lease).is_ok());
  etcd_kv kv;
  EXPECT_TRUE(client_->get("/t/k", &kv).is_not_found());
  EXPECT_TRUE(client_->keep_alive(lease, &ttl).is_not_found());
  auto s = client_->revoke(lease);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
}

TEST_F(EtcdClient, ASecondClaimFailsAndNamesTheHolderAndAReclaimHasAHigherEpoch) {
  int64_t l1 = 0, l2 = 0;
  ASSERT_TRUE(client_->grant_lease(5, &l1).is_ok());
  ASSERT_TRUE(client_->grant_lease(5, &l2).is_ok());
  etcd_claim first, second;
  ASSERT_TRUE(client_->create_if_absent("/t/rooms/r1/owner", "n1", l1, &first).is_ok());
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.holder.value, "n1");
  EXPECT_EQ(first.holder.lease, l1);
  EXPECT_GT(first.holder.create_revision, 0);

  ASSERT_TRUE(client_->create_if_absent("/t/rooms/r1/owner", "n2", l2, &second).is_ok());
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.holder.value, "n1");
  EXPECT_EQ(second.holder.create_revision, first.holder.create_revision);

  // n1's lease goes (revoked as the pool does for a dead node): n2's claim wins, later.
  ASSERT_TRUE(client_->revoke(l1).is_ok());
  ASSERT_TRUE(client_->create_if_absent("/t/rooms/r1/owner", "n2", l2, &second).is_ok());
  EXPECT_TRUE(second.created);
  EXPECT_EQ(second.holder.value, "n2");
  EXPECT_GT(second.holder.create_revision, first.holder.create_revision);
}

TEST_F(EtcdClient, DeleteIfWithAStaleRevisionDeletesNothing) {
  etcd_claim old_claim, new_claim;
  ASSERT_TRUE(client_->create_if_absent("/t/c", "n1", 0, &old_claim).is_ok());
  ASSERT_TRUE(client_->erase("/t/c", nullptr).is_ok());
  ASSERT_TRUE(client_->create_if_absent("/t/c", "n2", 0, &new_claim).is_ok());
  ASSERT_TRUE(new_claim.created);
  bool deleted = true;
  ASSERT_TRUE(client_->delete_if("/t/c", old_claim.holder.create_revision, &deleted).is_ok());
  EXPECT_FALSE(deleted);
  etcd_kv kv;
  ASSERT_TRUE(client_->get("/t/c", &kv).is_ok());
  EXPECT_EQ(kv.value, "n2");
  ASSERT_TRUE(client_->delete_if("/t/c", new_claim.holder.create_revision, &deleted).is_ok());
  EXPECT_TRUE(deleted);
  EXPECT_TRUE(client_->get("/t/c", &kv).is_not_found());
}

TEST_F(EtcdClient, AnUnreachableFirstEndpointFallsOverToTheSecond) {
  std::string dead = "http://127.0.0.1:" + std::to_string(pchat::testing::free_loopback_port());
  auto c = client_of(dead + "," + etcd_.endpoint());
  int64_t rev = 0;
  auto s = c->put("/t/x", "y", 0, &rev);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(c->current_endpoint(), etcd_.endpoint());
}

TEST_F(EtcdClient, AStoppedOrPausedEtcdGivesAClearErrorWithinTheTimeout) {
  ASSERT_TRUE(client_->put("/t/x", "y", 0, nullptr).is_ok());  // a kept-alive connection
  etcd_.pause();
  auto t0 = std::chrono::steady_clock::now();
  auto s = client_->put("/t/x", "z", 0, nullptr);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.reason().find(etcd_.endpoint()), std::string::npos) << s.reason();
  EXPECT_LT(took, 1500ms);
  etcd_.resume();
  s = client_->put("/t/x", "z", 0, nullptr);
  EXPECT_TRUE(s.is_ok()) << s.to_string();

  ASSERT_TRUE(etcd_.stop());
  etcd_kv kv;
  t0 = std::chrono::steady_clock::now();
  s = client_->get("/t/x", &kv);
  took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.reason().find(etcd_.endpoint()), std::string::npos) << s.reason();
  EXPECT_NE(s.reason().find("refused"), std::string::npos) << s.reason();
  EXPECT_LT(took, 1500ms);

  // The same data comes back with a restart.
  ASSERT_TRUE(etcd_.start()) << etcd_.log_text();
  s = client_->get("/t/x", &kv);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(kv.value, "z");
}

// A listener on loopback that answers every request on a connection with `reply(n)` (n
// counts requests from 0), or accepts and never answers when `reply` is empty.
class fake_http {
 public:
  explicit fake_http(std::function<std::string(int)> reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (reply_) thread_ = std::thread([this] { serve(); });
  }
  ~fake_http() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    int n = 0;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      // Read one request head and body (Content-Length), bounded by a deadline.
      std::string in;
      auto until = std::chrono::steady_clock::now() + 2s;
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 50) <= 0) continue;
        char buf[4096];
        auto got = ::recv(c, buf, sizeof buf, 0);
        if (got <= 0) break;
        in.append(buf, static_cast<size_t>(got));
        auto head_end = in.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        auto cl = in.find("Content-Length: ");
        size_t length = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
        if (in.size() >= head_end + 4 + length) break;
      }
      std::string out = reply_(n++);
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::function<std::string(int)> reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string http_200(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(EtcdClientHostilePeer, BadHugeAndGarbledAnswersAreErrorsNotCrashes) {
  const std::string big_kv = R"({"header":{"revision":"3"},"kvs":[{"key":"L3Qvaw==","value":")" +
                             std::string(2u << 20, 'Q') + R"("}]})";
  const std::pair<const char*, std::string> cases[] = {
      {"not HTTP", "hello there\r\n\r\n"},
      {"nothing", ""},
      {"not JSON", http_200("<html>etcd?</html>")},
      {"a JSON array", http_200("[1,2,3]")},
      {"truncated JSON", http_200(R"({"header":{"revision":"3"},"kvs":[{"key":)")},
      {"kvs not an array", http_200(R"({"kvs":5})")},
      {"a key not base64", http_200(R"({"kvs":[{"key":"!!!","value":"eA=="}]})")},
      {"a number not a number", http_200(R"({"kvs":[{"key":"L3Qvaw==","create_revision":"x1"}]})")},
      {"another key", http_200(R"({"kvs":[{"key":"L290aGVy"}]})")},
      {"an answer over the bound", http_200(big_kv)},
      {"a claimed huge body", "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n{}"},
      {"a huge header", "HTTP/1.1 200 OK\r\nX-A: " + std::string(100000, 'a') + "\r\n\r\n"},
      {"an error without a message", "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}"},
      {"deep nesting", http_200(std::string(100000, '[') + std::string(100000, ']'))},
  };
  for (const auto& [what, answer] : cases) {
    fake_http peer([&](int) { return answer; });
    auto c = client_of(peer.endpoint(), 1000ms, 1u << 20);
    etcd_kv kv;
    auto t0 = std::chrono::steady_clock::now();
    auto s = c->get("/t/k", &kv);
    EXPECT_FALSE(s.is_ok()) << what;
    EXPECT_FALSE(s.is_not_found()) << what << ": " << s.to_string();
    EXPECT_NE(s.reason().find(peer.endpoint()), std::string::npos) << what << ": " << s.reason();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms) << what;
  }
  // A transaction and a lease answer with the wrong shape.
  fake_http peer([](int) { return http_200(R"({"succeeded":true,"responses":"no"})"); });
  auto c = client_of(peer.endpoint());
  etcd_claim claim;
  EXPECT_TRUE(c->create_if_absent("/t/k", "v", 0, &claim).is_corruption());
  int64_t lease = 0;
  EXPECT_TRUE(c->grant_lease(2, &lease).is_corruption());
  EXPECT_TRUE(c->keep_alive(7, &lease).is_io_error());
}

TEST(EtcdClientHostilePeer, AnEndpointThatNeverAnswersGivesWayToTheNext) {
  fake_http silent(nullptr);  // accepts (the kernel does), never answers
  temp_dir dir("etcd");
  etcd_server etcd(dir / "etcd");
  ASSERT_TRUE(etcd.start()) << etcd.log_text();
  auto c = client_of(silent.endpoint() + "," + etcd.endpoint(), 1000ms);
  auto t0 = std::chrono::steady_clock::now();
  auto s = c->put("/t/x", "y", 0, nullptr);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(c->current_endpoint(), etcd.endpoint());
  // Alone, it is an error within the timeout that names it.
  auto alone = client_of(silent.endpoint(), 300ms);
  s = alone->put("/t/x", "y", 0, nullptr);
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.reason().find(silent.endpoint()), std::string::npos) << s.reason();
}

}  // namespace
