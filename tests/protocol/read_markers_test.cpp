// The web client's preference formats (protocol/webchat): read markers, topic feeds.
#include <gtest/gtest.h>

#include "protocol/webchat/read_markers.h"
#include "protocol/webchat/topic_feeds.h"

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

TEST(TopicFeeds, EncodedFeedsDecodeTheSameAndBadEntriesAreSkipped) {
  std::vector<topic_feed> f{{1, "zebra", "", 5}, {2, "", "sip:bob@example.com", 7}};
  EXPECT_EQ(decode_topic_feeds(encode_topic_feeds(f)), f);
  EXPECT_TRUE(decode_topic_feeds("").empty());
  EXPECT_TRUE(decode_topic_feeds("{}").empty());
  EXPECT_EQ(decode_topic_feeds(R"([{"id":3,"q":"x"},{"q":"no id"},{"id":4},5])").size(), 1u);
}
