// The record codec of storage/record_codec.h: round trips, then every error path.
#include "storage/record_codec.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "record_equality.h"

namespace pchat::storage {

namespace {

category_record sample_category() {
  category_record c;
  c.id = "6f1c2d3e-cat";
  c.name = "Engineering \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac";  // em dash, CJK
  c.description = "All engineering rooms";
  c.allowed_members = {"domain:example.com", "group:eng"};
  c.denied_members = {"sip:mallory@example.com"};
  c.creators = {"sip:alice@example.com"};
  c.file_upload = false;
  c.invitations = true;
  c.chat_history = false;
  return c;
}

room_record sample_room() {
  room_record r;
  r.id = "a1b2c3-room";
  r.name = "Build \xf0\x9f\x94\xa7 status";  // 4-byte UTF-8
  r.description = "CI results";
  r.category_id = "6f1c2d3e-cat";
  r.topic = std::string("binary\0topic", 12);
  r.type = room_type::auditorium;
  r.privacy = room_privacy::secret;
  r.invitations = room_invitations::off;
  r.disabled = true;
  r.addin = "https://addin.example.com/x";
  r.members = {"sip:bob@example.com", "group:eng"};
  r.managers = {"sip:alice@example.com"};
  r.presenters = {"sip:carol@example.com"};
  return r;
}

message_record sample_message() {
  message_record m;
  m.seq = 42;
  m.author = "sip:alice@example.com";
  m.ts_micros = 1700000000123456;
  m.text = "h\xc3\xa9llo <world> & \"friends\"";
  m.extra_xml = "<x xmlns=\"urn:test\"/>";
  return m;
}

std::string encoded(const room_record& r) {
  std::string s;
  put_room_record(&s, r);
  return s;
}

// ---- round trips

TEST(RecordCodec, CategoryRecordRoundTripsWithUnicodeStrings) {
  category_record in = sample_category(), out;
  std::string bytes;
  put_category_record(&bytes, in);
  ASSERT_TRUE(get_category_record(bytes, &out).is_ok());
  expect_same(in, out);
}

TEST(RecordCodec, CategoryRecordRoundTripsWithEmptyStringsAndLists) {
  category_record in, out = sample_category();
  std::string bytes;
  put_category_record(&bytes, in);
  ASSERT_TRUE(get_category_record(bytes, &out).is_ok());
  expect_same(in, out);  // lists cleared, not appended to
}

TEST(RecordCodec, RoomRecordRoundTripsWithUnicodeAndEmbeddedNul) {
  room_record in = sample_room(), out;
  ASSERT_TRUE(get_room_record(encoded(in), &out).is_ok());
  expect_same(in, out);
}

TEST(RecordCodec, RoomRecordRoundTripsWithEmptyStringsAndLists) {
  room_record in, out = sample_room();
  ASSERT_TRUE(get_room_record(encoded(in), &out).is_ok());
  expect_same(in, out);
}

TEST(RecordCodec, RoomRecordRoundTripsEveryEnumValue) {
  for (auto type : {room_type::normal, room_type::auditorium}) {
    for (auto privacy : {room_privacy::open, room_privacy::closed, room_privacy::secret}) {
      for (auto inv : {room_invitations::inherit, room_invitations::off}) {
        for (bool disabled : {false, true}) {
          room_record in = sample_room(), out;
          in.type = type;
          in.privacy = privacy;
          in.invitations = inv;
          in.disabled = disabled;
          ASSERT_TRUE(get_room_record(encoded(in), &out).is_ok());
          expect_same(in, out);
        }
      }
    }
  }
}

TEST(RecordCodec, EnumValuesAreStoredAsTheirDocumentedBytes) {
  // DO-NOT-CHANGE values from records.h must reach the disk unchanged.
  room_record r;
  r.privacy = room_privacy::secret;
  r.type = room_type::auditorium;
  r.invitations = room_invitations::off;
  std::string bytes = encoded(r);
  // version, 5 empty strings, then type, privacy, invitations.
  ASSERT_GE(bytes.size(), 9u);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 2);
  EXPECT_EQ(bytes[8], 1);
}

TEST(RecordCodec, MessageRecordRoundTripsExtremeValues) {
  for (uint64_t seq : {uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{1} << 63,
                       std::numeric_limits<uint64_t>::max()}) {
    for (int64_t ts : {int64_t{0}, int64_t{-1}, int64_t{1}, std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max(), int64_t{1700000000123456}}) {
      message_record in = sample_message(), out;
      in.seq = seq;
      in.ts_micros = ts;
      std::string bytes;
      put_message_record(&bytes, in);
      ASSERT_TRUE(get_message_record(bytes, &out).is_ok()) << seq << " " << ts;
      expect_same(in, out);
    }
  }
}

TEST(RecordCodec, MessageRecordRoundTripsEmptyStrings) {
  message_record in, out = sample_message();
  std::string bytes;
  put_message_record(&bytes, in);
  ASSERT_TRUE(get_message_record(bytes, &out).is_ok());
  expect_same(in, out);
}

TEST(RecordCodec, MessageRecordRoundTripsItsPostId) {
  for (uint64_t origin : {uint64_t{0}, uint64_t{1}, std::numeric_limits<uint64_t>::max()}) {
    for (uint64_t counter : {uint64_t{0}, uint64_t{128}, std::numeric_limits<uint64_t>::max()}) {
      message_record in = sample_message(), out;
      in.pid = {origin, counter};
      std::string bytes;
      put_message_record(&bytes, in);
      EXPECT_EQ(bytes[0], 2);  // kMessageFormatVersion
      ASSERT_TRUE(get_message_record(bytes, &out).is_ok()) << origin << " " << counter;
      expect_same(in, out);
      uint64_t seq = 0;
      post_id pid{7, 7};
      ASSERT_TRUE(get_message_post_id(bytes, &seq, &pid).is_ok());
      EXPECT_EQ(seq, in.seq);
      EXPECT_EQ(pid, in.pid);
    }
  }
}

// Messages stored before post ids (format 1, written by earlier versions) stay readable:
// the bytes here are spelled out, not produced by today's encoder.
TEST(RecordCodec, MessageRecordInFormat1IsReadWithAnEmptyPostId) {
  // version 1, seq 42, ts 3 (zigzag 6), author "a", text "hi", extra_xml ""
  const std::string v1("\x01\x2a\x06\x01" "a" "\x02" "hi" "\x00", 9);
  message_record out;
  out.pid = {9, 9};
  ASSERT_TRUE(get_message_record(v1, &out).is_ok());
  EXPECT_EQ(out.seq, 42u);
  EXPECT_EQ(out.ts_micros, 3);
  EXPECT_EQ(out.author, "a");
  EXPECT_EQ(out.text, "hi");
  EXPECT_EQ(out.extra_xml, "");
  EXPECT_TRUE(out.pid.empty());
  uint64_t seq = 0;
  post_id pid{9, 9};
  ASSERT_TRUE(get_message_post_id(v1, &seq, &pid).is_ok());
  EXPECT_EQ(seq, 42u);
  EXPECT_TRUE(pid.empty());
  // A format-2 record cut inside its post id is corruption naming the field.
  message_record m = sample_message();
  m.ts_micros = 3;  // version, seq and ts take 3 bytes; the origin 9
  m.pid = {uint64_t{1} << 62, 5};
  std::string v2;
  put_message_record(&v2, m);
  EXPECT_EQ(get_message_post_id(std::string_view(v2).substr(0, 5), &seq, &pid).reason(),
            "message record: truncated post_origin");
  EXPECT_EQ(get_message_record(std::string("\x03\x01\x00", 3), &out).reason(),
            "message record: unsupported format version 3");
}

TEST(RecordCodec, LongStringsUseMultiByteLengths) {
  message_record in = sample_message(), out;
  in.text.assign(100000, 'x');
  std::string bytes;
  put_message_record(&bytes, in);
  ASSERT_TRUE(get_message_record(bytes, &out).is_ok());
  EXPECT_EQ(out.text, in.text);
}

// ---- error paths: each one a corruption with a reason naming record and field

TEST(RecordCodec, EmptyInputIsCorruption) {
  category_record c;
  room_record r;
  message_record m;
  status sc = get_category_record("", &c), sr = get_room_record("", &r),
         sm = get_message_record("", &m);
  EXPECT_TRUE(sc.is_corruption());
  EXPECT_EQ(sc.reason(), "category record: truncated format version");
  EXPECT_EQ(sr.reason(), "room record: truncated format version");
  EXPECT_EQ(sm.reason(), "message record: truncated format version");
}

TEST(RecordCodec, UnknownFormatVersionIsCorruption) {
  std::string bytes = encoded(sample_room());
  bytes[0] = 9;
  room_record r;
  status s = get_room_record(bytes, &r);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "room record: unsupported format version 9");
}

