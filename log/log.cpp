#include "log/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace pchat::log {

bool set_level(std::string_view name) {
  level l;
  if (name == "debug") l = level::debug;
  else if (name == "info") l = level::info;
  else if (name == "warn") l = level::warn;
  else if (name == "error") l = level::error;
  else if (name == "off") l = level::off;
  else return false;
  threshold().store(static_cast<int>(l));
  return true;
}

std::string quote(std::string_view v) {
  bool plain = !v.empty();
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
  return out + "\"";
}

void write(level l, std::string_view component, std::string_view message, std::string_view fields) {
  static const char* names[] = {"debug", "info", "warn", "error", "off"};
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
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
