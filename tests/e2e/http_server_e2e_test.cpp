// The HTTP server (web/http_server.h) under clients that misbehave, through real sockets
// against a real pchatd: half-open connections, a trickling upload, a download nobody
// reads, too many connections, and a stop with all of them open, while a normal client's
// requests are answered at once. Also Range downloads and streamed uploads.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using pchat::testing::eventually;
using pchat::testing::http;
using pchat::testing::send_all;
using pchat::testing::json_field;

std::string as(const std::string& user) { return "X-PChat-User: " + user; }

// Whether the server closes `fd` (EOF or reset) within `within`; data it sends is skipped.
bool closed_within(int fd, std::chrono::milliseconds within) {
  auto until = clock_type::now() + within;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

// Bytes received until the server closes `fd`; SIZE_MAX if it is still open after `within`.
size_t bytes_until_closed(int fd, std::chrono::milliseconds within) {
  auto until = clock_type::now() + within;
  char buf[65536];
  size_t got = 0;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
    if (left <= 0) return SIZE_MAX;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got += static_cast<size_t>(n);
  }
}

// One response read from a keep-alive connection: head, then Content-Length bytes.
pchat::testing::http_reply read_reply(int fd) {
  pchat::testing::http_reply r;
  std::string all;
  char buf[65536];
  size_t end;
  while ((end = all.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return r;
    all.append(buf, static_cast<size_t>(n));
  }
  r.head = all.substr(0, end);
  r.status = std::atoi(all.c_str() + 9);
  size_t length = 0;
  if (auto cl = r.head.find("Content-Length: "); cl != std::string::npos) length = std::stoul(r.head.substr(cl + 16));
  r.body = all.substr(end + 4);
  while (r.body.size() < length) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    r.body.append(buf, static_cast<size_t>(n));
  }
  return r;
}

// The header's value in a response head ("" if absent).
std::string header(const std::string& head, const std::string& name) {
  auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  at += name.size() + 4;
  return head.substr(at, head.find("\r\n", at) - at);
}

// The soft open-files limit raised to the hard one (the test holds 1,000+ sockets).
size_t raise_nofile() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

class HttpServerE2E : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int fd : fds_) close(fd);
  }

  // pchatd with a room "Desk" that takes uploads; returns the room id.
  std::string start(pchat::testing::server_process& server) {
    if (!server.start()) {
      ADD_FAILURE() << server.stderr_text();
      return {};
    }
    int rc = 0;
    server.ctl("category new --name Shared", &rc);
    server.ctl("room new --name Desk --category Shared --privacy open", &rc);
    token_ = "Authorization: Bearer " + server.admin_token();
    return json_field(server.ctl("--json room get --identity Desk", &rc), "id");
  }
  // A connection that sent half a request head and waits.
  int half_open(int port) {
    int fd = pchat::testing::connect_loopback(static_cast<uint16_t>(port));
    if (fd >= 0 && send_all(fd, "GET /manage HTTP/1.1\r\nHost: x\r\n")) fds_.push_back(fd);
    return fd;
  }
  // A download that is requested and never read; the client's receive buffer is small.
  int unread_download(int port, const std::string& target) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
    send_all(fd, "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + as("sip:bob@example.com") + "\r\n\r\n");
    fds_.push_back(fd);
    return fd;
  }
  // The slowest of `rounds` answers to GET / (the web page) and to an admin GET, each on its own
  // connection; every answer must be 200.
  std::chrono::milliseconds slowest_normal_answer(int port, int rounds) {
    std::vector<std::chrono::microseconds> all;
    for (int i = 0; i < rounds; ++i) {
      for (auto [target, hdr] : {std::pair<std::string, std::string>{"/", ""},
                                 std::pair<std::string, std::string>{"/api/v1/status", token_}}) {
        auto t0 = clock_type::now();
        auto r = http(port, "GET", target, hdr.empty() ? std::vector<std::string>{} : std::vector{hdr});
        all.push_back(std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0));
        EXPECT_EQ(r.status, 200) << target << " " << r.body;
      }
    }
    std::sort(all.begin(), all.end());
    std::printf("normal answers: %zu, median %.2f ms, max %.2f ms\n", all.size(), all[all.size() / 2].count() / 1000.0,
                all.back().count() / 1000.0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(all.back());
  }

  pchat::testing::temp_dir dir_{"http"};
  std::string token_;
  std::vector<int> fds_;
};

}  // namespace

