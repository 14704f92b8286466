// The one UTC time codec (text/utc_time.h): every format against known instants (the
// compliance reference sample among them), round trips, the clamp to years 0000..9999,
// and input the parsers must refuse.
#include "text/utc_time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>

namespace pchat::utc {
namespace {

// Reference sample of the compliance format (§4.4): since1970 1212610540953,
// 2008-06-04T20:15:40.9535482Z, 633482073409535482. Our clock keeps microseconds.
constexpr int64_t kSample = 1212610540953548;

TEST(UtcTime, EveryFormatOfTheComplianceReferenceSample) {
  EXPECT_EQ(xccos_timestamp(kSample), "2008-06-04T20:15:40.9535480Z");
  EXPECT_EQ(json_timestamp(kSample), "2008-06-04T20:15:40.953548Z");
  EXPECT_EQ(log_timestamp(kSample), "2008-06-04T20:15:40.953Z");
  EXPECT_EQ(seconds_timestamp(kSample), "2008-06-04T20:15:40Z");
  EXPECT_EQ(unix_millis(kSample), 1212610540953);
  EXPECT_EQ(dotnet_ticks(kSample), 633482073409535480);
  EXPECT_EQ(dotnet_ticks(0), kUnixEpochTicks);
}

TEST(UtcTime, KnownInstantsIncludingLeapDaysAndBeforeTheEpoch) {
  EXPECT_EQ(xccos_timestamp(0), "1970-01-01T00:00:00.0000000Z");
  EXPECT_EQ(xccos_timestamp(1714566896123456), "2024-05-01T12:34:56.1234560Z");
  EXPECT_EQ(xccos_timestamp(951782400000000), "2000-02-29T00:00:00.0000000Z");
  EXPECT_EQ(json_timestamp(4107542400000000), "2100-03-01T00:00:00.000000Z");  // 2100: no Feb 29
  // Floored, never truncated toward zero.
  EXPECT_EQ(xccos_timestamp(-1), "1969-12-31T23:59:59.9999990Z");
  EXPECT_EQ(json_timestamp(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(log_timestamp(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(seconds_timestamp(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(unix_millis(-1), -1);
  EXPECT_EQ(unix_millis(-1000), -1);
  EXPECT_EQ(unix_millis(-1001), -2);
  EXPECT_EQ(json_timestamp(-62135596800000000), "0001-01-01T00:00:00.000000Z");
}

TEST(UtcTime, FormatsClampToYearsZeroToNineThousandNineHundredNinetyNine) {
  EXPECT_EQ(json_timestamp(INT64_MAX), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(json_timestamp(INT64_MIN), "0000-01-01T00:00:00.000000Z");
  EXPECT_EQ(xccos_timestamp(INT64_MAX), "9999-12-31T23:59:59.9999990Z");
  EXPECT_EQ(seconds_timestamp(INT64_MIN), "0000-01-01T00:00:00Z");
  ASSERT_TRUE(parse_timestamp(xccos_timestamp(INT64_MAX)));
  ASSERT_TRUE(parse_timestamp(xccos_timestamp(INT64_MIN)));
}

TEST(UtcTime, FormatAndParseRoundTrip) {
  for (int64_t us : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{999999}, kSample,
                     int64_t{1714566896123456}, int64_t{253402300799999999},
                     int64_t{-62135596800000000}, int64_t{-62167219200000000}}) {
    EXPECT_EQ(parse_timestamp(json_timestamp(us)), us) << json_timestamp(us);
    EXPECT_EQ(parse_timestamp(xccos_timestamp(us)), us) << xccos_timestamp(us);
    EXPECT_EQ(parse_date_or_timestamp(json_timestamp(us)), us) << json_timestamp(us);
  }
  // Every day of a leap-year span, at a time of day with every field non-zero.
  for (int64_t day = -800; day < 800; ++day) {
    const int64_t us = day * 86'400'000'000 + 45'296'789'012;  // 12:34:56.789012
    ASSERT_EQ(parse_timestamp(json_timestamp(us)), us) << json_timestamp(us);
  }
}

TEST(UtcTime, ParseAcceptsClientAndServerForms) {
  EXPECT_EQ(parse_timestamp("2024-05-01T12:34:56Z"), 1714566896000000);
  EXPECT_EQ(parse_timestamp("2024-05-01T12:34:56"), 1714566896000000);
  EXPECT_EQ(parse_timestamp("2010-09-14T14:26:17.6206356Z"), 1284474377620635);  // truncated
  EXPECT_EQ(parse_timestamp("2024-05-01T12:34:56.5"), 1714566896500000);
  EXPECT_EQ(parse_timestamp("1969-12-31T23:59:59.999999Z"), -1);
  EXPECT_TRUE(parse_timestamp("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("2000-02-29T00:00:00Z"));
}

TEST(UtcTime, ParseRefusesAnythingElse) {
  for (const char* ts : {"",
                         "2024-05-01T12:34",
                         "2024-05-01 12:34:56Z",
                         "2024-05-01T12:34:56z",
                         "2024-05-01T12:34:56+01:00",
                         "2024-05-01T12:34:56.Z",
                         "2024-05-01T12:34:56.",
                         "24-05-01T12:34:56Z",
                         "2024-5-01T12:34:56Z",
                         "+2024-05-01T12:34:56Z",
                         "-024-05-01T12:34:56Z",
                         "2024-05-01T12:34:56ZZ",
                         "2024-05-01T12:34:56Z ",
                         " 2024-05-01T12:34:56Z",
                         "2024-13-01T00:00:00Z",
                         "2024-00-01T00:00:00Z",
                         "2024-04-31T00:00:00Z",
                         "2023-02-29T00:00:00Z",
                         "1900-02-29T00:00:00Z",
                         "2024-05-00T00:00:00Z",
                         "2024-05-01T24:00:00Z",
                         "2024-05-01T23:60:00Z",
                         "2024-05-01T23:59:60Z",
                         "2024-05-01T12:34:56.12a",
                         "\xEF\xBC\x92\xEF\xBC\x90\xEF\xBC\x92\xEF\xBC\x94-05-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_timestamp(ts)) << ts;
  }
  EXPECT_FALSE(parse_timestamp(std::string_view("2024-05-01T12:34:56\0", 20)));
  EXPECT_FALSE(parse_timestamp("2024-05-01"));  // a date alone is the admin form only
  // A long run of fraction digits is read, not overflowed.
  EXPECT_EQ(parse_timestamp("2024-05-01T12:34:56." + std::string(10000, '9') + "Z"),
            1714566896999999);
}

TEST(UtcTime, DateAloneMeansItsFirstOrWithEndOfDayItsLastMicrosecond) {
  EXPECT_EQ(parse_date_or_timestamp("2024-05-01"), 1714521600000000);
  EXPECT_EQ(parse_date_or_timestamp("2024-05-01", /*end_of_day=*/true), 1714607999999999);
  EXPECT_EQ(parse_date_or_timestamp("2024-05-01T12:34:56Z", true), 1714566896000000);
  for (const char* d : {"2024-02-30", "2024-5-1", "2024-05-1", "2024/05/01", "2024-05-01Z",
                        "2024-05-01T", "20240501", "", "abcd-ef-gh"}) {
    EXPECT_FALSE(parse_date_or_timestamp(d)) << d;
  }
}

TEST(UtcTime, NowIsTheSystemClockAndFormatsAsSevenDigits) {
  const int64_t sys = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t now = now_micros();
  EXPECT_LE(std::llabs(now - sys), 5'000'000);
  const std::string text = xccos_timestamp(now);
  EXPECT_TRUE(std::regex_match(text, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}0Z)")))
      << text;
}

}  // namespace
}  // namespace pchat::utc
