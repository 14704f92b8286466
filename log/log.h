// Structured, quiet-by-default logging shared by every layer.
//
// One line per event on stderr: `ts=... level=warn comp=sip msg="..." key=value ...`.
// The level is process-wide (set once at start-up from --log-level or PCHAT_LOG_LEVEL);
// default `warn`, so a healthy server prints nothing but its start-up lines.
// Thread-safe: each line is written with a single write(2).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

namespace pchat::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

inline std::atomic<int>& threshold() {
  static std::atomic<int> t{static_cast<int>(level::warn)};
  return t;
}
inline bool enabled(level l) { return static_cast<int>(l) >= threshold().load(std::memory_order_relaxed); }
// Parses "debug|info|warn|error|off"; returns false for anything else.
bool set_level(std::string_view name);
// The level a name means (debug, info, warn, error, off), or nullopt; sets nothing.
std::optional<level> parse_level(std::string_view name);
// Writes one line. `fields` is preformatted `key=value key2="v 2"` text (may be empty).
void write(level l, std::string_view component, std::string_view message, std::string_view fields = {});
// Quotes a value for a key=value field when needed; cuts one over 512 bytes (log.cpp).
std::string quote(std::string_view v);

}  // namespace pchat::log

#define PCHAT_LOG(lvl, comp, msg, fields)                                   \
  do {                                                                      \
    if (::pchat::log::enabled(::pchat::log::level::lvl))                    \
      ::pchat::log::write(::pchat::log::level::lvl, comp, msg, fields);     \
  } while (0)
