// Range parsing (RFC 9110 §14.1.2), the handler pool's bounded queue, and an http_server
// of its own (no pchatd) whose handler threads are all busy.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "tests/support/http_client.h"
#include "web/assets.h"
#include "web/handler_pool.h"
#include "web/http_server.h"

using pchat::web::parse_byte_range;
using range = std::pair<uint64_t, uint64_t>;

TEST(ByteRange, SingleRangesAreCutToTheBody) {
  EXPECT_EQ(parse_byte_range("bytes=0-99", 1000), range(0, 99));
  EXPECT_EQ(parse_byte_range("bytes=900-", 1000), range(900, 999));
  EXPECT_EQ(parse_byte_range("bytes=900-5000", 1000), range(900, 999));
  EXPECT_EQ(parse_byte_range("bytes=-10", 1000), range(990, 999));
  EXPECT_EQ(parse_byte_range("bytes=-5000", 1000), range(0, 999));
  EXPECT_EQ(parse_byte_range(" bytes=5-5 ", 1000), range(5, 5));
}

TEST(ByteRange, UnsatisfiableRangesAreMarked) {
  auto unsatisfiable = [](std::optional<range> r) { return r && r->first > r->second; };
  EXPECT_TRUE(unsatisfiable(parse_byte_range("bytes=1000-", 1000)));
  EXPECT_TRUE(unsatisfiable(parse_byte_range("bytes=-0", 1000)));
  EXPECT_TRUE(unsatisfiable(parse_byte_range("bytes=0-", 0)));
}

TEST(ByteRange, WhatIsNotOneValidRangeIsIgnored) {
  for (const char* v : {"", "bytes=", "bytes=-", "items=0-1", "bytes=0-1,3-4", "bytes=9-3", "bytes=a-b",
                        "bytes=1-2-3", "bytes=99999999999999999999-"})
    EXPECT_FALSE(parse_byte_range(v, 1000)) << v;
}

TEST(HandlerPool, RefusesBeyondItsQueueAndRunsTheRest) {
  pchat::web::handler_pool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  ASSERT_TRUE(pool.try_run([&] { started.set_value(); go.wait(); ++ran; }));
  started.get_future().wait();  // the thread is busy: what follows waits in the queue
  EXPECT_TRUE(pool.try_run([&] { ++ran; }));
  EXPECT_TRUE(pool.try_run([&] { ++ran; }));
  EXPECT_FALSE(pool.try_run([&] { ++ran; })) << "the queue holds 2";
  release.set_value();
  pool.stop();  // drops what still waits; with one thread, that may be some
  EXPECT_GE(ran.load(), 1);
  EXPECT_FALSE(pool.try_run([] {})) << "refused after stop";
}

TEST(Assets, ThePageFilesAreEmbedded) {
  EXPECT_NE(pchat::web::asset("app.html").find("<form id=\"room-form\""), std::string_view::npos);
  EXPECT_NE(pchat::web::asset("manage.js").find("/manage/v1/"), std::string_view::npos);
  EXPECT_FALSE(pchat::web::asset("app.css").empty());
  EXPECT_TRUE(pchat::web::asset("nope.txt").empty());
}

namespace {

// One GET on its own connection; the response's status, 0 on failure.
int status_of(uint16_t port, const std::string& path) {
  return pchat::testing::http(port, "GET", path).status;
}

}  // namespace

TEST(HttpServer, BusyHandlerThreadsAnswer503InsteadOfQueueingForever) {
  std::promise<void> entered, release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<bool> entered_once{false};
  pchat::web::http_limits limits;
  limits.handler_threads = 1;
  limits.handler_queue = 1;
  limits.queue_timeout = std::chrono::milliseconds(200);
  pchat::web::http_server server("127.0.0.1", 0, [&](const pchat::web::http_request& req) {
    if (req.path == "/slow" && !entered_once.exchange(true)) {
      entered.set_value();
      go.wait();
    }
    return pchat::web::http_response{200, "text/plain", "ok\n"};
  }, limits);
  ASSERT_EQ(server.start(), "");
  auto slow = std::async(std::launch::async, [&] { return status_of(server.port(), "/slow"); });
  entered.get_future().wait();  // the only handler thread is taken
  auto sent = std::chrono::steady_clock::now();
  std::future<int> probes[2] = {std::async(std::launch::async, [&] { return status_of(server.port(), "/a"); }),
                                std::async(std::launch::async, [&] { return status_of(server.port(), "/b"); })};
  // The queue holds one: the other probe is refused at once, before any thread is free.
  int first = -1;
  for (int i = 0; i < 500 && first < 0; ++i)
    for (int k = 0; k < 2 && first < 0; ++k)
      if (probes[k].wait_for(std::chrono::milliseconds(5)) == std::future_status::ready) first = k;
  ASSERT_GE(first, 0) << "neither request was refused while the queue was full";
  EXPECT_EQ(probes[first].get(), 503) << "a full queue refuses";
  // The queued one has now waited past queue_timeout: when the thread frees, it gets 503.
  while (std::chrono::steady_clock::now() - sent < std::chrono::milliseconds(300)) std::this_thread::yield();
  release.set_value();
  EXPECT_EQ(slow.get(), 200);
  EXPECT_EQ(probes[1 - first].get(), 503) << "waited longer than queue_timeout for a thread";
  EXPECT_EQ(status_of(server.port(), "/after"), 200) << "served normally once the thread is free";
  server.stop();
}

// /metrics' access rule (app/metrics_api.h): loopback clients, or the admin token; nobody
// else, and an empty token admits nobody from outside. (The e2e tests run on loopback only,
// so the refusal is driven here with the peer the server would have filled in.)
TEST(LoopbackOrBearerToken, AdmitsLoopbackPeersAndTheTokenOnly) {
  int reached = 0;
  auto guarded = pchat::web::loopback_or_bearer_token("s3cret", "/metrics", [&](const pchat::web::http_request&) {
    ++reached;
    return pchat::web::http_response{200, "text/plain", "figures", {}, nullptr};
  });
  pchat::web::http_request req;
  req.path = "/metrics";
  req.peer = "192.0.2.7";
  req.peer_loopback = false;
  auto r = guarded(req);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("admin token"), std::string::npos) << r.body;
  req.headers["authorization"] = "Bearer wrong";
  EXPECT_EQ(guarded(req).status, 401);
  req.headers["authorization"] = "Basic s3cret";
  EXPECT_EQ(guarded(req).status, 401);
  EXPECT_EQ(reached, 0);
  req.headers["authorization"] = "Bearer s3cret";
  EXPECT_EQ(guarded(req).status, 200);
  req.headers.clear();
  req.peer = "127.0.0.1";
  req.peer_loopback = true;
  EXPECT_EQ(guarded(req).status, 200);
  EXPECT_EQ(reached, 2);

  auto no_token = pchat::web::loopback_or_bearer_token("", "/metrics", [&](const pchat::web::http_request&) {
    return pchat::web::http_response{200, "text/plain", "figures", {}, nullptr};
  });
  req.peer_loopback = false;
  req.headers["authorization"] = "Bearer ";
  EXPECT_EQ(no_token(req).status, 401);
}
