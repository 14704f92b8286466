// UTC date text <-> microseconds since the Unix epoch, for the admin API's query fields and
// the archive format. Accepted: "YYYY-MM-DD" and "YYYY-MM-DDTHH:MM:SS[.ffffff][Z]".
#pragma once

#include <cstdint>
#include <string>

namespace pchat::app {

// False if `text` is neither form. A date alone means its first microsecond; with
// end_of_day it means its last one (so "to=2024-05-01" includes that whole day).
bool parse_utc(const std::string& text, int64_t* micros, bool end_of_day = false);
// "YYYY-MM-DDTHH:MM:SS.ffffffZ" (microseconds kept, so parse_utc(format_utc(t)) == t).
std::string format_utc(int64_t micros);

}  // namespace pchat::app
