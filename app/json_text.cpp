#include "app/json_text.h"

#include "text/valid_text.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;

// Depth-first, so nesting is bounded here: nlohmann parses any depth without recursing,
// but a walk (and every later use of the value) recurses once per level, and a 1 MiB body
// of '[' is 1,000,000 levels (a stack overflow, found by hand).
std::string walk(const json& j, const std::string& where, int depth) {
  auto name = [&] { return where.empty() ? std::string("the body") : "field '" + where + "'"; };
  if (depth >= kMaxJsonDepth)
    return name() + ": nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (text::problem p = text::check(s); !p.ok()) return name() + ": " + p.reason;
    return "";
  }
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      const std::string path = where.empty() ? k : where + "." + k;
      if (text::problem p = text::check(k); !p.ok()) return "a key in " + name() + ": " + p.reason;
      if (std::string e = walk(v, path, depth + 1); !e.empty()) return e;
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      if (std::string e = walk(j[i], where + "[" + std::to_string(i) + "]", depth + 1); !e.empty())
        return e;
  }
  return "";
}

}  // namespace

std::string invalid_text_in(const json& j) {
  return walk(j, "", 0);
}

}  // namespace pchat::app
