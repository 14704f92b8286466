// ASCII case rules for protocol tokens: SIP header names and methods, XCCOS element,
// attribute and command names, domains. Only A-Z fold to a-z, whatever the locale (a
// protocol token never changes meaning with the process's locale).
#pragma once

#include <cstddef>
#include <string_view>

namespace pchat::text {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// True if a and b are equal once A-Z are folded to a-z.
constexpr bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace pchat::text
