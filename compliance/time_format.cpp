#include "compliance/time_format.h"

#include <cstdio>
#include <ctime>

namespace pchat::compliance {

utc_time encode_utc(int64_t micros) {
  utc_time t;
  // Floor division keeps the encodings consistent even for a (bad) negative clock value.
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t frac_us = micros - secs * 1000000;
  t.since1970_ms = secs * 1000 + frac_us / 1000;
  t.ticks = kUnixEpochTicks + micros * 10;
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%07lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac_us * 10));
  t.iso = buf;
  return t;
}

}  // namespace pchat::compliance
