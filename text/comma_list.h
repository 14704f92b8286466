// The one reader of comma-separated lists in options and query parameters
// ("a, b,,c" → {"a", "b", "c"}): items trimmed of spaces, empty items dropped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pchat::text {

std::vector<std::string> comma_list(std::string_view text);

}  // namespace pchat::text
