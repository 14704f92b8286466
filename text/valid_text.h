// Valid text: the one rule for every string pchat accepts from outside (XCCOS posts and
// attributes, admin and room-management JSON, archive import) and the one repair for
// every string it writes out of storage (XCCOS replies, compliance files, exports).
//
// Entry rule (check): the bytes are well-formed UTF-8 (shortest form, no surrogates
// U+D800..U+DFFF, nothing above U+10FFFF) and every code point is a character XML 1.0
// allows (Char: TAB, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF), minus
// DEL and the C1 controls U+007F..U+009F, which XML 1.0 permits but discourages (§2.2):
// in chat text they are always mojibake or an attempt to hide something, and refusing
// them keeps stored text valid XML 1.1 as well.
//
// Exit repair (repair): whatever the entry rule refuses becomes U+FFFD: each byte that is
// not part of a well-formed UTF-8 sequence, and each refused code point. Such text can only
// come from a record written before the entry rule existed; repaired text passes check(),
// so it can be written as XML 1.0 and imported again.
//
// Thread safety: pure functions. Cost: linear in the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pchat::text {

// Decodes the UTF-8 sequence starting at s[i] (REQUIRES: i < s.size()). Returns its length
// (1..4) and sets `cp`, or returns 0 when the bytes there are not a well-formed sequence
// (overlong, surrogate, above U+10FFFF, truncated, stray continuation byte).
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp);

// XML 1.0 Char production.
bool xml_char(uint32_t cp);
// The entry rule for one code point: xml_char() and not DEL/C1.
bool allowed_on_entry(uint32_t cp);

// What is wrong with a string; ok() when nothing is.
struct problem {
  size_t offset = 0;   // byte offset of the first offending sequence
  std::string reason;  // e.g. "invalid UTF-8 at byte 3", "control character U+0001 at byte 4"
  bool ok() const { return reason.empty(); }
};

// The entry rule over a whole string. Returns the first problem.
problem check(std::string_view s);
inline bool valid(std::string_view s) {
  return check(s).ok();
}

// The exit repair; repair(s) == s exactly when valid(s).
std::string repair(std::string_view s);

// "U+0001" style name of a code point, for error messages.
std::string code_point_name(uint32_t cp);

}  // namespace pchat::text
