// The key grammar of storage/keys.h: byte layout, ordering and parsing.
#include "storage/keys.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pchat::storage::keys {
namespace {

TEST(Keys, MessageKeyIsRoomIdNulThenBigEndianSequence) {
  std::string k = message_key("r", 0x0102030405060708ULL);
  EXPECT_EQ(k, std::string("r\0\x01\x02\x03\x04\x05\x06\x07\x08", 10));
}

TEST(Keys, DirectoryKeysUseTheirTagBytes) {
  EXPECT_EQ(category_key("cat"), "Ccat");
  EXPECT_EQ(room_key("room"), "Rroom");
  EXPECT_EQ(pref_key("sip:a@b", "followed"), std::string("sip:a@b\0followed", 16));
  EXPECT_EQ(config_key(kDefaultChatHistory), "DefaultChatHistory");
}

TEST(Keys, BigEndianSequencesSortInNumericOrder) {
  const std::vector<uint64_t> seqs = {
      0, 1, 2, 255, 256, 65535, 65536, 1ULL << 32, 1ULL << 56, UINT64_MAX - 1, UINT64_MAX};
  for (size_t i = 1; i < seqs.size(); ++i) {
    EXPECT_LT(message_key("room", seqs[i - 1]), message_key("room", seqs[i]))
        << seqs[i - 1] << " vs " << seqs[i];
  }
}

TEST(Keys, Room1AndRoom10NeverInterleave) {
  // Every key of room1, even its largest sequence, sorts before every key of room10.
  EXPECT_LT(message_key("room1", UINT64_MAX), message_key("room10", 0));
  EXPECT_LT(message_key("room1", UINT64_MAX), message_range_begin("room10"));
  // room1's range holds none of room10's keys, and vice versa.
  for (uint64_t seq : {uint64_t{0}, uint64_t{1}, UINT64_MAX}) {
    std::string k10 = message_key("room10", seq);
    EXPECT_FALSE(k10 >= message_range_begin("room1") && k10 < message_range_end("room1"));
    std::string k1 = message_key("room1", seq);
    EXPECT_TRUE(k1 >= message_range_begin("room1") && k1 < message_range_end("room1"));
    EXPECT_FALSE(k1 >= message_range_begin("room10") && k1 < message_range_end("room10"));
  }
}

TEST(Keys, RoomRangeExcludesRoomsWhoseIdContinuesWithByte01) {
  // 0x01 is the smallest byte a longer id may continue with; it must fall outside [R 00, R 01).
  std::string other = message_key(std::string("r\x01", 2), 5);
  EXPECT_GE(other, message_range_end("r"));
}

TEST(Keys, MessageKeyRoundTrips) {
  std::string room;
  uint64_t seq = 0;
  ASSERT_TRUE(get_message_key(message_key("room-\xc3\xa9", 300), &room, &seq));
  EXPECT_EQ(room, "room-\xc3\xa9");
  EXPECT_EQ(seq, 300u);
  ASSERT_TRUE(get_message_key(message_key("r", UINT64_MAX), &room, &seq));
  EXPECT_EQ(seq, UINT64_MAX);
}

TEST(Keys, MalformedMessageKeysAreRejected) {
  std::string room;
  uint64_t seq = 0;
  EXPECT_FALSE(get_message_key("", &room, &seq));
  EXPECT_FALSE(get_message_key(std::string("\0\0\0\0\0\0\0\x01", 8), &room, &seq));  // too short
  EXPECT_FALSE(get_message_key(std::string("room\x01\0\0\0\0\0\0\0\x01", 13), &room, &seq));
  // A NUL inside the room id part contradicts the grammar.
  EXPECT_FALSE(get_message_key(std::string("a\0b\0\0\0\0\0\0\0\0\x01", 12), &room, &seq));
  EXPECT_FALSE(get_message_key(std::string("a\0", 2) + "short", &room, &seq));
}

TEST(Keys, DirectoryKeysRoundTripAndRejectOtherTags) {
  std::string id;
  ASSERT_TRUE(get_category_key(category_key("c1"), &id));
  EXPECT_EQ(id, "c1");
  ASSERT_TRUE(get_room_key(room_key("r1"), &id));
  EXPECT_EQ(id, "r1");
  EXPECT_FALSE(get_category_key(room_key("r1"), &id));
  EXPECT_FALSE(get_room_key(category_key("c1"), &id));
  EXPECT_FALSE(get_room_key("", &id));
}

TEST(Keys, DirectoryRangesSeparateCategoriesFromRooms) {
  EXPECT_GE(category_key("zzz"), category_range_begin());
  EXPECT_LT(category_key("\xff\xff"), category_range_end());
  EXPECT_GE(room_key(""), room_range_begin());
  EXPECT_LT(room_key("\xff\xff"), room_range_end());
  EXPECT_LE(category_range_end(), room_range_begin());
}

TEST(Keys, PrefKeyRoundTripsAndSplitsAtTheFirstNul) {
  std::string user, label;
  ASSERT_TRUE(get_pref_key(pref_key("sip:a@b", std::string("x\0y", 3)), &user, &label));
  EXPECT_EQ(user, "sip:a@b");
  EXPECT_EQ(label, std::string("x\0y", 3));
  ASSERT_TRUE(get_pref_key(pref_key("u", ""), &user, &label));
  EXPECT_EQ(label, "");
  EXPECT_FALSE(get_pref_key("no-separator", &user, &label));
  EXPECT_FALSE(get_pref_key(std::string("\0label", 6), &user, &label));
}

TEST(Keys, ConfigKeyIsTheSettingName) {
  std::string setting;
  ASSERT_TRUE(get_config_key(config_key(kMaxFileSizeKB), &setting));
  EXPECT_EQ(setting, "MaxFileSizeKB");
  EXPECT_FALSE(get_config_key("", &setting));
}

TEST(Keys, ValidIdsAreNonEmptyAndFreeOfNul) {
  EXPECT_TRUE(valid_id("room"));
  EXPECT_TRUE(valid_id("\x01"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id(std::string("a\0b", 3)));
}

TEST(Keys, Fixed64BigEndianRoundTripsAndRefusesShortInput) {
  std::string buf;
  put_fixed64_be(&buf, 0xdeadbeefcafef00dULL);
  put_fixed64_be(&buf, 7);
  std::string_view in = buf;
  uint64_t v = 0;
  ASSERT_TRUE(get_fixed64_be(&in, &v));
  EXPECT_EQ(v, 0xdeadbeefcafef00dULL);
  ASSERT_TRUE(get_fixed64_be(&in, &v));
  EXPECT_EQ(v, 7u);
  EXPECT_TRUE(in.empty());
  std::string_view shorter("1234567");
  EXPECT_FALSE(get_fixed64_be(&shorter, &v));
  EXPECT_EQ(shorter.size(), 7u);  // not advanced on failure
}

}  // namespace
}  // namespace pchat::storage::keys