TEST_F(HttpServerE2E, AThousandHalfOpenConnectionsAndATrickleDoNotDelayOthers) {
  ASSERT_GE(raise_nofile(), 1200u) << "the open-files hard limit is too low for this test";
  pchat::testing::server_process server(dir_ / "data");
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();

  for (int i = 0; i < 1000; ++i) ASSERT_GE(half_open(port), 0) << "connection " << i;
  // The trickle: an upload announcing 10 MB, sending 1 KiB every 20 ms (~50 KiB/s).
  std::atomic<bool> stop{false};
  int up = pchat::testing::connect_loopback(static_cast<uint16_t>(port));
  ASSERT_GE(up, 0);
  fds_.push_back(up);
  ASSERT_TRUE(send_all(up, "POST /files/v1/rooms/" + desk + "?name=slow.bin HTTP/1.1\r\nHost: x\r\n" +
                               as("sip:alice@example.com") + "\r\nContent-Length: 10000000\r\n\r\n"));
  std::thread trickle([&] {
    std::string kib(1024, 't');
    for (int i = 0; i < 1000 && !stop; ++i) {
      if (!send_all(up, kib)) break;
      std::this_thread::sleep_for(20ms);
    }
  });

  auto worst = slowest_normal_answer(port, 20);
  stop = true;
  trickle.join();
  std::printf("slowest answer with 1000 half-open connections and a trickle: %lld ms\n",
              static_cast<long long>(worst.count()));
  // The bound is 100 ms; the margin is for a loaded 2-core CI box. The old server
  // answered none of these within 2 s.
  EXPECT_LT(worst.count(), 500) << "a normal request waited behind slow clients";
  ASSERT_TRUE(server.stop());
}

TEST_F(HttpServerE2E, HeadBodyAndIdleDeadlinesCutSlowClientsOff) {
  pchat::testing::server_process server(
      dir_ / "data", {"--http-head-timeout-ms=500", "--http-idle-timeout-ms=500",
                       "--http-body-timeout-ms=500", "--http-body-min-rate=1024"});
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();

  int head = half_open(port);
  int silent = pchat::testing::connect_loopback(static_cast<uint16_t>(port));  // never sends a byte
  fds_.push_back(silent);
  int body = pchat::testing::connect_loopback(static_cast<uint16_t>(port));  // 100 kB announced, 10 bytes every 100 ms (100 B/s)
  fds_.push_back(body);
  ASSERT_TRUE(send_all(body, "POST /files/v1/rooms/" + desk + "?name=t.bin HTTP/1.1\r\nHost: x\r\n" +
                                 as("sip:alice@example.com") + "\r\nContent-Length: 100000\r\n\r\n"));
  int keep = pchat::testing::connect_loopback(static_cast<uint16_t>(port));  // one answered request, then idle
  fds_.push_back(keep);
  ASSERT_TRUE(send_all(keep, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(read_reply(keep).status, 200);

  auto t0 = clock_type::now();
  std::atomic<bool> cut{false};
  std::thread trickle([&] {
    for (int i = 0; i < 100 && !cut; ++i) {
      if (!send_all(body, std::string(10, 'x'))) break;
      std::this_thread::sleep_for(100ms);
    }
  });
  EXPECT_TRUE(closed_within(head, 5s)) << "half a head is not waited for";
  EXPECT_TRUE(closed_within(silent, 5s)) << "a connection that sends nothing is closed";
  EXPECT_TRUE(closed_within(keep, 5s)) << "an idle keep-alive connection is closed";
  EXPECT_TRUE(closed_within(body, 5s)) << "a body trickling at 100 B/s is cut off";
  cut = true;
  trickle.join();
  EXPECT_LT(clock_type::now() - t0, 5s);
  // Nothing of the cut-off upload is kept: no file listed, no temporary file left.
  auto list = http(port, "GET", "/files/v1/rooms/" + desk, {as("sip:alice@example.com")});
  EXPECT_EQ(list.body, "[]\n") << list.body;
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "data/files/.incoming"));
  ASSERT_TRUE(server.stop());
}

