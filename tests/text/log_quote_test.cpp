#include "log/log.h"

#include <gtest/gtest.h>

#include <string>

namespace {
constexpr size_t kMaxQuoted = 512;  // log.cpp
}  // namespace
using pchat::log::quote;

TEST(LogQuote, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(quote("alice"), "alice");
  EXPECT_EQ(quote("a b"), "\"a b\"");
  EXPECT_EQ(quote("x\"y\n"), "\"x\\\"y\\n\"");
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote(std::string(kMaxQuoted, 'a')), std::string(kMaxQuoted, 'a'));
}

TEST(LogQuote, ALongValueIsCutAndSaysHowMuchWasLeftOut) {
  std::string q = quote(std::string(100000, 'a'));
  EXPECT_EQ(q, "\"" + std::string(kMaxQuoted, 'a') + "... (" + std::to_string(100000 - kMaxQuoted) + " more bytes)\"");
  // Never inside a UTF-8 character: "é" is two bytes, one straddling the cut.
  std::string accents = std::string(kMaxQuoted - 1, 'a') + "\xC3\xA9" + "tail";
  q = quote(accents);
  EXPECT_EQ(q.substr(0, kMaxQuoted), "\"" + std::string(kMaxQuoted - 1, 'a'));
  EXPECT_NE(q.find("... (6 more bytes)"), std::string::npos) << q;
}
