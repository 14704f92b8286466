#include "log/log.h"

#include "text/utc_time.h"

#include <unistd.h>

#include <cstdio>

namespace pchat::log {

std::optional<level> parse_level(std::string_view name) {
  if (name == "debug") return level::debug;
  if (name == "info") return level::info;
  if (name == "warn") return level::warn;
  if (name == "error") return level::error;
  if (name == "off") return level::off;
  return std::nullopt;
}

bool set_level(std::string_view name) {
  std::optional<level> l = parse_level(name);
  if (!l) return false;
  threshold().store(static_cast<int>(*l));
  return true;
}

// A value longer than this (a peer's 100 KB user name) is cut, at a UTF-8 character
// boundary, saying how much was left out: one log line stays one screen.
constexpr size_t kMaxQuoted = 512;

std::string quote(std::string_view v) {
  size_t left_out = 0;
  if (v.size() > kMaxQuoted) {
    size_t cut = kMaxQuoted;
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;
    left_out = v.size() - cut;
    v = v.substr(0, cut);
  }
  bool plain = !v.empty() && left_out == 0;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) plain = false;
  if (plain) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (static_cast<unsigned char>(c) < 0x20) out += '?';
    else out += c;
  }
  if (left_out > 0) out += "... (" + std::to_string(left_out) + " more bytes)";
  return out + "\"";
}

void write(level l, std::string_view component, std::string_view message, std::string_view fields) {
  static const char* names[] = {"debug", "info", "warn", "error", "off"};
  const std::string ts = utc::log_timestamp(utc::now_micros());
  std::string line;
  line.reserve(96 + message.size() + fields.size());
  line.append("ts=").append(ts).append(" level=").append(names[static_cast<int>(l)]);
  line.append(" comp=").append(component).append(" msg=").append(quote(message));
  if (!fields.empty()) line.append(" ").append(fields);
  line.append("\n");
  ssize_t rc = ::write(2, line.data(), line.size());
  (void)rc;
}

}  // namespace pchat::log
