// Range parsing (RFC 9110 §14.1.2) and the handler pool's bounded queue.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

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
  EXPECT_NE(pchat::web::asset("manage.html").find("<form id=\"room-form\">"), std::string_view::npos);
  EXPECT_NE(pchat::web::asset("manage.js").find("/manage/v1/"), std::string_view::npos);
  EXPECT_FALSE(pchat::web::asset("manage.css").empty());
  EXPECT_TRUE(pchat::web::asset("nope.txt").empty());
}
