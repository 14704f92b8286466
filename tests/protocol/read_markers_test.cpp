// The read markers preference (protocol/webchat/read_markers.h).
#include <gtest/gtest.h>

#include "protocol/webchat/read_markers.h"

using namespace pchat::webchat;

TEST(ReadMarkers, EncodedMarkersDecodeTheSame) {
  std::map<std::string, uint64_t> m{{"ma-chan://example.com/a", 7}, {"ma-chan://example.com/b", 0}};
  std::string v = encode_read_markers(m);
  EXPECT_EQ(v, "7 ma-chan://example.com/a\n0 ma-chan://example.com/b\n");
  EXPECT_EQ(decode_read_markers(v), m);
  EXPECT_TRUE(decode_read_markers("").empty());
}

TEST(ReadMarkers, MalformedLinesAreSkipped) {
  auto m = decode_read_markers(
      "x ma-chan://example.com/a\n5\n 6 u\n99999999999999999999 ma-chan://example.com/c\n"
      "3 ma-chan://example.com/d");
  EXPECT_EQ(m, (std::map<std::string, uint64_t>{{"ma-chan://example.com/d", 3}}));
}
