// XCCOS bodies found by fuzzing (tests/fuzz/fuzz_xccos.cpp), replayed through the decoder.
// Each is also kept in tests/fuzz/corpus/xccos.
#include <gtest/gtest.h>

#include <string>

#include "protocol/xccos/xccos_codec.h"
#include "text/valid_text.h"

using namespace pchat::xccos;

namespace {

std::string post(const std::string& chan_uri_tail, const std::string& chat) {
  return "<xccos ver=\"1\" envid=\"1\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat id=\"grpchat\" "
         "seqid=\"1\" chanUri=\"ma-chan://example.com/GUID" +
         chan_uri_tail + "\" author=\"sip:alice@example.com\" ts=\"2024-05-01T12:34:56Z\"><chat>" + chat +
         "</chat></grpchat></xccos>";
}

}  // namespace

// tinyxml2 9.0 skips the '&' of an unknown entity without copying it once an earlier
// reference shortened the text in place: the stale byte left there split a UTF-8 sequence,
// so a valid body decoded to invalid text that would have been stored and fanned out.
TEST(XccosFuzzInputs, AnAmpersandThatStartsNoReferenceIsRefused) {
  for (const std::string chat : {"caf\xc3\xa9 &lt;b&gf\xc3\xa9 \xe2\x82\xac &lt@b&gt;", "a & b", "&nbsp;", "x&"}) {
    command c;
    pchat::status st = decode(post("", chat), c);
    EXPECT_FALSE(st.is_ok()) << chat;
    EXPECT_NE(st.reason().find("starts no entity or character reference"), std::string::npos) << st.reason();
  }
  command c;
  pchat::status st = decode(post("&amp;x", "a &amp; b &lt;&gt;&quot;&apos; &#233; &#x20AC;"), c);
  ASSERT_TRUE(st.is_ok()) << st.reason();
  EXPECT_EQ(c.chat.text, "a & b <>\"' \xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(c.chat.chan_uri, "ma-chan://example.com/GUID&x");
}

TEST(XccosFuzzInputs, InvalidUtf8InAnAttributeIsRefused) {
  command c;
  pchat::status st = decode(post("* \xe0" "autho67Z", "text"), c);
  EXPECT_FALSE(st.is_ok());
  EXPECT_TRUE(c.chat.chan_uri.empty());
}
