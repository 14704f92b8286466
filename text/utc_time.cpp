#include "text/utc_time.h"

#include <chrono>
#include <cstdio>

namespace pchat::utc {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
constexpr int64_t kMinMicros = -62'167'219'200 * kMicrosPerSecond;  // 0000-01-01T00:00:00Z
constexpr int64_t kMaxMicros = 253'402'300'799 * kMicrosPerSecond + 999'999;  // 9999-12-31T23:59:59.999999Z

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (civil calendar arithmetic
// over 400-year eras, so no time_t range or time zone is involved).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

struct civil {
  int64_t year;
  int month, day, hour, minute, second;
  int64_t micros;  // 0..999999
};

civil to_civil(int64_t micros) {
  if (micros < kMinMicros) micros = kMinMicros;
  if (micros > kMaxMicros) micros = kMaxMicros;
  civil c{};
  const int64_t secs = floor_div(micros, kMicrosPerSecond);
  c.micros = micros - secs * kMicrosPerSecond;
  const int64_t days = floor_div(secs, kSecondsPerDay);
  const int64_t sod = secs - days * kSecondsPerDay;
  c.hour = static_cast<int>(sod / 3600);
  c.minute = static_cast<int>(sod / 60 % 60);
  c.second = static_cast<int>(sod % 60);
  const int64_t z = days + 719'468;
  const int64_t era = floor_div(z, 146'097);
  const int64_t doe = z - era * 146'097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  return c;
}

// fraction_digits: 0, 3, 6 or 7 (the 7th digit is always 0: the clock has microseconds).
std::string format(int64_t micros, int fraction_digits) {
  const civil c = to_civil(micros);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d",
                        static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute,
                        c.second);
  if (fraction_digits == 3)
    n += std::snprintf(buf + n, sizeof buf - n, ".%03lld", static_cast<long long>(c.micros / 1000));
  else if (fraction_digits == 6)
    n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(c.micros));
  else if (fraction_digits == 7)
    n += std::snprintf(buf + n, sizeof buf - n, ".%07lld", static_cast<long long>(c.micros * 10));
  std::snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

bool valid_date(int64_t y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + ((m == 2 && leap) ? 1 : 0);
}

// Matches `layout` ('d' = a digit, anything else itself) at the start of `text`.
bool matches(std::string_view text, std::string_view layout) {
  if (text.size() < layout.size()) return false;
  for (size_t i = 0; i < layout.size(); ++i) {
    const char c = text[i];
    if (layout[i] == 'd' ? (c < '0' || c > '9') : c != layout[i]) return false;
  }
  return true;
}

int number(std::string_view text, size_t pos, size_t len) {
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

constexpr std::string_view kDateLayout = "dddd-dd-dd";
constexpr std::string_view kTimestampLayout = "dddd-dd-ddTdd:dd:dd";

// The date at the start of `text` (REQUIRES: matches(text, kDateLayout)) as days since
// 1970, or nullopt when it is not a calendar date.
std::optional<int64_t> date_days(std::string_view text) {
  const int year = number(text, 0, 4), month = number(text, 5, 2), day = number(text, 8, 2);
  if (!valid_date(year, month, day)) return std::nullopt;
  return days_from_civil(year, month, day);
}

}  // namespace

std::string xccos_timestamp(int64_t micros) {
  return format(micros, 7);
}
std::string json_timestamp(int64_t micros) {
  return format(micros, 6);
}
std::string log_timestamp(int64_t micros) {
  return format(micros, 3);
}
std::string seconds_timestamp(int64_t micros) {
  return format(micros, 0);
}

int64_t unix_millis(int64_t micros) {
  return floor_div(micros, 1000);
}

int64_t dotnet_ticks(int64_t micros) {
  return kUnixEpochTicks + micros * 10;
}

std::optional<int64_t> parse_timestamp(std::string_view text) {
  if (!matches(text, kTimestampLayout)) return std::nullopt;
  const std::optional<int64_t> days = date_days(text);
  const int hour = number(text, 11, 2), minute = number(text, 14, 2), second = number(text, 17, 2);
  if (!days || hour > 23 || minute > 59 || second > 59) return std::nullopt;

  size_t i = kTimestampLayout.size();
  int64_t micros = 0;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    int64_t scale = 100'000;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      micros += (text[i] - '0') * scale;  // digits beyond microseconds are truncated
      scale /= 10;
    }
    if (i == start) return std::nullopt;
  }
  if (i < text.size() && text[i] == 'Z') ++i;
  if (i != text.size()) return std::nullopt;
  return (*days * kSecondsPerDay + hour * 3600 + minute * 60 + second) * kMicrosPerSecond + micros;
}

std::optional<int64_t> parse_date_or_timestamp(std::string_view text, bool end_of_day) {
  if (text.size() != kDateLayout.size()) return parse_timestamp(text);
  if (!matches(text, kDateLayout)) return std::nullopt;
  const std::optional<int64_t> days = date_days(text);
  if (!days) return std::nullopt;
  const int64_t first = *days * kSecondsPerDay * kMicrosPerSecond;
  return end_of_day ? first + kSecondsPerDay * kMicrosPerSecond - 1 : first;
}

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pchat::utc
