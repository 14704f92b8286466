// The room and category URI codec (protocol/xccos/chat_uri.h): build and parse round
// trip, ids with '/', and hostile or malformed URIs refused.
#include "protocol/xccos/chat_uri.h"

#include <gtest/gtest.h>

#include <string>

namespace pchat::xccos {
namespace {

TEST(ChatUri, RoomAndCategoryUrisRoundTrip) {
  EXPECT_EQ(room_uri("example.com", "GUID"), "ma-chan://example.com/GUID");
  EXPECT_EQ(category_uri("example.com", "root"), "ma-cat://example.com/root");
  for (const char* id : {"GUID", "a/b", "a//b/", "%2F", "x y", "\xC3\xA9t\xC3\xA9"}) {
    auto r = parse_room_uri(room_uri("example.com", id));
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(r->domain, "example.com");
    EXPECT_EQ(r->id, id);
    auto c = parse_category_uri(category_uri("Example.COM", id));
    ASSERT_TRUE(c) << id;
    EXPECT_EQ(c->domain, "Example.COM");
    EXPECT_EQ(c->id, id);
  }
}

TEST(ChatUri, EachParserTakesOnlyItsOwnScheme) {
  EXPECT_FALSE(parse_room_uri("ma-cat://example.com/GUID"));
  EXPECT_FALSE(parse_category_uri("ma-chan://example.com/GUID"));
}

TEST(ChatUri, MalformedAndHostileUrisAreRefused) {
  for (const char* uri :
       {"", "ma-chan:", "ma-chan:/", "ma-chan://", "ma-chan://example.com",
        "ma-chan://example.com/", "ma-chan:///GUID", "ma-chan:////", "MA-CHAN://example.com/GUID",
        "Ma-Chan://example.com/GUID", " ma-chan://example.com/GUID", "ma-chan:/example.com/GUID",
        "ma-chan:example.com/GUID", "ma-chanx://example.com/GUID", "sip:x@example.com",
        "http://example.com/GUID", "ma-chan\0://example.com/GUID"}) {
    EXPECT_FALSE(parse_room_uri(uri)) << uri;
    std::string cat(uri);
    if (cat.starts_with("ma-chan")) cat.replace(0, 7, "ma-cat");
    EXPECT_FALSE(parse_category_uri(cat)) << cat;
  }
  // A NUL inside is kept as a byte of the id, never a terminator.
  auto r = parse_room_uri(std::string_view("ma-chan://d/a\0b", 15));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, std::string("a\0b", 3));
  // A very long id is taken whole.
  const std::string long_id(100000, 'x');
  r = parse_room_uri("ma-chan://d/" + long_id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id.size(), long_id.size());
}

TEST(ChatUri, RoomIdInDomainComparesTheDomainWithoutCase) {
  EXPECT_EQ(room_id_in_domain("ma-chan://Example.COM/r1", "example.com"), "r1");
  EXPECT_EQ(room_id_in_domain("ma-chan://example.com/a/b", "EXAMPLE.com"), "a/b");
  EXPECT_FALSE(room_id_in_domain("ma-chan://example.org/r1", "example.com"));
  EXPECT_FALSE(room_id_in_domain("ma-chan://example.com.evil/r1", "example.com"));
  EXPECT_FALSE(room_id_in_domain("ma-chan://example.co/r1", "example.com"));
  EXPECT_FALSE(room_id_in_domain("ma-cat://example.com/r1", "example.com"));
  EXPECT_FALSE(room_id_in_domain("ma-chan://example.com/", "example.com"));
  EXPECT_FALSE(room_id_in_domain("ma-chan:///r1", ""));
}

}  // namespace
}  // namespace pchat::xccos
