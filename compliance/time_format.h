// The three encodings of one instant used by the compliance output (reference §4.4,
// DateTimeUTC / StartTimeUTC / EndTimeUTC):
//
//   since1970  milliseconds since 1970-01-01T00:00:00Z            e.g. 1212610540953
//   string     ISO-8601 UTC, 7 fractional digits, 'Z'             e.g. 2008-06-04T20:15:40.9535482Z
//   long       .NET ticks: 100 ns units since 0001-01-01T00:00:00  e.g. 633482073409535482
//
// Our clock has microseconds, so the 7th fractional digit and the last tick digit are 0.
// The three values are computed from the same microsecond count and always agree.
#pragma once

#include <cstdint>
#include <string>

namespace pchat::compliance {

// Ticks between 0001-01-01 and 1970-01-01 (DateTime(1970,1,1).Ticks in .NET).
inline constexpr int64_t kUnixEpochTicks = 621355968000000000;

struct utc_time {
  int64_t since1970_ms = 0;
  std::string iso;  // the `string` attribute
  int64_t ticks = 0;
};

// REQUIRES: micros >= 0 (events carry server clock times after 1970).
utc_time encode_utc(int64_t micros_since_epoch);

}  // namespace pchat::compliance
