#include "text/base64.h"

#include <gtest/gtest.h>

#include <string>

using pchat::text::base64_decode;
using pchat::text::base64_encode;

TEST(Base64, Rfc4648Vectors) {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},
                                                   {"fo", "Zm8="},   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : v) {
    EXPECT_EQ(base64_encode(plain), coded);
    EXPECT_EQ(base64_decode(coded), std::string(plain));
  }
}

TEST(Base64, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    auto s = all.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(s)), s) << n;
  }
}

TEST(Base64, PaddingIsOptional) {
  EXPECT_EQ(base64_decode("Zg"), std::string("f"));
  EXPECT_EQ(base64_decode("Zm8"), std::string("fo"));
}

TEST(Base64, GarbageIsRefused) {
  EXPECT_FALSE(base64_decode("Zm9v YmFy"));  // white space
  EXPECT_FALSE(base64_decode("Zm9v-_"));     // URL-safe alphabet
  EXPECT_FALSE(base64_decode("Zg==Zg=="));   // data after padding
  EXPECT_FALSE(base64_decode("Zm9vY"));      // 4n+1 characters: no encoding has them
  EXPECT_FALSE(base64_decode("Zm8=="));      // padding that completes no group
  EXPECT_FALSE(base64_decode("==="));
  EXPECT_FALSE(base64_decode(std::string("Zm\0v", 4)));
}