namespace pchat::storage {
namespace {

TEST(Keys, UserGroupAddinAndInviteKeysFoldAsciiCaseAndPoliciesKeepIt) {
  EXPECT_EQ(keys::user_key("sip:Alice@Example.COM"), "Usip:alice@example.com");
  EXPECT_EQ(keys::group_key("Desk"), "Gdesk");
  EXPECT_EQ(keys::addin_key("Wiki"), "Awiki");
  EXPECT_EQ(keys::policy_key("tag:Traders"), "Ptag:Traders");
  EXPECT_EQ(keys::invite_key("sip:Bob@x", 1), keys::invite_key("sip:bob@x", 1));
  EXPECT_EQ(keys::fold_case("ÄbC"), "Äbc");  // only ASCII letters fold
}

TEST(Keys, InviteAndFileKeysRoundTripTheirIdAndStayInTheirOwnersRange) {
  uint64_t id = 0;
  std::string k = keys::invite_key("sip:bob@x", 0x0102030405060708);
  ASSERT_TRUE(keys::get_invite_key(k, &id));
  EXPECT_EQ(id, 0x0102030405060708u);
  EXPECT_FALSE(keys::get_file_key(k, &id));  // another tag
  EXPECT_LT(k, keys::invite_range_end("sip:bob@x"));
  EXPECT_GT(keys::invite_key("sip:bob@x0", 0), keys::invite_range_end("sip:bob@x"));
  std::string f = keys::file_key("room", 42);
  ASSERT_TRUE(keys::get_file_key(f, &id));
  EXPECT_EQ(id, 42u);
  EXPECT_FALSE(keys::get_file_key("Froom", &id));
}

TEST(Keys, ScopedConfigKeysAreTheSettingForGlobalAndScopeSlashSettingOtherwise) {
  EXPECT_EQ(keys::scoped_config_key("global", "MaxFileSizeKB"), "MaxFileSizeKB");
  EXPECT_EQ(keys::scoped_config_key("site:a", "MaxFileSizeKB"), "site:a/MaxFileSizeKB");
  EXPECT_EQ(keys::scoped_config_key("site:a", ""), "site:a/");  // the scope's marker
}

TEST(Keys, PrefRangeHoldsExactlyOneUsersPrefs) {
  EXPECT_GE(keys::pref_key("u", ""), keys::pref_range_begin("u"));
  EXPECT_LT(keys::pref_key("u", "\xff\xff"), keys::pref_range_end("u"));
  EXPECT_GT(keys::pref_key("u0", ""), keys::pref_range_end("u"));
}

}  // namespace
}  // namespace pchat::storage