TEST_F(HttpServerE2E, RangeRequestsGetTheirBytes) {
  pchat::testing::server_process server(dir_ / "data");
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();
  std::string bytes = random_bytes(300'000, 7);
  auto up = http(port, "POST", "/files/v1/rooms/" + desk + "?name=r.bin", {as("sip:alice@example.com")}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string target = "/files/v1/rooms/" + desk + "/" + json_field(up.body, "id");
  auto get = [&](const std::string& range) {
    return http(port, "GET", target, {as("sip:bob@example.com"), "Range: " + range});
  };

  auto whole = http(port, "GET", target, {as("sip:bob@example.com")});
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, bytes);
  EXPECT_EQ(header(whole.head, "Accept-Ranges"), "bytes");
  auto mid = get("bytes=1000-1999");
  EXPECT_EQ(mid.status, 206);
  EXPECT_EQ(header(mid.head, "Content-Range"), "bytes 1000-1999/300000");
  EXPECT_EQ(mid.body, bytes.substr(1000, 1000));
  auto open_end = get("bytes=299990-");
  EXPECT_EQ(open_end.status, 206);
  EXPECT_EQ(open_end.body, bytes.substr(299990));
  auto suffix = get("bytes=-5");
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(header(suffix.head, "Content-Range"), "bytes 299995-299999/300000");
  EXPECT_EQ(suffix.body, bytes.substr(299995));
  auto past_end = get("bytes=2000-9999999");
  EXPECT_EQ(past_end.status, 206);
  EXPECT_EQ(past_end.body, bytes.substr(2000));
  auto outside = get("bytes=300000-");
  EXPECT_EQ(outside.status, 416);
  EXPECT_EQ(header(outside.head, "Content-Range"), "bytes */300000");
  EXPECT_EQ(get("bytes=0-1,5-6").status, 200) << "several ranges: the whole file";
  EXPECT_EQ(get("bytes=9-3").status, 200) << "an invalid range is ignored";
  ASSERT_TRUE(server.stop());
}

TEST_F(HttpServerE2E, ADownloadNobodyReadsStallsNoOneAndIsCutOff) {
  pchat::testing::server_process server(dir_ / "data", {"--http-write-timeout-ms=1000", "--log-level=info"});
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();
  std::string bytes = random_bytes(16 << 20, 3);
  auto up = http(port, "POST", "/files/v1/rooms/" + desk + "?name=big.bin", {as("sip:alice@example.com")}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  std::string target = "/files/v1/rooms/" + desk + "/" + json_field(up.body, "id");

  std::vector<int> readers;
  for (int i = 0; i < 4; ++i) readers.push_back(unread_download(port, target));
  auto worst = slowest_normal_answer(port, 10);
  EXPECT_LT(worst.count(), 500) << "a normal request waited behind downloads nobody reads";
  auto other = http(port, "GET", target, {as("sip:carol@example.com")});
  EXPECT_EQ(other.body, bytes) << "another download completes meanwhile";
  // Nothing read for a write deadline: the server gives up on them (and says so); what
  // they then read is what was in flight, far from the whole file.
  auto cut_offs = [&] {
    std::string log = server.stderr_text();
    size_t n = 0;
    for (size_t at = 0; (at = log.find("client does not read its response", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  EXPECT_TRUE(eventually([&] { return cut_offs() >= readers.size(); }, 15s)) << server.stderr_text();
  for (int fd : readers) EXPECT_LT(bytes_until_closed(fd, 10s), bytes.size());
  ASSERT_TRUE(server.stop());
}

TEST_F(HttpServerE2E, ConnectionsBeyondTheCapAreRefusedNotQueued) {
  pchat::testing::server_process server(dir_ / "data", {"--http-max-connections=20"});
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();
  for (int i = 0; i < 20; ++i) ASSERT_GE(half_open(port), 0);
  auto t0 = clock_type::now();
  auto refused = http(port, "GET", "/");
  EXPECT_EQ(refused.status, 503) << refused.head;
  EXPECT_LT(clock_type::now() - t0, 5s);
  // Room again once some leave.
  for (int i = 0; i < 5; ++i) {
    close(fds_.back());
    fds_.pop_back();
  }
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {  // the server sees the closes asynchronously
    served = http(port, "GET", "/").status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
  ASSERT_TRUE(server.stop());
}

TEST_F(HttpServerE2E, UploadsStreamToDiskAndKeepServerMemoryFlat) {
  pchat::testing::server_process server(dir_ / "data");
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  int rc = 0;
  server.ctl("config set --max-file-size-kb 200000", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(server.stop());
  ASSERT_TRUE(server.start()) << server.stderr_text();
  const int port = server.http_port();
  long before = server.rss_kib();
  // 96 MiB in 1 MiB pieces with a known pattern; the server's RSS is sampled meanwhile.
  int fd = pchat::testing::connect_loopback(static_cast<uint16_t>(port));
  ASSERT_GE(fd, 0);
  fds_.push_back(fd);
  const size_t total = 96u << 20;
  ASSERT_TRUE(send_all(fd, "POST /files/v1/rooms/" + desk + "?name=huge.bin HTTP/1.1\r\nHost: x\r\n" +
                               as("sip:alice@example.com") + "\r\nConnection: close\r\nContent-Length: " +
                               std::to_string(total) + "\r\n\r\n"));
  std::string piece = random_bytes(1 << 20, 11);
  long peak = before;
  for (size_t sent = 0; sent < total; sent += piece.size()) {
    ASSERT_TRUE(send_all(fd, piece));
    peak = std::max(peak, server.rss_kib());
  }
  auto reply = read_reply(fd);
  ASSERT_EQ(reply.status, 201) << reply.body;
  std::printf("server RSS before %ld KiB, peak during a 96 MiB upload %ld KiB\n", before, peak);
  EXPECT_LT(peak - before, 32 * 1024) << "the upload was held in memory";
  auto down = http(port, "GET", "/files/v1/rooms/" + desk + "/" + json_field(reply.body, "id"),
                   {as("sip:bob@example.com"), "Range: bytes=" + std::to_string(total - (1 << 20)) + "-"});
  EXPECT_EQ(down.status, 206);
  EXPECT_EQ(down.body, piece) << "the stored file ends with the last piece sent";
  ASSERT_TRUE(server.stop());
}

TEST_F(HttpServerE2E, SigtermStopsPromptlyWithSlowClientsConnected) {
  ASSERT_GE(raise_nofile(), 400u);
  pchat::testing::server_process server(dir_ / "data");
  std::string desk = start(server);
  ASSERT_FALSE(desk.empty());
  const int port = server.http_port();
  auto up = http(port, "POST", "/files/v1/rooms/" + desk + "?name=d.bin", {as("sip:alice@example.com")},
                 random_bytes(8 << 20, 5));
  ASSERT_EQ(up.status, 201) << up.body;
  for (int i = 0; i < 300; ++i) ASSERT_GE(half_open(port), 0);
  unread_download(port, "/files/v1/rooms/" + desk + "/" + json_field(up.body, "id"));
  int trickle = pchat::testing::connect_loopback(static_cast<uint16_t>(port));
  fds_.push_back(trickle);
  ASSERT_TRUE(send_all(trickle, "POST /files/v1/rooms/" + desk + "?name=s.bin HTTP/1.1\r\nHost: x\r\n" +
                                    as("sip:alice@example.com") + "\r\nContent-Length: 1000000\r\n\r\nabc"));
  EXPECT_EQ(http(port, "GET", "/").status, 200);
  auto t0 = clock_type::now();
  ASSERT_TRUE(server.stop(5s)) << "pchatd did not stop on SIGTERM";
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0);
  std::printf("SIGTERM to exit with slow clients: %lld ms\n", static_cast<long long>(took.count()));
  EXPECT_LT(took, 3s);
}
