#include "app/utc_time.h"

#include <cstdio>
#include <ctime>

namespace pchat::app {

bool parse_utc(const std::string& text, int64_t* micros, bool end_of_day) {
  std::tm tm{};
  int consumed = 0;
  int64_t frac = 0;
  bool date_only = false;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6) {
    size_t i = static_cast<size_t>(consumed);
    if (i < text.size() && text[i] == '.') {
      int digits = 0;
      for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits)
        if (digits < 6) frac = frac * 10 + (text[i] - '0');
      if (digits == 0) return false;
      for (; digits < 6; ++digits) frac *= 10;
    }
    std::string rest = text.substr(i);
    if (rest != "" && rest != "Z") return false;
  } else {
    tm = std::tm{};
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &consumed) != 3 ||
        static_cast<size_t>(consumed) != text.size())
      return false;
    date_only = true;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *micros = static_cast<int64_t>(timegm(&tm)) * 1000000 + frac;
  if (date_only && end_of_day) *micros += int64_t{86400} * 1000000 - 1;
  return true;
}

std::string format_utc(int64_t micros) {
  int64_t secs = micros / 1000000, frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

}  // namespace pchat::app
