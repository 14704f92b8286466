// Text validity for JSON: every string (and key) of a JSON value must pass the entry rule
// of text/valid_text.h. JSON's \u escapes can carry NUL and other controls that a UTF-8
// check of the raw body alone misses. Pure: nlohmann + text, so archive import (and its
// fuzz target) use it as well as the HTTP guard (app/text_guard.h).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace pchat::app {

// Deepest nesting of arrays and objects accepted (no admin, room or archive form nests
// more than three): deeper values are refused before anything recurses through them.
constexpr int kMaxJsonDepth = 64;

// "" when every string (and key) in `j` is valid text and `j` nests at most kMaxJsonDepth
// levels; else where and what, e.g. "field 'members[2]': control character U+0001 at
// byte 4" or "the body: nested deeper than 64 levels".
std::string invalid_text_in(const nlohmann::json& j);

}  // namespace pchat::app
