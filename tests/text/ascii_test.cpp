// text/ascii.h: only A-Z fold; everything else compares as it is.
#include "text/ascii.h"

#include <gtest/gtest.h>

#include <clocale>

namespace {

using pchat::text::ascii_iequal;
using pchat::text::ascii_lower;

TEST(Ascii, FoldsOnlyAsciiLetters) {
  EXPECT_TRUE(ascii_iequal("Call-ID", "call-id"));
  EXPECT_TRUE(ascii_iequal("EXAMPLE.com", "example.COM"));
  EXPECT_TRUE(ascii_iequal("", ""));
  EXPECT_FALSE(ascii_iequal("Via", "Vi"));
  EXPECT_FALSE(ascii_iequal("a", "b"));
  // Bytes outside A-Z stay as they are: Latin-1 and UTF-8 letters do not fold, and '@'
  // (0x40) / '[' (0x5B) around the letters are not letters.
  EXPECT_FALSE(ascii_iequal("\xC4", "\xE4"));
  EXPECT_FALSE(ascii_iequal("\xC3\x84", "\xC3\xA4"));
  EXPECT_FALSE(ascii_iequal("@", "`"));
  EXPECT_FALSE(ascii_iequal("[", "{"));
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('\xC4'), '\xC4');
}

TEST(Ascii, DoesNotDependOnTheLocale) {
  const char* was = std::setlocale(LC_CTYPE, nullptr);
  std::string saved = was ? was : "C";
  std::setlocale(LC_CTYPE, "C.UTF-8");
  EXPECT_TRUE(ascii_iequal("INVITE", "invite"));
  EXPECT_FALSE(ascii_iequal("\xC4", "\xE4"));
  std::setlocale(LC_CTYPE, saved.c_str());
}

static_assert(ascii_iequal("SIP/2.0", "sip/2.0"), "usable at compile time");

}  // namespace
