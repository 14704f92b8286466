#include "app/json_text.h"

#include "text/valid_text.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;

// Depth-first; nlohmann's parser already bounds nesting by the body size.
std::string walk(const json& j, const std::string& where) {
  auto name = [&] { return where.empty() ? std::string("the body") : "field '" + where + "'"; };
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (text::problem p = text::check(s); !p.ok()) return name() + ": " + p.reason;
    return "";
  }
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      const std::string path = where.empty() ? k : where + "." + k;
      if (text::problem p = text::check(k); !p.ok()) return "a key in " + name() + ": " + p.reason;
      if (std::string e = walk(v, path); !e.empty()) return e;
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      if (std::string e = walk(j[i], where + "[" + std::to_string(i) + "]"); !e.empty()) return e;
  }
  return "";
}

}  // namespace

std::string invalid_text_in(const json& j) {
  return walk(j, "");
}

}  // namespace pchat::app
