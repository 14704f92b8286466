// UTC instants as text: the one codec for every timestamp pchat writes or reads.
// An instant is microseconds since 1970-01-01T00:00:00Z (the server clock's resolution).
//
// Formats, each named for who uses it (ISO 8601, UTC, always with 'Z'):
//   xccos_timestamp    2008-06-04T20:15:40.9535480Z  7 digits (100 ns; the 7th is 0): XCCOS ts
//                      and serverTime, the compliance XML `string` attribute, CSV "Time UTC"
//   json_timestamp     2008-06-04T20:15:40.953548Z   6 digits: admin API and archive JSON
//   log_timestamp      2008-06-04T20:15:40.953Z      3 digits: log lines
//   seconds_timestamp  2008-06-04T20:15:40Z          no fraction: admin status times, the
//                                                    test client's grpchat ts
// and the two numbers compliance output carries beside the text (reference §4.4):
//   unix_millis        1212610540953                 milliseconds since 1970 (since1970)
//   dotnet_ticks       633482073409535480            100 ns since 0001-01-01 (long)
//
// Every format clamps to years 0000..9999, so its output always parses again; within that
// range parse_timestamp(json_timestamp(t)) == t and parse_timestamp(xccos_timestamp(t)) == t.
// Times before 1970 are floored (-1 µs is 1969-12-31T23:59:59.999999Z).
//
// Thread safety: pure functions (no gmtime/timegm, no locale, no time zone).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pchat::utc {

// Ticks between 0001-01-01 and 1970-01-01 (DateTime(1970,1,1).Ticks in .NET).
inline constexpr int64_t kUnixEpochTicks = 621355968000000000;

std::string xccos_timestamp(int64_t micros);
std::string json_timestamp(int64_t micros);
std::string log_timestamp(int64_t micros);
std::string seconds_timestamp(int64_t micros);
int64_t unix_millis(int64_t micros);
int64_t dotnet_ticks(int64_t micros);

// Reads "YYYY-MM-DDTHH:MM:SS", then an optional '.' and one or more digits (beyond 6 are
// truncated), then an optional 'Z'; nothing else (no spaces, no offsets, no lower-case z,
// a real calendar date, hours 0..23, minutes and seconds 0..59). nullopt otherwise.
std::optional<int64_t> parse_timestamp(std::string_view text);

// The admin API's and the archive's query fields: parse_timestamp's form, or a date alone
// "YYYY-MM-DD", which means its first microsecond, or with end_of_day its last one (so
// "to=2024-05-01" includes that whole day). nullopt when it is neither.
std::optional<int64_t> parse_date_or_timestamp(std::string_view text, bool end_of_day = false);

// The system clock now, in microseconds since 1970.
int64_t now_micros();

}  // namespace pchat::utc
