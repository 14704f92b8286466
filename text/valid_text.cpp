#include "text/valid_text.h"

#include <cstdio>

namespace pchat::text {

size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t len;
  uint32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool xml_char(uint32_t cp) {
  if (cp < 0x20) return cp == 0x9 || cp == 0xA || cp == 0xD;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return cp != 0xFFFE && cp != 0xFFFF && cp <= 0x10FFFF;
}

bool allowed_on_entry(uint32_t cp) {
  return xml_char(cp) && !(cp >= 0x7F && cp <= 0x9F);
}

std::string code_point_name(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

problem check(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // ASCII fast path: most text is plain ASCII.
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F) {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = decode_utf8(s, i, cp);
    if (len == 0) return {i, "invalid UTF-8 at byte " + std::to_string(i)};
    if (!allowed_on_entry(cp)) {
      return {i, "control character " + code_point_name(cp) + " at byte " + std::to_string(i)};
    }
    i += len;
  }
  return {};
}

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the next run that needs no repair, starting at i; stops at the first
// offending byte.
size_t clean_run(std::string_view s, size_t i) {
  const size_t start = i;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F) {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = decode_utf8(s, i, cp);
    if (len == 0 || !allowed_on_entry(cp)) break;
    i += len;
  }
  return i - start;
}
}  // namespace

std::string repair(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t run = clean_run(s, i);
    out.append(s.substr(i, run));
    i += run;
    if (i >= s.size()) break;
    uint32_t cp = 0;
    const size_t len = decode_utf8(s, i, cp);
    out.append(kReplacement);
    i += len == 0 ? 1 : len;  // an invalid byte alone, or the whole forbidden code point
  }
  return out;
}

}  // namespace pchat::text
