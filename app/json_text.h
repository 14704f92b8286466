// Text validity for JSON: every string (and key) of a JSON value must pass the entry rule
// of text/valid_text.h. JSON's \u escapes can carry NUL and other controls that a UTF-8
// check of the raw body alone misses. Pure: nlohmann + text, so archive import (and its
// fuzz target) use it as well as the HTTP guard (app/text_guard.h).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace pchat::app {

// "" when every string (and key) in `j` is valid text; else where and what, e.g.
// "field 'members[2]': control character U+0001 at byte 4".
std::string invalid_text_in(const nlohmann::json& j);

}  // namespace pchat::app