TEST(RecordCodec, RoomRecordTruncatedInsideNameNamesTheField) {
  room_record in = sample_room();
  std::string bytes = encoded(in);
  // version, id (length byte + bytes), name length byte, then 2 bytes of the name.
  size_t cut = 1 + 1 + in.id.size() + 1 + 2;
  room_record out;
  status s = get_room_record(std::string_view(bytes).substr(0, cut), &out);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "room record: truncated name");
  EXPECT_EQ(s.to_string(), "Corruption: room record: truncated name");
}

TEST(RecordCodec, EveryTruncationOfARoomRecordIsCorruption) {
  std::string bytes = encoded(sample_room());
  for (size_t len = 0; len < bytes.size(); ++len) {
    room_record out;
    status s = get_room_record(std::string_view(bytes).substr(0, len), &out);
    EXPECT_TRUE(s.is_corruption()) << "length " << len;
    EXPECT_EQ(s.reason().rfind("room record: truncated ", 0), 0u) << s.reason();
  }
}

TEST(RecordCodec, EveryTruncationOfACategoryRecordIsCorruption) {
  std::string bytes;
  put_category_record(&bytes, sample_category());
  for (size_t len = 0; len < bytes.size(); ++len) {
    category_record out;
    status s = get_category_record(std::string_view(bytes).substr(0, len), &out);
    EXPECT_TRUE(s.is_corruption()) << "length " << len;
    EXPECT_EQ(s.reason().rfind("category record: truncated ", 0), 0u) << s.reason();
  }
}

