// The entry rule (check) and the exit repair (repair) of text/valid_text.h, one code
// point class at a time, including every boundary of the UTF-8 and XML 1.0 ranges.
#include "text/valid_text.h"

#include <gtest/gtest.h>

#include <string>

namespace pchat::text {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// UTF-8 encoding of any value (also surrogates, to build invalid input on purpose).
std::string enc(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(ValidText, AcceptsEveryXmlCharacterExceptDelAndC1) {
  for (uint32_t cp : {0x9u, 0xAu, 0xDu, 0x20u, 0x7Eu, 0xA0u, 0xFFu, 0x7FFu, 0x800u, 0xD7FFu,
                      0xE000u, 0xFFFDu, 0x10000u, 0x1F600u, 0x10FFFFu}) {
    EXPECT_TRUE(valid("a" + enc(cp) + "b")) << code_point_name(cp);
    EXPECT_EQ(repair(enc(cp)), enc(cp)) << code_point_name(cp);
  }
  EXPECT_TRUE(valid(""));
}

TEST(ValidText, RefusesControlsNoncharactersAndSurrogatesWithTheirPosition) {
  for (uint32_t cp :
       {0x0u, 0x1u, 0x8u, 0xBu, 0xCu, 0xEu, 0x1Fu, 0x7Fu, 0x80u, 0x85u, 0x9Fu, 0xFFFEu, 0xFFFFu}) {
    problem p = check("ab" + enc(cp));
    EXPECT_EQ(p.offset, 2u) << code_point_name(cp);
    EXPECT_EQ(p.reason, "control character " + code_point_name(cp) + " at byte 2");
  }
  // Surrogates are not characters: their encoding is invalid UTF-8.
  EXPECT_EQ(check("x" + enc(0xD800)).reason, "invalid UTF-8 at byte 1");
  EXPECT_EQ(check(enc(0xDFFF)).reason, "invalid UTF-8 at byte 0");
}

TEST(ValidText, RefusesMalformedUtf8) {
  const std::string bad[] = {
      "\xFF",
      "\xFE",
      "\x80",
      "\xBF",  // never lead bytes
      "\xC0\xAF",
      "\xC1\xBF",  // overlong 2-byte
      "\xE0\x80\xAF",
      "\xF0\x80\x80\xAF",  // overlong 3- and 4-byte
      "\xC3",
      "\xE2\x98",
      "\xF0\x9F\x98",  // truncated
      "\xC3\x41",      // lead without continuation
      "\xF4\x90\x80\x80",
      "\xF8\x88\x80\x80\x80",  // beyond U+10FFFF, 5-byte form
  };
  for (const std::string& b : bad) {
    problem p = check("ok" + b + "ok");
    EXPECT_EQ(p.offset, 2u);
    EXPECT_EQ(p.reason, "invalid UTF-8 at byte 2");
  }
}

TEST(ValidText, RepairReplacesInvalidBytesAndForbiddenCodePointsOnly) {
  EXPECT_EQ(repair("plain text"), "plain text");
  EXPECT_EQ(repair("a\xFF"
                   "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(repair("a\xC3"), "a" + kFffd);
  EXPECT_EQ(repair("nul" + std::string(1, '\0') + "x\x01\x1F"),
            "nul" + kFffd + "x" + kFffd + kFffd);
  EXPECT_EQ(repair(enc(0xFFFE) + enc(0xFFFF)), kFffd + kFffd);
  EXPECT_EQ(repair(enc(0xD800)), kFffd + kFffd + kFffd);  // one per invalid byte
  // What the entry rule refuses, repair replaces: DEL and C1 too.
  EXPECT_EQ(repair("\x7F" + enc(0x85) + "\t\r\n"), kFffd + kFffd + "\t\r\n");
  EXPECT_EQ(repair("\xC3\xA9\t"), "\xC3\xA9\t");
  // The repaired output always passes the entry rule, hence XML 1.0.
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string r = repair(all);
  for (size_t i = 0; i < r.size();) {
    uint32_t cp = 0;
    const size_t len = decode_utf8(r, i, cp);
    ASSERT_NE(len, 0u) << "byte " << i;
    EXPECT_TRUE(xml_char(cp)) << code_point_name(cp);
    i += len;
  }
  EXPECT_TRUE(valid(r)) << check(r).reason;
}

}  // namespace
}  // namespace pchat::text
