// The followed-rooms preference (protocol/xccos/followed_rooms.h): what the web client
// writes reads back the same; whatever else a client stored yields the room URIs in it.
#include <gtest/gtest.h>

#include "protocol/xccos/followed_rooms.h"
#include "text/base64.h"

using namespace pchat::xccos;

TEST(FollowedRooms, EncodedListDecodesInOrder) {
  std::vector<std::string> rooms{"ma-chan://example.com/b", "ma-chan://example.com/a"};
  std::string v = encode_followed_rooms(rooms);
  EXPECT_EQ(pchat::text::base64_decode(v).value_or(""),
            "ma-chan://example.com/b\nma-chan://example.com/a\n");
  EXPECT_EQ(decode_followed_rooms(v), rooms);
  EXPECT_EQ(encode_followed_rooms({}), "");
  EXPECT_TRUE(decode_followed_rooms("").empty());
}

TEST(FollowedRooms, OtherClientsFormsYieldTheirRoomUrisOnce) {
  std::string xml =
      "<rooms><room uri=\"ma-chan://example.com/x\"/><room uri='ma-chan://example.com/y'/>"
      "<room uri=\"ma-chan://example.com/x\"/></rooms>";
  EXPECT_EQ(decode_followed_rooms(pchat::text::base64_encode(xml)),
            (std::vector<std::string>{"ma-chan://example.com/x", "ma-chan://example.com/y"}));
  // Not base64: read as it is. No URI at all, or a bare scheme: nothing.
  EXPECT_EQ(decode_followed_rooms("ma-chan://example.com/z, ma-chan://"),
            std::vector<std::string>{"ma-chan://example.com/z"});
  EXPECT_TRUE(decode_followed_rooms(pchat::text::base64_encode("hello")).empty());
  EXPECT_TRUE(decode_followed_rooms("%%%").empty());
}