TEST(RecordCodec, EveryTruncationOfAMessageRecordIsCorruption) {
  message_record in = sample_message();
  in.seq = std::numeric_limits<uint64_t>::max();  // a 10-byte varint to cut through
  std::string bytes;
  put_message_record(&bytes, in);
  for (size_t len = 0; len < bytes.size(); ++len) {
    message_record out;
    status s = get_message_record(std::string_view(bytes).substr(0, len), &out);
    EXPECT_TRUE(s.is_corruption()) << "length " << len;
    EXPECT_EQ(s.reason().rfind("message record: truncated ", 0), 0u) << s.reason();
  }
}

TEST(RecordCodec, TrailingBytesAreCorruption) {
  std::string bytes = encoded(sample_room()) + "xyz";
  room_record out;
  status s = get_room_record(bytes, &out);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "room record: 3 trailing bytes");
}

TEST(RecordCodec, UndefinedEnumValueIsCorruption) {
  room_record r;  // all strings empty: type, privacy, invitations at bytes 6, 7, 8
  std::string bytes = encoded(r);
  room_record out;
  std::string bad = bytes;
  bad[7] = 3;
  EXPECT_EQ(get_room_record(bad, &out).reason(), "room record: bad privacy 3");
  bad = bytes;
  bad[6] = 2;
  EXPECT_EQ(get_room_record(bad, &out).reason(), "room record: bad type 2");
  bad = bytes;
  bad[8] = static_cast<char>(0xff);
  EXPECT_EQ(get_room_record(bad, &out).reason(), "room record: bad invitations 255");
}

TEST(RecordCodec, BoolOtherThanZeroOrOneIsCorruption) {
  room_record r;
  std::string bytes = encoded(r);
  bytes[9] = 2;  // disabled
  room_record out;
  status s = get_room_record(bytes, &out);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "room record: bad disabled flag 2");
}

TEST(RecordCodec, HugeListCountIsCorruptionNotAnAllocation) {
  room_record r;
  std::string bytes = encoded(r);
  // Replace the empty members list (third from the end) with a count of 2^62.
  bytes.resize(bytes.size() - 3);
  bytes += std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
  bytes += std::string("\0\0", 2);
  room_record out;
  status s = get_room_record(bytes, &out);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "room record: truncated members");
}

