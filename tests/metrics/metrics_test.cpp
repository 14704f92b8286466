// The instruments (metrics/instruments.h) and the Prometheus text codec
// (metrics/text_format.h): exact output, escaping, histograms, and reading it back.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "metrics/instruments.h"
#include "metrics/process_figures.h"
#include "metrics/text_format.h"

using namespace pchat::metrics;

TEST(Instruments, CountersAndGaugesAddUpAcrossThreads) {
  counter c;
  gauge g;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.add();
        g.add(1);
        g.add(-1);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(g.value(), 0);
  g.set(-7);
  EXPECT_EQ(g.value(), -7);
}

TEST(Instruments, HistogramBucketsAreCumulativeAndInclusive) {
  histogram h{10, 100, 1000};
  for (uint64_t v : {0u, 10u, 11u, 100u, 500u, 1000u, 1001u, 999999u}) h.observe(v);
  auto s = h.snapshot();
  ASSERT_EQ(s.bounds, (std::vector<uint64_t>{10, 100, 1000}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 6}));  // le is inclusive
  EXPECT_EQ(s.count, 8u);
  EXPECT_EQ(s.sum, 0u + 10 + 11 + 100 + 500 + 1000 + 1001 + 999999);
}

TEST(Instruments, HistogramCountMatchesItsBucketsUnderConcurrentObservations) {
  histogram h{1, 2, 3};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) h.observe(static_cast<uint64_t>((i + t) % 5));
    });
  for (int i = 0; i < 100; ++i) {  // read while they write: +Inf is always _count
    auto s = h.snapshot();
    EXPECT_LE(s.cumulative.back(), s.count);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.snapshot().count, 60000u);
}

TEST(TextFormat, WritesFamiliesSamplesAndEscapes) {
  text_writer w;
  w.family("pchat_posts_total", family_type::counter, "Posts.\nBy outcome \\ reason.");
  w.sample("pchat_posts_total", {{"outcome", "accepted"}}, uint64_t{18446744073709551615u});
  w.sample("pchat_posts_total", {{"outcome", "a\"b\\c\nd"}, {"x", ""}}, uint64_t{0});
  w.family("pchat_uptime_seconds", family_type::gauge, "Up.");
  w.sample("pchat_uptime_seconds", {}, 1.5);
  w.sample("pchat_neg", {}, int64_t{-3});
  w.sample("pchat_inf", {}, INFINITY);
  w.sample("pchat_nan", {}, NAN);
  EXPECT_EQ(w.take(),
            "# HELP pchat_posts_total Posts.\\nBy outcome \\\\ reason.\n"
            "# TYPE pchat_posts_total counter\n"
            "pchat_posts_total{outcome=\"accepted\"} 18446744073709551615\n"
            "pchat_posts_total{outcome=\"a\\\"b\\\\c\\nd\",x=\"\"} 0\n"
            "# HELP pchat_uptime_seconds Up.\n"
            "# TYPE pchat_uptime_seconds gauge\n"
            "pchat_uptime_seconds 1.5\n"
            "pchat_neg -3\n"
            "pchat_inf +Inf\n"
            "pchat_nan NaN\n");
}

TEST(TextFormat, HistogramsAreBucketsSumAndCountScaled) {
  histogram h{100, 2500, 1000000};  // microseconds
  h.observe(50);
  h.observe(2000);
  h.observe(5000000);
  text_writer w;
  w.family("lat_seconds", family_type::histogram, "Latency.");
  w.histogram("lat_seconds", {{"stage", "commit"}}, h.snapshot(), 1e6);
  EXPECT_EQ(w.take(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{stage=\"commit\",le=\"0.0001\"} 1\n"
            "lat_seconds_bucket{stage=\"commit\",le=\"0.0025\"} 2\n"
            "lat_seconds_bucket{stage=\"commit\",le=\"1\"} 2\n"
            "lat_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 3\n"
            "lat_seconds_sum{stage=\"commit\"} 5.00205\n"
            "lat_seconds_count{stage=\"commit\"} 3\n");
}

TEST(TextFormat, WhatIsWrittenReadsBack) {
  histogram h{1, 10};
  h.observe(3);
  text_writer w;
  w.family("a_total", family_type::counter, "A.");
  w.sample("a_total", {{"code", "200"}}, uint64_t{7});
  w.sample("a_total", {{"code", "503"}, {"path", "we\"ird,}{ \\ \n"}}, uint64_t{2});
  w.family("h", family_type::histogram, "H.");
  w.histogram("h", {}, h.snapshot());
  w.sample("g", {}, 0.25);
  std::vector<sample> got;
  ASSERT_TRUE(parse_text(w.take(), &got).is_ok());
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(find_sample(got, "a_total", {{"code", "200"}}), 7.0);
  EXPECT_EQ(find_sample(got, "a_total", {{"path", "we\"ird,}{ \\ \n"}}), 2.0);
  EXPECT_EQ(find_sample(got, "h_bucket", {{"le", "1"}}), 0.0);
  EXPECT_EQ(find_sample(got, "h_bucket", {{"le", "10"}}), 1.0);
  EXPECT_EQ(find_sample(got, "h_bucket", {{"le", "+Inf"}}), 1.0);
  EXPECT_EQ(find_sample(got, "h_count"), 1.0);
  EXPECT_EQ(find_sample(got, "g"), 0.25);
  EXPECT_FALSE(find_sample(got, "a_total", {{"code", "404"}}));
  EXPECT_FALSE(find_sample(got, "missing"));
}

TEST(TextFormat, ReadsTimestampsCommentsAndBlankLines) {
  std::vector<sample> got;
  ASSERT_TRUE(parse_text("# a comment\n\n  x 1 1700000000000\r\ny{a=\"b\",} -Inf\nz NaN\n", &got).is_ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].value, 1.0);
  EXPECT_TRUE(std::isinf(got[1].value) && got[1].value < 0);
  EXPECT_TRUE(std::isnan(got[2].value));
}

TEST(TextFormat, RefusesMalformedLinesNamingThem) {
  for (const char* bad : {"1abc 2", "x", "x{a=\"b\" 1", "x{a=b} 1", "x{a=\"\\q\"} 1", "x 1.2.3",
                          "x{=\"v\"} 1", "x 1 notatime", "x 1 2 3", "x{a=\"b\"c=\"d\"} 1"}) {
    std::vector<sample> got;
    auto s = parse_text(std::string("ok 1\n") + bad + "\n", &got);
    EXPECT_TRUE(s.is_invalid_argument()) << bad;
    EXPECT_NE(s.reason().find("line 2"), std::string::npos) << bad << ": " << s.reason();
  }
}

TEST(ProcessFigures, ReadsThisProcess) {
  auto p = read_process_figures();
  ASSERT_TRUE(p.ok);
  EXPECT_GT(p.resident_bytes, 1u << 20);
  EXPECT_GE(p.open_fds, 3u);
  EXPECT_GT(p.start_time_seconds, 1.5e9);
  EXPECT_GE(p.threads, 1u);
}
