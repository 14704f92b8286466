// Text rules shared by the SIP parsers: header names compare case-insensitively (ASCII),
// and values are trimmed of spaces, tabs and a trailing CR.
#pragma once

#include <string_view>

#include "text/ascii.h"

namespace pchat::sip {

using text::ascii_iequal;  // header names and methods compare case-insensitively (ASCII)

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace pchat::sip