TEST(RecordCodec, OverlongVarintIsCorruption) {
  std::string bytes(1, '\x01');
  bytes += std::string(11, '\xff');  // seq varint that never ends within 10 bytes
  message_record out;
  status s = get_message_record(bytes, &out);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.reason(), "message record: overlong varint in seq");
  // Ten bytes whose last one carries more than the top bit of a uint64.
  bytes = std::string(1, '\x01') + std::string(9, '\xff') + std::string(1, '\x02');
  EXPECT_EQ(get_message_record(bytes, &out).reason(), "message record: overlong varint in seq");
}

TEST(RecordCodec, RandomGarbageNeverDecodesIntoAnythingButOkOrCorruption) {
  constexpr uint32_t kSeed = 20240501;
  std::mt19937 rng(kSeed);
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  std::string valid = encoded(sample_room());
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = valid;
    // Flip a few random bytes of a valid record, so decoding gets past the version byte.
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    room_record r;
    category_record c;
    message_record m;
    status sr = get_room_record(bytes, &r);
    EXPECT_TRUE(sr.is_ok() || sr.is_corruption()) << sr.to_string();
    status sc = get_category_record(bytes, &c);
    EXPECT_TRUE(sc.is_ok() || sc.is_corruption()) << sc.to_string();
    status sm = get_message_record(bytes, &m);
    EXPECT_TRUE(sm.is_ok() || sm.is_corruption()) << sm.to_string();
  }
}

// ---- config values

TEST(RecordCodec, ConfigIntegersAreDecimalText) {
  std::string s;
  put_config_int(&s, 2097152);
  EXPECT_EQ(s, "2097152");
  int v = 0;
  ASSERT_TRUE(get_config_int("MaxFileSizeKB", s, &v).is_ok());
  EXPECT_EQ(v, 2097152);
  ASSERT_TRUE(get_config_int("X", "-7", &v).is_ok());
  EXPECT_EQ(v, -7);
}

TEST(RecordCodec, MalformedConfigIntegersAreCorruptionNamingTheSetting) {
  for (const char* bad : {"", "12a", " 5", "+5", "5 ", "99999999999", "0x10", "-"}) {
    int v = 123;
    status s = get_config_int("DefaultChatHistory", bad, &v);
    EXPECT_TRUE(s.is_corruption()) << "'" << bad << "'";
    EXPECT_EQ(s.reason(),
              std::string("config DefaultChatHistory: not a decimal int '") + bad + "'");
    EXPECT_EQ(v, 123) << "output written on failure for '" << bad << "'";
  }
}


TEST(RecordCodec, UserRecordKeepsBothHa1FormsAndFormat1IsStillRead) {
  user_record u{"sip:alice@example.com", "Alice", "aaaa", true, "london", "traders", "bbbb"};
  std::string v2;
  put_user_record(&v2, u);
  EXPECT_EQ(v2[0], '\x02');
  user_record out;
  ASSERT_TRUE(get_user_record(v2, &out).is_ok());
  EXPECT_EQ(out.ha1, "aaaa");
  EXPECT_EQ(out.ha1_user, "bbbb");
  EXPECT_EQ(out.policy, "traders");
  // Format 1 (before the user-part HA1): everything but ha1_user, which is empty.
  const std::string v1("\x01\x01" "u" "\x01" "d" "\x01" "h" "\x01\x00\x00", 10);
  out.ha1_user = "stale";
  ASSERT_TRUE(get_user_record(v1, &out).is_ok());
  EXPECT_EQ(out.uri, "u");
  EXPECT_EQ(out.ha1, "h");
  EXPECT_TRUE(out.enabled);
  EXPECT_TRUE(out.ha1_user.empty());
  // A format-1 record with format 2's extra field, and a format-2 one without it: corrupt.
  EXPECT_FALSE(get_user_record(std::string("\x01\x01" "u" "\x01" "d" "\x01" "h" "\x01\x00\x00\x00", 11), &out).is_ok());
  EXPECT_FALSE(get_user_record(std::string("\x02\x01" "u" "\x01" "d" "\x01" "h" "\x01\x00\x00", 10), &out).is_ok());
}

}  // namespace
}  // namespace pchat::storage
