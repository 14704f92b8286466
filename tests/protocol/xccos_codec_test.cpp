// Tests for the XCCOS codec. Client bodies are the exact examples from
// docs/reference xccos-wire.md (what sipe sends); encoder output is checked by parsing
// it back with tinyxml2, plus a few byte-exact comparisons where the wire shape matters.
#include "protocol/xccos/xccos_codec.h"

#include <gtest/gtest.h>
#include <tinyxml2.h>

#include <chrono>
#include <ctime>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace pchat::xccos {
namespace {

constexpr const char* kNs = "urn:parlano:xml:ns:xccos";

std::string envelope(const std::string& inner, const std::string& envid = "123456789") {
  return "<xccos ver=\"1\" envid=\"" + envid + "\" xmlns=\"urn:parlano:xml:ns:xccos\">" + inner +
         "</xccos>";
}

std::string cmd(const std::string& id, const std::string& data) {
  return envelope("<cmd id=\"" + id + "\" seqid=\"1\"><data>" + data + "</data></cmd>");
}

command decode_ok(const std::string& body) {
  command c;
  pchat::status st = decode(body, c);
  EXPECT_TRUE(st.is_ok()) << st.reason() << "\nbody: " << body;
  return c;
}

pchat::status decode_err(const std::string& body, command& c) {
  pchat::status st = decode(body, c);
  EXPECT_FALSE(st.is_ok()) << "body: " << body;
  EXPECT_FALSE(st.reason().empty());
  return st;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

// Parses encoder output and checks the envelope rules every server body must follow.
class parsed {
 public:
  explicit parsed(const std::string& xml) : xml_(xml) {
    ok_ = doc_.Parse(xml.data(), xml.size()) == tinyxml2::XML_SUCCESS;
    EXPECT_TRUE(ok_) << doc_.ErrorName() << " in " << xml;
    EXPECT_EQ(xml.rfind("<xccos ver=\"1\" envid=\"", 0), 0u) << "no declaration, envelope first";
    EXPECT_FALSE(std::regex_search(xml, std::regex(">\\s+<"))) << "whitespace between elements";
    if (ok_) {
      EXPECT_STREQ(root()->Name(), "xccos");
      EXPECT_STREQ(root()->Attribute("xmlns"), kNs);
      EXPECT_STREQ(root()->Attribute("ver"), "1");
    }
  }
  bool ok() const { return ok_; }
  const tinyxml2::XMLElement* root() const { return doc_.RootElement(); }
  const tinyxml2::XMLElement* rpl() const { return root()->FirstChildElement("rpl"); }
  const tinyxml2::XMLElement* data() const { return rpl()->FirstChildElement("data"); }

  // Checks commandid / resp of an rpl.
  void expect_head(const char* id, const char* cmd_seqid, const char* cmd_envid, int code,
                   const char* text) const {
    ASSERT_NE(rpl(), nullptr) << xml_;
    EXPECT_STREQ(rpl()->Attribute("id"), id);
    EXPECT_STREQ(rpl()->Attribute("seqid"), "1");
    const auto* first = rpl()->FirstChildElement();
    ASSERT_NE(first, nullptr);
    EXPECT_STREQ(first->Name(), "commandid") << "commandid comes first";
    EXPECT_STREQ(first->Attribute("seqid"), cmd_seqid);
    EXPECT_STREQ(first->Attribute("envid"), cmd_envid);
    const auto* resp = first->NextSiblingElement();
    ASSERT_NE(resp, nullptr);
    EXPECT_STREQ(resp->Name(), "resp");
    EXPECT_EQ(resp->IntAttribute("code"), code);
    EXPECT_STREQ(resp->GetText(), text);
    const auto* data = resp->NextSiblingElement();
    ASSERT_NE(data, nullptr);
    EXPECT_STREQ(data->Name(), "data");
    EXPECT_EQ(data->NextSiblingElement(), nullptr);
  }

 private:
  std::string xml_;
  tinyxml2::XMLDocument doc_;
  bool ok_ = false;
};

reply_head head(const char* id) {
  reply_head h;
  h.id = id;
  h.cmd_envid = "123456789";
  h.cmd_seqid = "1";
  h.envid = 7962449779256945056ull;
  return h;
}

// ---------------------------------------------------------------------------
// Decoding the exact client examples.

TEST(XccosDecode, RequriExampleYieldsEnvelopeAddressing) {
  command c = decode_ok(
      "<xccos ver=\"1\" envid=\"123456789\" xmlns=\"urn:parlano:xml:ns:xccos\"><cmd "
      "id=\"cmd:requri\" seqid=\"1\"><data/></cmd></xccos>");
  EXPECT_EQ(c.kind, command_kind::requri);
  EXPECT_EQ(c.id, "cmd:requri");
  EXPECT_EQ(c.envid, "123456789");
  EXPECT_EQ(c.seqid, "1");
}

TEST(XccosDecode, ChansrchExampleYieldsQtypeAndEmptyCriteria) {
  command c = decode_ok(
      envelope("<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"\" "
               "extended=\"false\"/></data></cmd>"));
  EXPECT_EQ(c.kind, command_kind::chansrch);
  EXPECT_EQ(c.qtype, "BYNAME");
  EXPECT_EQ(c.criteria, "");
}

TEST(XccosDecode, JoinExampleRebuildsCanonicalRoomUri) {
  command c = decode_ok(
      envelope("<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" domain=\"example.com\" "
               "value=\"GUID\"/></data></cmd>"));
  EXPECT_EQ(c.kind, command_kind::join);
  ASSERT_EQ(c.rooms.size(), 1u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/GUID");
  EXPECT_EQ(c.rooms[0].key, "0");
}

TEST(XccosDecode, JoinValueMayContainSlashes) {
  command c =
      decode_ok(cmd("cmd:join", "<chanid key=\"0\" domain=\"example.com\" value=\"a/b/c\"/>"));
  ASSERT_EQ(c.rooms.size(), 1u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/a/b/c");
}

TEST(XccosDecode, BjoinExampleWithWhitespaceYieldsAllRoomsInOrder) {
  command c =
      decode_ok(envelope("<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>\n"
                         "  <chanid key=\"0\" domain=\"example.com\" value=\"GUID-A\"/>\n"
                         "  <chanid key=\"1\" domain=\"example.com\" value=\"GUID-B\"/>\n"
                         "</data></cmd>"));
  EXPECT_EQ(c.kind, command_kind::bjoin);
  ASSERT_EQ(c.rooms.size(), 2u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/GUID-A");
  EXPECT_EQ(c.rooms[0].key, "0");
  EXPECT_EQ(c.rooms[1].uri, "ma-chan://example.com/GUID-B");
  EXPECT_EQ(c.rooms[1].key, "1");
}

TEST(XccosDecode, PartExampleYieldsRoomUri) {
  command c =
      decode_ok(envelope("<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib "
                         "uri=\"ma-chan://example.com/GUID\"/></data></cmd>"));
  EXPECT_EQ(c.kind, command_kind::part);
  ASSERT_EQ(c.rooms.size(), 1u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/GUID");
}

TEST(XccosDecode, BccontextExampleYieldsRoomAndHistoryCount) {
  command c = decode_ok(
      envelope("<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib "
               "uri=\"ma-chan://example.com/GUID\"/><bcq><last cnt=\"25\"/></bcq></data></cmd>"));
  EXPECT_EQ(c.kind, command_kind::bccontext);
  ASSERT_EQ(c.rooms.size(), 1u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/GUID");
  EXPECT_EQ(c.history_count, 25);
}

TEST(XccosDecode, BccontextWithoutQueryHasZeroHistoryCount) {
  command c = decode_ok(cmd("cmd:bccontext", "<chanib uri=\"ma-chan://example.com/GUID\"/>"));
  EXPECT_EQ(c.history_count, 0);
}

TEST(XccosDecode, GetinvExampleYieldsInvites) {
  command c =
      decode_ok(envelope("<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"1\" "
                         "domain=\"example.com\"/></data></cmd>"));
  EXPECT_EQ(c.kind, command_kind::getinv);
  ASSERT_EQ(c.invites.size(), 1u);
  EXPECT_EQ(c.invites[0].invite_id, "1");
  EXPECT_EQ(c.invites[0].domain, "example.com");
}

TEST(XccosDecode, GetprefExampleYieldsLabelSeqidAndCreateDefault) {
  command c = decode_ok(cmd(
      "cmd:getpref", "<pref label=\"kedzie.GroupChannels\" seqid=\"71\" createdefault=\"true\"/>"));
  EXPECT_EQ(c.kind, command_kind::getpref);
  EXPECT_EQ(c.pref_label, "kedzie.GroupChannels");
  EXPECT_EQ(c.pref_seqid, "71");
  EXPECT_TRUE(c.pref_create_default);
  EXPECT_EQ(c.pref_content, "");
}

TEST(XccosDecode, SetprefExampleYieldsContent) {
  command c = decode_ok(cmd("cmd:setpref",
                            "<pref label=\"kedzie.GroupChannels\" seqid=\"72\" "
                            "createdefault=\"false\" content=\"aGVsbG8=\"/>"));
  EXPECT_EQ(c.kind, command_kind::setpref);
  EXPECT_EQ(c.pref_seqid, "72");
  EXPECT_EQ(c.pref_content, "aGVsbG8=");
  EXPECT_FALSE(c.pref_create_default);
}

TEST(XccosDecode, GetserverinfoExampleYieldsInfoType) {
  command c = decode_ok(cmd("cmd:getserverinfo", "<sib domain=\"example.com\" infoType=\"123\"/>"));
  EXPECT_EQ(c.kind, command_kind::getserverinfo);
  EXPECT_EQ(c.info_type, "123");
}

TEST(XccosDecode, GrpchatExampleUnescapesTextAndNormalisesCrlf) {
  // The example from 5.6, with the CRLF sipe puts between lines. XML 1.0 (2.11) folds a
  // literal CRLF into LF, as libxml2 in sipe does when it receives our push.
  command c = decode_ok(envelope(
      "<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://example.com/GUID\"\n"
      "         author=\"sip:alice@example.com\" ts=\"2024-05-01T12:34:56Z\"><chat>Hello &amp; "
      "welcome\r\nsecond line</chat></grpchat>"));
  EXPECT_EQ(c.kind, command_kind::grpchat);
  EXPECT_EQ(c.id, "grpchat");
  EXPECT_EQ(c.seqid, "1");
  EXPECT_EQ(c.chat.chan_uri, "ma-chan://example.com/GUID");
  EXPECT_EQ(c.chat.author, "sip:alice@example.com");
  EXPECT_EQ(c.chat.ts, "2024-05-01T12:34:56Z");
  EXPECT_EQ(c.chat.text, "Hello & welcome\nsecond line");
  EXPECT_EQ(c.chat.extra_xml, "");
}

TEST(XccosDecode, GrpchatKeepsEscapedCarriageReturnAndCdata) {
  command c = decode_ok(
      envelope("<grpchat id=\"grpchat\" chanUri=\"ma-chan://d/r\"><chat>a&#13;&#10;b<![CDATA[<c>]]>"
               "</chat></grpchat>"));
  EXPECT_EQ(c.chat.text, "a\r\nb<c>");
}

TEST(XccosDecode, GrpchatKeepsOtherChildrenAsExtraXml) {
  command c = decode_ok(
      envelope("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/r\" author=\"sip:a@d\" "
               "ts=\"2024-05-01T12:34:56Z\"><chat>hi</chat><rtf fmt=\"x\">{\\rtf1 a &amp; b}</rtf>"
               "<meta/></grpchat>"));
  EXPECT_EQ(c.chat.text, "hi");
  EXPECT_EQ(c.chat.extra_xml, "<rtf fmt=\"x\">{\\rtf1 a &amp; b}</rtf><meta/>");
}

TEST(XccosDecode, UnknownCommandIdIsAcceptedAsUnknown) {
  command c = decode_ok(cmd("cmd:getassociations", ""));
  EXPECT_EQ(c.kind, command_kind::unknown);
  EXPECT_EQ(c.id, "cmd:getassociations");
  EXPECT_EQ(c.envid, "123456789");
}

TEST(XccosDecode, NodesPermCreateChildHasNoData) {
  command c = decode_ok(cmd("cmd:nodespermcreatechild", ""));
  EXPECT_EQ(c.kind, command_kind::nodespermcreatechild);
  EXPECT_EQ(c.id, "cmd:nodespermcreatechild");
}

TEST(XccosDecode, CommandIdsAreCaseInsensitive) {
  command c = decode_ok(cmd("CMD:Join", "<chanid key=\"0\" domain=\"d\" value=\"v\"/>"));
  EXPECT_EQ(c.kind, command_kind::join);
  EXPECT_EQ(c.id, "CMD:Join") << "id is kept as sent";
}

TEST(XccosDecode, NamespacePrefixesAreStripped) {
  command c = decode_ok(
      "<x:xccos xmlns:x=\"urn:parlano:xml:ns:xccos\" ver=\"1\" envid=\"77\"><x:cmd "
      "id=\"cmd:join\" seqid=\"4\"><x:data><x:chanid key=\"0\" domain=\"example.com\" "
      "value=\"GUID\"/></x:data></x:cmd></x:xccos>");
  EXPECT_EQ(c.kind, command_kind::join);
  EXPECT_EQ(c.envid, "77");
  EXPECT_EQ(c.seqid, "4");
  ASSERT_EQ(c.rooms.size(), 1u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/GUID");
}

TEST(XccosDecode, PrefixedGrpchatExtraCarriesItsNamespaceDeclaration) {
  command c = decode_ok(
      "<p:xccos xmlns:p=\"urn:parlano:xml:ns:xccos\" xmlns:r=\"urn:rich\" ver=\"1\" "
      "envid=\"5\"><p:grpchat id=\"grpchat\" chanUri=\"ma-chan://d/r\"><p:chat>x</p:chat>"
      "<r:body>y</r:body></p:grpchat></p:xccos>");
  EXPECT_EQ(c.kind, command_kind::grpchat);
  EXPECT_EQ(c.chat.text, "x");
  // Re-emitted under our default-namespace envelope it must still mean r:body in urn:rich.
  EXPECT_EQ(c.chat.extra_xml, "<r:body xmlns:r=\"urn:rich\">y</r:body>");
}

TEST(XccosDecode, AttributeNamesAreCaseInsensitive) {
  command c = decode_ok(
      "<xccos VER=\"1\" ENVID=\"99\" xmlns=\"urn:parlano:xml:ns:xccos\"><cmd ID=\"cmd:join\" "
      "SeqId=\"2\"><data><chanid KEY=\"0\" DOMAIN=\"example.com\" Value=\"G\"/></data></cmd>"
      "</xccos>");
  EXPECT_EQ(c.envid, "99");
  EXPECT_EQ(c.seqid, "2");
  EXPECT_EQ(c.kind, command_kind::join);
  ASSERT_EQ(c.rooms.size(), 1u);
  EXPECT_EQ(c.rooms[0].uri, "ma-chan://example.com/G");
  EXPECT_EQ(c.rooms[0].key, "0");

  command g = decode_ok(
      envelope("<grpchat ID=\"grpchat\" CHANURI=\"ma-chan://d/r\" AUTHOR=\"sip:a@d\" TS=\"t\">"
               "<chat>x</chat></grpchat>"));
  EXPECT_EQ(g.chat.chan_uri, "ma-chan://d/r");
  EXPECT_EQ(g.chat.author, "sip:a@d");
  EXPECT_EQ(g.chat.ts, "t");
}

TEST(XccosDecode, FirstCommandElementIsUsed) {
  command c =
      decode_ok(envelope("<ntc id=\"ntc:x\"/><cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd>"
                         "<cmd id=\"cmd:getinv\" seqid=\"2\"><data/></cmd>"));
  EXPECT_EQ(c.kind, command_kind::requri);
}

// ---------------------------------------------------------------------------
// Decoding errors: clear reason, addressing fields still recovered.

TEST(XccosDecode, MalformedXmlReportsTinyxmlErrorNameAndLine) {
  command c;
  pchat::status st = decode_err(
      "<xccos ver=\"1\" envid=\"4242\" xmlns=\"urn:parlano:xml:ns:xccos\">\n<cmd id=\"cmd:join\" "
      "seqid=\"3\"><data></cmd></xccos>",
      c);
  EXPECT_NE(st.reason().find("malformed XML"), std::string::npos) << st.reason();
  EXPECT_NE(st.reason().find("XML_ERROR_MISMATCHED_ELEMENT"), std::string::npos) << st.reason();
  EXPECT_NE(st.reason().find("line 2"), std::string::npos) << st.reason();
  EXPECT_EQ(c.envid, "4242");
  EXPECT_EQ(c.id, "cmd:join");
  EXPECT_EQ(c.seqid, "3");
  EXPECT_EQ(c.kind, command_kind::join);
}

TEST(XccosDecode, TruncatedBodyStillYieldsEnvid) {
  command c;
  decode_err(
      "<?xml version=\"1.0\"?><!-- hi --><xccos ver='1' envid='42'><cmd id='cmd:bjoin' "
      "seqid='9'><data><chanid domain=\"exa",
      c);
  EXPECT_EQ(c.envid, "42");
  EXPECT_EQ(c.id, "cmd:bjoin");
  EXPECT_EQ(c.seqid, "9");
}

TEST(XccosDecode, EmptyBodyIsAnError) {
  command c;
  decode_err("", c);
  EXPECT_EQ(c.envid, "");
}

TEST(XccosDecode, WrongRootIsRejectedButEnvidRecovered) {
  command c;
  pchat::status st = decode_err(
      "<xccosx ver=\"1\" envid=\"31\"><cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd></xccosx>",
      c);
  EXPECT_NE(st.reason().find("xccosx"), std::string::npos) << st.reason();
  EXPECT_EQ(c.envid, "31");
  EXPECT_EQ(c.id, "cmd:requri");
}

TEST(XccosDecode, ElementNamesAreCaseSensitive) {
  command c;
  decode_err(envelope("<CMD id=\"cmd:requri\" seqid=\"1\"><data/></CMD>"), c);
  EXPECT_EQ(c.envid, "123456789");
  decode_err(envelope("<cmd id=\"cmd:join\" seqid=\"1\"><data><CHANID domain=\"d\" "
                      "value=\"v\"/></data></cmd>"),
             c);
}

TEST(XccosDecode, EnvelopeWithoutCommandIsAnError) {
  command c;
  decode_err(envelope(""), c);
  EXPECT_EQ(c.envid, "123456789");
}

TEST(XccosDecode, CmdWithoutIdIsAnError) {
  command c;
  pchat::status st = decode_err(envelope("<cmd seqid=\"5\"><data/></cmd>"), c);
  EXPECT_NE(st.reason().find("id"), std::string::npos) << st.reason();
  EXPECT_EQ(c.seqid, "5");
}

TEST(XccosDecode, JoinWithoutDomainOrValueIsAnError) {
  command c;
  pchat::status st = decode_err(cmd("cmd:join", "<chanid key=\"0\" value=\"v\"/>"), c);
  EXPECT_NE(st.reason().find("domain"), std::string::npos) << st.reason();
  EXPECT_EQ(c.envid, "123456789");
  EXPECT_EQ(c.kind, command_kind::join);
  EXPECT_TRUE(c.rooms.empty());

  st = decode_err(cmd("cmd:join", "<chanid key=\"0\" domain=\"d\" value=\"\"/>"), c);
  EXPECT_NE(st.reason().find("value"), std::string::npos) << st.reason();
  decode_err(cmd("cmd:join", "<chanid key=\"0\" domain=\"a/b\" value=\"v\"/>"), c);
  decode_err(envelope("<cmd id=\"cmd:join\" seqid=\"1\"/>"), c);
}

TEST(XccosDecode, JoinNeedsExactlyOneChanid) {
  command c;
  decode_err(cmd("cmd:join", ""), c);
  pchat::status st = decode_err(cmd("cmd:join",
                                    "<chanid key=\"0\" domain=\"d\" value=\"a\"/><chanid key=\"1\" "
                                    "domain=\"d\" value=\"b\"/>"),
                                c);
  EXPECT_NE(st.reason().find("exactly one"), std::string::npos) << st.reason();
  EXPECT_TRUE(c.rooms.empty()) << "payload is cleared on error";
  EXPECT_EQ(c.envid, "123456789");
}

std::string bjoin_body(size_t rooms) {
  std::string data;
  for (size_t i = 0; i < rooms; ++i) {
    data += "<chanid key=\"" + std::to_string(i) + "\" domain=\"d\" value=\"r" + std::to_string(i) +
            "\"/>";
  }
  return cmd("cmd:bjoin", data);
}

TEST(XccosDecode, BjoinAcceptsUpToTheRoomLimit) {
  command c = decode_ok(bjoin_body(kMaxBjoinRooms));
  ASSERT_EQ(c.rooms.size(), kMaxBjoinRooms);
  EXPECT_EQ(c.rooms.back().uri, "ma-chan://d/r" + std::to_string(kMaxBjoinRooms - 1));
}

TEST(XccosDecode, BjoinOverTheRoomLimitOrEmptyIsAnError) {
  command c;
  pchat::status st = decode_err(bjoin_body(kMaxBjoinRooms + 1), c);
  EXPECT_NE(st.reason().find("more than"), std::string::npos) << st.reason();
  EXPECT_TRUE(c.rooms.empty());
  EXPECT_EQ(c.kind, command_kind::bjoin);
  decode_err(bjoin_body(0), c);
  EXPECT_EQ(c.envid, "123456789");
}

TEST(XccosDecode, NonMaChanUrisAreRejected) {
  const char* bad[] = {"sip:room@example.com",       "ma-chan://example.com",
                       "ma-chan://example.com/",     "ma-chan:///GUID",
                       "MA-CHAN://example.com/GUID", ""};
  for (const char* uri : bad) {
    SCOPED_TRACE(uri);
    command c;
    std::string chanib = std::string("<chanib uri=\"") + uri + "\"/>";
    pchat::status st = decode_err(cmd("cmd:part", chanib), c);
    EXPECT_NE(st.reason().find("ma-chan"), std::string::npos) << st.reason();
    EXPECT_EQ(c.envid, "123456789");
    EXPECT_EQ(c.kind, command_kind::part);
    EXPECT_TRUE(c.rooms.empty());
    decode_err(cmd("cmd:bccontext", chanib + "<bcq><last cnt=\"25\"/></bcq>"), c);
    EXPECT_EQ(c.kind, command_kind::bccontext);
    decode_err(envelope(std::string("<grpchat id=\"grpchat\" chanUri=\"") + uri +
                        "\"><chat>x</chat></grpchat>"),
               c);
    EXPECT_EQ(c.kind, command_kind::grpchat);
  }
}

TEST(XccosDecode, PartAndBccontextWithoutChanibAreErrors) {
  command c;
  decode_err(cmd("cmd:part", ""), c);
  decode_err(envelope("<cmd id=\"cmd:bccontext\" seqid=\"1\"/>"), c);
  EXPECT_EQ(c.kind, command_kind::bccontext);
}

TEST(XccosDecode, BccontextWithInvalidCountIsAnError) {
  for (const char* cnt : {"-1", "abc", "25x", "", "99999999999"}) {
    SCOPED_TRACE(cnt);
    command c;
    decode_err(
        cmd("cmd:bccontext",
            std::string("<chanib uri=\"ma-chan://d/r\"/><bcq><last cnt=\"") + cnt + "\"/></bcq>"),
        c);
  }
}

TEST(XccosDecode, GrpchatWithoutChanUriOrChatIsAnError) {
  command c;
  pchat::status st =
      decode_err(envelope("<grpchat id=\"grpchat\" seqid=\"1\"><chat>x</chat></grpchat>"), c);
  EXPECT_NE(st.reason().find("chanUri"), std::string::npos) << st.reason();
  EXPECT_EQ(c.kind, command_kind::grpchat);
  EXPECT_EQ(c.envid, "123456789");
  st = decode_err(envelope("<grpchat id=\"grpchat\" chanUri=\"ma-chan://d/r\"><body>x</body>"
                           "</grpchat>"),
                  c);
  EXPECT_NE(st.reason().find("chat"), std::string::npos) << st.reason();
  EXPECT_TRUE(c.chat.chan_uri.empty()) << "payload is cleared on error";
}

TEST(XccosDecode, PrefWithoutLabelIsAnError) {
  command c;
  decode_err(cmd("cmd:getpref", "<pref seqid=\"1\"/>"), c);
  decode_err(cmd("cmd:setpref", ""), c);
  EXPECT_EQ(c.kind, command_kind::setpref);
}

std::string grpchat_with_text(size_t bytes) {
  return envelope("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/r\"><chat>" +
                  std::string(bytes, 'a') + "</chat></grpchat>");
}

TEST(XccosDecode, ChatTextUpToTheLimitIsAccepted) {
  command c = decode_ok(grpchat_with_text(kMaxChatBytes));
  EXPECT_EQ(c.chat.text.size(), kMaxChatBytes);
}

TEST(XccosDecode, ChatTextOverTheLimitIsAnError) {
  command c;
  pchat::status st = decode_err(grpchat_with_text(kMaxChatBytes + 1), c);
  EXPECT_NE(st.reason().find("exceeds"), std::string::npos) << st.reason();
  EXPECT_EQ(c.kind, command_kind::grpchat);
  EXPECT_TRUE(c.chat.text.empty());
}

TEST(XccosDecode, BodyAtTheLimitIsParsed) {
  std::string head =
      "<xccos ver=\"1\" envid=\"8\" xmlns=\"urn:parlano:xml:ns:xccos\"><cmd "
      "id=\"cmd:requri\" seqid=\"1\"><data/></cmd>";
  std::string tail = "</xccos>";
  std::string body = head + std::string(kMaxBodyBytes - head.size() - tail.size(), ' ') + tail;
  ASSERT_EQ(body.size(), kMaxBodyBytes);
  command c = decode_ok(body);
  EXPECT_EQ(c.kind, command_kind::requri);
}

TEST(XccosDecode, OversizeBodyIsRefusedButEnvidRecovered) {
  std::string body = grpchat_with_text(kMaxBodyBytes);
  command c;
  pchat::status st = decode_err(body, c);
  EXPECT_NE(st.reason().find("exceeds"), std::string::npos) << st.reason();
  EXPECT_NE(st.reason().find(std::to_string(kMaxBodyBytes)), std::string::npos) << st.reason();
  EXPECT_EQ(c.envid, "123456789");
  EXPECT_EQ(c.id, "grpchat");
  EXPECT_EQ(c.kind, command_kind::grpchat);
  EXPECT_TRUE(c.chat.text.empty());
}

TEST(XccosDecode, DeepNestingIsRejectedWithoutCrashing) {
  std::string inner;
  for (int i = 0; i < 5000; ++i) inner += "<a>";
  for (int i = 0; i < 5000; ++i) inner += "</a>";
  command c;
  decode_err(envelope("<grpchat id=\"grpchat\" chanUri=\"ma-chan://d/r\"><chat>x</chat>" + inner +
                      "</grpchat>"),
             c);
  EXPECT_EQ(c.envid, "123456789");
}

TEST(XccosDecode, DecodeResetsThePreviousCommand) {
  command c = decode_ok(cmd("cmd:join", "<chanid key=\"0\" domain=\"d\" value=\"v\"/>"));
  ASSERT_EQ(c.rooms.size(), 1u);
  ASSERT_TRUE(decode(cmd("cmd:requri", ""), c).is_ok());
  EXPECT_TRUE(c.rooms.empty());
  EXPECT_EQ(c.kind, command_kind::requri);
}

TEST(XccosDecode, EveryPrefixAndByteFlipOfAClientBodyIsHandledWithoutCrashing) {
  const std::string body = envelope(
      "<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://example.com/GUID\" "
      "author=\"sip:alice@example.com\" ts=\"2024-05-01T12:34:56Z\"><chat>Hello &amp; "
      "welcome</chat><rtf a='1'>x</rtf></grpchat>");
  for (size_t n = 0; n < body.size(); ++n) {
    command c;
    pchat::status st = decode(body.substr(0, n), c);
    EXPECT_FALSE(st.is_ok()) << n;
    if (n >= body.find("<grpchat")) {
      EXPECT_EQ(c.envid, "123456789") << "root tag complete at " << n;
    }
  }
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string mutated = body;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1103515245u + 12345u;
      mutated[(seed >> 8) % mutated.size()] = static_cast<char>(seed >> 24);
    }
    command c;
    if (decode(mutated, c).is_ok() && c.kind == command_kind::grpchat) {
      // Whatever survived decoding must encode to a well-formed document.
      tinyxml2::XMLDocument doc;
      std::string xml = encode_grpchat(c.chat, 1);
      EXPECT_EQ(doc.Parse(xml.data(), xml.size()), tinyxml2::XML_SUCCESS) << xml;
    }
  }
}

// ---------------------------------------------------------------------------
// Encoding.

TEST(XccosEncode, RequriReplyIsByteExact) {
  reply_head h = head("rpl:requri");
  h.envid = 9;
  EXPECT_EQ(
      encode_requri_reply(h, "sip:chat@example.com"),
      "<xccos ver=\"1\" envid=\"9\" xmlns=\"urn:parlano:xml:ns:xccos\"><rpl id=\"rpl:requri\" "
      "seqid=\"1\"><commandid seqid=\"1\" envid=\"123456789\"/><resp "
      "code=\"200\">SUCCESS_OK</resp><data><uib uri=\"sip:chat@example.com\"/></data></rpl>"
      "</xccos>");
}

TEST(XccosEncode, ReplyEchoesCommandIdAndResult) {
  reply_head h = head("rpl:getinv");
  h.cmd_seqid = "";
  parsed p(encode_empty_reply(h));
  ASSERT_TRUE(p.ok());
  EXPECT_STREQ(p.root()->Attribute("envid"), "7962449779256945056");
  p.expect_head("rpl:getinv", "1", "123456789", 200, "SUCCESS_OK");
  EXPECT_EQ(p.data()->FirstChild(), nullptr);
}

TEST(XccosEncode, ErrorReplyCarriesCodeAndDefaultOrCustomText) {
  reply_head h = head("rpl:join");
  h.cmd_seqid = "3";
  h.code = result_code::not_found;
  parsed p(encode_empty_reply(h));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:join", "3", "123456789", 404, "ERR_NOT_FOUND");

  h.code = result_code::forbidden;
  h.text = "You are not a member of <Room> & co";
  parsed q(encode_empty_reply(h));
  ASSERT_TRUE(q.ok());
  q.expect_head("rpl:join", "3", "123456789", 403, "You are not a member of <Room> & co");
}

TEST(XccosEncode, ResultTextsMatchTheContract) {
  EXPECT_STREQ(result_text(result_code::ok), "SUCCESS_OK");
  EXPECT_STREQ(result_text(result_code::bad_request), "ERR_BAD_REQUEST");
  EXPECT_STREQ(result_text(result_code::forbidden), "ERR_FORBIDDEN");
  EXPECT_STREQ(result_text(result_code::not_found), "ERR_NOT_FOUND");
  EXPECT_STREQ(result_text(result_code::too_large), "ERR_TOO_LARGE");
  EXPECT_STREQ(result_text(result_code::internal_error), "ERR_INTERNAL");
  EXPECT_STREQ(result_text(result_code::unavailable), "ERR_UNAVAILABLE");
}

TEST(XccosEncode, ServerInfoReplyHasAllSibAttributes) {
  server_info info;
  info.domain = "example.com";
  info.info_type = "123";
  info.server_time = "2010-09-14T14:26:17.6206356Z";
  info.root_uri = "ma-cat://example.com/ROOT";
  info.db_version = "DBV";
  parsed p(encode_serverinfo_reply(head("rpl:getserverinfo"), info));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:getserverinfo", "1", "123456789", 200, "SUCCESS_OK");
  const auto* sib = p.data()->FirstChildElement("sib");
  ASSERT_NE(sib, nullptr);
  EXPECT_STREQ(sib->Attribute("infoType"), "123");
  EXPECT_STREQ(sib->Attribute("serverTime"), "2010-09-14T14:26:17.6206356Z");
  EXPECT_EQ(sib->IntAttribute("searchLimit"), 999);
  EXPECT_EQ(sib->IntAttribute("messageSizeLimit"), 512);
  EXPECT_EQ(sib->IntAttribute("storySizeLimit"), 4096);
  EXPECT_STREQ(sib->Attribute("rootUri"), "ma-cat://example.com/ROOT");
  EXPECT_STREQ(sib->Attribute("dbVersion"), "DBV");
}

TEST(XccosEncode, ChansrchReplyUsesTheVisibiltySpellingAndBooleanText) {
  room_summary a{"ma-chan://example.com/A", "Room 1", "First & best", 5, true, true, false, true};
  room_summary b{"ma-chan://example.com/B", "Room 2", "", 0, false, false, true, false};
  parsed p(encode_chansrch_reply(head("rpl:chansrch"), {a, b}));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:chansrch", "1", "123456789", 200, "SUCCESS_OK");

  struct expect {
    const char* uri;
    const char* name;
    const char* description;
    std::vector<std::pair<std::string, std::string>> children;  // "info:<id>" -> text
  };
  const expect want[] = {
      {"ma-chan://example.com/A",
       "Room 1",
       "First & best",
       {{"info urn:parlano:ma:info:ucnt", "5"},
        {"info urn:parlano:ma:info:visibilty", "private"},
        {"prop urn:parlano:ma:prop:filepost", "true"},
        {"prop urn:parlano:ma:prop:invite", "false"},
        {"prop urn:parlano:ma:prop:logged", "true"}}},
      {"ma-chan://example.com/B",
       "Room 2",
       "",
       {{"info urn:parlano:ma:info:ucnt", "0"},
        {"info urn:parlano:ma:info:visibilty", "public"},
        {"prop urn:parlano:ma:prop:filepost", "false"},
        {"prop urn:parlano:ma:prop:invite", "true"},
        {"prop urn:parlano:ma:prop:logged", "false"}}},
  };
  const auto* chanib = p.data()->FirstChildElement();
  for (const expect& w : want) {
    ASSERT_NE(chanib, nullptr);
    EXPECT_STREQ(chanib->Name(), "chanib");
    EXPECT_STREQ(chanib->Attribute("uri"), w.uri);
    EXPECT_STREQ(chanib->Attribute("name"), w.name);
    EXPECT_STREQ(chanib->Attribute("description"), w.description);
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto* c = chanib->FirstChildElement(); c; c = c->NextSiblingElement()) {
      got.emplace_back(std::string(c->Name()) + " " + c->Attribute("id"),
                       c->GetText() ? c->GetText() : "");
    }
    EXPECT_EQ(got, w.children);
    chanib = chanib->NextSiblingElement();
  }
  EXPECT_EQ(chanib, nullptr);
  EXPECT_EQ(encode_chansrch_reply(head("rpl:chansrch"), {a}).find("visibility"), std::string::npos);
}

TEST(XccosEncode, JoinReplyListsEachMemberUnderOneKey) {
  joined_room r1{"ma-chan://example.com/A",
                 "Room A",
                 "Today's topic",
                 {{"sip:alice@example.com", false},
                  {"sip:bob@example.com", true},
                  {"sip:carol@example.com", false},
                  {"sip:carol@example.com", true}}};  // listed twice: manager wins
  joined_room r2{"ma-chan://example.com/B",
                 "Room B",
                 "",
                 {{"sip:bob@example.com", false}, {"sip:dave@example.com", false}}};
  parsed p(encode_join_reply(head("rpl:bjoin"), {r1, r2}, {}));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:bjoin", "1", "123456789", 200, "SUCCESS_OK");

  // One uib table with unique ids and unique URIs, before the chanibs.
  std::map<std::string, std::string> uri_by_id;
  std::set<std::string> uris;
  const auto* e = p.data()->FirstChildElement();
  for (; e && std::string(e->Name()) == "uib"; e = e->NextSiblingElement()) {
    EXPECT_TRUE(uri_by_id.emplace(e->Attribute("id"), e->Attribute("uri")).second)
        << "duplicate uib id " << e->Attribute("id");
    EXPECT_TRUE(uris.insert(e->Attribute("uri")).second) << "duplicate uib uri";
  }
  EXPECT_EQ(uris, (std::set<std::string>{"sip:alice@example.com", "sip:bob@example.com",
                                         "sip:carol@example.com", "sip:dave@example.com"}));

  struct room_want {
    const char* uri;
    const char* name;
    const char* topic;
    std::set<std::string> users;
    std::set<std::string> managers;
  };
  const room_want want[] = {
      {"ma-chan://example.com/A",
       "Room A",
       "Today's topic",
       {"sip:alice@example.com"},
       {"sip:bob@example.com", "sip:carol@example.com"}},
      {"ma-chan://example.com/B",
       "Room B",
       "",
       {"sip:bob@example.com", "sip:dave@example.com"},
       {}},
  };
  for (const room_want& w : want) {
    ASSERT_NE(e, nullptr);
    ASSERT_STREQ(e->Name(), "chanib");
    EXPECT_STREQ(e->Attribute("uri"), w.uri);
    EXPECT_STREQ(e->Attribute("name"), w.name);
    EXPECT_STREQ(e->Attribute("topic"), w.topic);
    std::set<std::string> users;
    std::set<std::string> managers;
    std::set<std::string> seen_ids;
    for (const auto* aib = e->FirstChildElement("aib"); aib; aib = aib->NextSiblingElement("aib")) {
      const std::string key = aib->Attribute("key");
      ASSERT_TRUE(key == "3984" || key == "12276") << key;
      for (const std::string& id : split_commas(aib->Attribute("value"))) {
        ASSERT_TRUE(uri_by_id.count(id)) << "aib names unknown uib id " << id;
        EXPECT_TRUE(seen_ids.insert(id).second) << "id " << id << " under more than one key";
        (key == "12276" ? managers : users).insert(uri_by_id[id]);
      }
    }
    EXPECT_EQ(users, w.users);
    EXPECT_EQ(managers, w.managers);
    e = e->NextSiblingElement();
  }
  EXPECT_EQ(e, nullptr);
}

TEST(XccosEncode, JoinReplyListsFailedRoomsAsFib) {
  joined_room ok{"ma-chan://example.com/A", "A", "t", {{"sip:a@example.com", false}}};
  parsed p(encode_join_reply(head("rpl:bjoin"), {ok},
                             {"ma-chan://example.com/GUID-X", "ma-chan://other.org/a/b"}));
  ASSERT_TRUE(p.ok());
  const auto* fib = p.data()->FirstChildElement("fib");
  ASSERT_NE(fib, nullptr);
  EXPECT_STREQ(fib->PreviousSiblingElement()->Name(), "chanib") << "fibs follow the chanibs";
  EXPECT_STREQ(fib->Attribute("key"), "OPERATION_FAILED");
  EXPECT_STREQ(fib->Attribute("value"), "GUID-X");
  EXPECT_STREQ(fib->Attribute("domain"), "example.com");
  fib = fib->NextSiblingElement("fib");
  ASSERT_NE(fib, nullptr);
  EXPECT_STREQ(fib->Attribute("value"), "a/b");
  EXPECT_STREQ(fib->Attribute("domain"), "other.org");
  EXPECT_EQ(fib->NextSiblingElement(), nullptr);
}

TEST(XccosEncode, JoinReplyWithOnlyFailuresHasNoUserTable) {
  parsed p(encode_join_reply(head("rpl:join"), {}, {"ma-chan://example.com/G"}));
  ASSERT_TRUE(p.ok());
  const auto* first = p.data()->FirstChildElement();
  ASSERT_NE(first, nullptr);
  EXPECT_STREQ(first->Name(), "fib");
}

TEST(XccosEncode, PartReplyNamesTheRoom) {
  parsed p(encode_part_reply(head("rpl:part"), "ma-chan://example.com/GUID"));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:part", "1", "123456789", 200, "SUCCESS_OK");
  const auto* chanib = p.data()->FirstChildElement("chanib");
  ASSERT_NE(chanib, nullptr);
  EXPECT_STREQ(chanib->Attribute("uri"), "ma-chan://example.com/GUID");
}

TEST(XccosEncode, BackchatReplyListsGrpchatMessagesInGivenOrder) {
  std::vector<chat_message> history = {
      {"ma-chan://d/r", "sip:bob@d", "2024-05-01T12:00:00.0000000Z", "first", ""},
      {"ma-chan://d/r", "sip:alice@d", "2024-05-01T12:00:01.0000000Z", "second", "<rtf>x</rtf>"},
      {"ma-chan://d/r", "sip:bob@d", "2024-05-01T12:00:02.0000000Z", "third", ""},
  };
  parsed p(encode_backchat_reply(head("rpl:bccontext"), "ma-chan://d/r", history));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:bccontext", "1", "123456789", 200, "SUCCESS_OK");
  const auto* chanib = p.data()->FirstChildElement();
  ASSERT_NE(chanib, nullptr);
  EXPECT_STREQ(chanib->Name(), "chanib");
  EXPECT_STREQ(chanib->Attribute("uri"), "ma-chan://d/r");
  const auto* msg = chanib->FirstChildElement();
  for (const chat_message& m : history) {
    ASSERT_NE(msg, nullptr);
    EXPECT_STREQ(msg->Name(), "msg");
    EXPECT_STREQ(msg->Attribute("id"), "grpchat");
    EXPECT_STREQ(msg->Attribute("chanUri"), m.chan_uri.c_str());
    EXPECT_STREQ(msg->Attribute("author"), m.author.c_str());
    EXPECT_STREQ(msg->Attribute("ts"), m.ts.c_str());
    const auto* chat = msg->FirstChildElement();
    ASSERT_NE(chat, nullptr);
    EXPECT_STREQ(chat->Name(), "chat");
    EXPECT_STREQ(chat->GetText(), m.text.c_str());
    if (!m.extra_xml.empty()) {
      ASSERT_NE(chat->NextSiblingElement("rtf"), nullptr);
    }
    msg = msg->NextSiblingElement();
  }
  EXPECT_EQ(msg, nullptr);
}

TEST(XccosEncode, GetprefReplyOmitsEmptyContent) {
  parsed p(encode_getpref_reply(head("rpl:getpref"), {"kedzie.GroupChannels", "71", "aGk="}));
  ASSERT_TRUE(p.ok());
  p.expect_head("rpl:getpref", "1", "123456789", 200, "SUCCESS_OK");
  const auto* pref = p.data()->FirstChildElement("pref");
  ASSERT_NE(pref, nullptr);
  EXPECT_STREQ(pref->Attribute("label"), "kedzie.GroupChannels");
  EXPECT_STREQ(pref->Attribute("seqid"), "71");
  EXPECT_STREQ(pref->Attribute("content"), "aGk=");

  parsed q(encode_getpref_reply(head("rpl:getpref"), {"kedzie.GroupChannels", "71", ""}));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.data()->FirstChildElement("pref")->Attribute("content"), nullptr);
}

TEST(XccosEncode, GrpchatPushIsByteExact) {
  chat_message m{"ma-chan://example.com/GUID", "sip:bob@example.com",
                 "2024-05-01T12:34:57.1234567Z", "text", ""};
  EXPECT_EQ(encode_grpchat(m, 12),
            "<xccos ver=\"1\" envid=\"12\" xmlns=\"urn:parlano:xml:ns:xccos\"><grpchat "
            "id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://example.com/GUID\" "
            "author=\"sip:bob@example.com\" ts=\"2024-05-01T12:34:57.1234567Z\"><chat>text</chat>"
            "</grpchat></xccos>");
}

TEST(XccosEncode, GrpchatPushHasNoCommandidOrResp) {
  chat_message m{"ma-chan://d/r", "sip:a@d", "ts", "x", ""};
  std::string xml = encode_grpchat(m, 1);
  EXPECT_EQ(xml.find("commandid"), std::string::npos);
  EXPECT_EQ(xml.find("resp"), std::string::npos);
}

TEST(XccosEncode, GrpchatPushAppendsExtraXmlAfterChat) {
  chat_message m{"ma-chan://d/r", "sip:a@d", "ts", "hi",
                 "<rtf fmt=\"x\">a &amp; b</rtf><r:body xmlns:r=\"urn:rich\">y</r:body>"};
  std::string xml = encode_grpchat(m, 1);
  parsed p(xml);
  ASSERT_TRUE(p.ok());
  const auto* g = p.root()->FirstChildElement("grpchat");
  ASSERT_NE(g, nullptr);
  const auto* chat = g->FirstChildElement();
  ASSERT_STREQ(chat->Name(), "chat");
  const auto* rtf = chat->NextSiblingElement();
  ASSERT_NE(rtf, nullptr);
  EXPECT_STREQ(rtf->Name(), "rtf");
  EXPECT_STREQ(rtf->GetText(), "a & b");
  const auto* body = rtf->NextSiblingElement();
  ASSERT_NE(body, nullptr);
  EXPECT_STREQ(body->Name(), "r:body");
  EXPECT_STREQ(body->Attribute("xmlns:r"), "urn:rich");
  EXPECT_NE(xml.find("<chat>hi</chat><rtf fmt=\"x\">a &amp; b</rtf><r:body"), std::string::npos);
}

TEST(XccosEncode, UnparseableExtraXmlIsDropped) {
  for (const char* extra : {"<rtf>unclosed", "</grpchat><evil/>", "<a></b>", "plain & text <"}) {
    SCOPED_TRACE(extra);
    chat_message m{"ma-chan://d/r", "sip:a@d", "ts", "hi", extra};
    std::string xml = encode_grpchat(m, 1);
    parsed p(xml);
    ASSERT_TRUE(p.ok());
    const auto* g = p.root()->FirstChildElement("grpchat");
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->FirstChildElement()->NextSibling(), nullptr) << xml;
    EXPECT_EQ(g->NextSibling(), nullptr) << xml;
  }
}

TEST(XccosEncode, GrpchatRoundTripsThroughDecode) {
  chat_message m{"ma-chan://d/r", "sip:a@d", "2024-05-01T12:34:57.1234567Z",
                 "line 1 <b>&amp;</b> \"q\" 'a'\nline 2\r\nline 3\ttab", "<rtf x=\"1\">y</rtf>"};
  command c = decode_ok(encode_grpchat(m, 5));
  EXPECT_EQ(c.kind, command_kind::grpchat);
  EXPECT_EQ(c.envid, "5");
  EXPECT_EQ(c.chat.chan_uri, m.chan_uri);
  EXPECT_EQ(c.chat.author, m.author);
  EXPECT_EQ(c.chat.ts, m.ts);
  EXPECT_EQ(c.chat.text, m.text);
  EXPECT_EQ(c.chat.extra_xml, m.extra_xml);
}

TEST(XccosEncode, JoinNoticeNamesTheRoomInsideTheUser) {
  parsed p(encode_join_notice("ma-chan://example.com/GUID", "sip:carol@example.com", false, 3));
  ASSERT_TRUE(p.ok());
  const auto* ntc = p.root()->FirstChildElement();
  ASSERT_NE(ntc, nullptr);
  EXPECT_STREQ(ntc->Name(), "ntc");
  EXPECT_STREQ(ntc->Attribute("id"), "ntc:join");
  EXPECT_EQ(ntc->FirstChildElement("commandid"), nullptr);
  EXPECT_EQ(ntc->FirstChildElement("resp"), nullptr);
  const auto* uib = ntc->FirstChildElement("data")->FirstChildElement("uib");
  ASSERT_NE(uib, nullptr);
  EXPECT_STREQ(uib->Attribute("uri"), "sip:carol@example.com");
  const auto* aib = uib->FirstChildElement("aib");
  ASSERT_NE(aib, nullptr);
  EXPECT_STREQ(aib->Attribute("key"), "3984");
  EXPECT_STREQ(aib->Attribute("domain"), "example.com");
  EXPECT_STREQ(aib->Attribute("value"), "GUID");

  parsed q(encode_join_notice("ma-chan://example.com/GUID", "sip:op@example.com", true, 4));
  ASSERT_TRUE(q.ok());
  EXPECT_STREQ(q.root()
                   ->FirstChildElement("ntc")
                   ->FirstChildElement("data")
                   ->FirstChildElement("uib")
                   ->FirstChildElement("aib")
                   ->Attribute("key"),
               "12276");
}

TEST(XccosEncode, PartNoticeNamesTheUserInsideTheRoom) {
  parsed p(encode_part_notice("ma-chan://example.com/GUID", "sip:carol@example.com", 3));
  ASSERT_TRUE(p.ok());
  const auto* ntc = p.root()->FirstChildElement("ntc");
  ASSERT_NE(ntc, nullptr);
  EXPECT_STREQ(ntc->Attribute("id"), "ntc:part");
  EXPECT_EQ(ntc->FirstChildElement("commandid"), nullptr);
  EXPECT_EQ(ntc->FirstChildElement("resp"), nullptr);
  const auto* chanib = ntc->FirstChildElement("data")->FirstChildElement("chanib");
  ASSERT_NE(chanib, nullptr);
  EXPECT_STREQ(chanib->Attribute("uri"), "ma-chan://example.com/GUID");
  const auto* uib = chanib->FirstChildElement("uib");
  ASSERT_NE(uib, nullptr);
  EXPECT_STREQ(uib->Attribute("uri"), "sip:carol@example.com");
}

TEST(XccosEncode, SpecialCharactersInTextAndAttributesAreEscaped) {
  const std::string nasty = "a<b>&c\"d'e\tf\ng";
  room_summary r{"ma-chan://d/" + nasty, nasty, nasty, 1, false, false, false, true};
  std::string xml = encode_chansrch_reply(head("rpl:chansrch"), {r});
  parsed p(xml);
  ASSERT_TRUE(p.ok());
  const auto* chanib = p.data()->FirstChildElement("chanib");
  ASSERT_NE(chanib, nullptr);
  // Tab and newline survive attribute-value normalisation only as character references.
  EXPECT_EQ(std::string(chanib->Attribute("name")), nasty);
  EXPECT_EQ(std::string(chanib->Attribute("uri")), "ma-chan://d/" + nasty);
  EXPECT_NE(xml.find("a&lt;b&gt;&amp;c&quot;d&apos;e&#9;f&#10;g"), std::string::npos) << xml;

  reply_head h = head("rpl:join");
  h.code = result_code::bad_request;
  h.text = nasty;
  h.cmd_envid = "\"><x/>";
  parsed q(encode_empty_reply(h));
  ASSERT_TRUE(q.ok());
  q.expect_head("rpl:join", "1", "\"><x/>", 400, nasty.c_str());

  chat_message m{"ma-chan://d/r", "sip:a\"b@d", "ts", "x</chat><evil/>&amp;", ""};
  std::string g = encode_grpchat(m, 1);
  parsed gp(g);
  ASSERT_TRUE(gp.ok());
  const auto* grp = gp.root()->FirstChildElement("grpchat");
  EXPECT_STREQ(grp->Attribute("author"), "sip:a\"b@d");
  EXPECT_STREQ(grp->FirstChildElement("chat")->GetText(), "x</chat><evil/>&amp;");
  EXPECT_EQ(grp->FirstChildElement("evil"), nullptr);
}

TEST(XccosEncode, InvalidUtf8AndControlCharactersNeverReachTheWire) {
  chat_message m{"ma-chan://d/r", "sip:a@d", "ts",
                 std::string("ok \xC3\xA9 \xE2\x98\xBA bad\xFF\xC3 ctl\x01\x1F end"), ""};
  std::string xml = encode_grpchat(m, 1);
  parsed p(xml);
  ASSERT_TRUE(p.ok());
  EXPECT_STREQ(p.root()->FirstChildElement("grpchat")->FirstChildElement("chat")->GetText(),
               "ok \xC3\xA9 \xE2\x98\xBA bad\xEF\xBF\xBD\xEF\xBF\xBD ctl\xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(xml.find('\x01'), std::string::npos);
}

TEST(XccosEncode, EnvidIsTheFullUnsigned64BitValue) {
  chat_message m{"ma-chan://d/r", "sip:a@d", "ts", "x", ""};
  parsed p(encode_grpchat(m, 18446744073709551615ull));
  ASSERT_TRUE(p.ok());
  EXPECT_STREQ(p.root()->Attribute("envid"), "18446744073709551615");
}

// ---------------------------------------------------------------------------
// Text validity on entry: refused as a whole, with the reason, never truncated.

std::string post_with_text(const std::string& chat_inner) {
  return envelope("<grpchat id=\"grpchat\" seqid=\"7\" chanUri=\"ma-chan://d/r\"><chat>" +
                  chat_inner + "</chat></grpchat>", "42");
}

TEST(XccosText, PostsWithInvalidTextAreRefusedWithTheReasonAndTheirAddress) {
  const std::pair<std::string, std::string> cases[] = {
      {std::string("bad \xFF byte"), "invalid UTF-8"},
      {std::string("truncated \xC3"), "invalid UTF-8"},
      {std::string("overlong \xC0\xAF slash"), "invalid UTF-8"},
      {std::string("surrogate \xED\xA0\x80"), "invalid UTF-8"},
      {std::string("beyond \xF4\x90\x80\x80"), "invalid UTF-8"},
      {std::string("ctl \x01 here"), "control character U+0001"},
      {std::string("nul \0 here", 10), "control character U+0000"},
      {std::string("esc \x1B[2J"), "control character U+001B"},
      {std::string("del \x7F"), "control character U+007F"},
      {std::string("c1 \xC2\x85 nel"), "control character U+0085"},
      {std::string("nonchar \xEF\xBF\xBE"), "control character U+FFFE"},
      {"nul &#0; ref", "&#0; (U+0000)"},
      {"hex &#x1; ref", "&#x1; (U+0001)"},
      {"esc &#27; ref", "&#27; (U+001B)"},
      {"c1 &#x85; ref", "&#x85; (U+0085)"},
      {"surrogate &#xD800; ref", "&#xD800; (U+D800)"},
      {"fffe &#xFFFE; ref", "&#xFFFE; (U+FFFE)"},
      {"big &#x110000; ref", "beyond U+10FFFF"},
      {"huge &#99999999999999999999; ref", "malformed character reference"},
      {"empty &#; ref", "malformed character reference"},
      {"open &#65 ref", "malformed character reference"},
  };
  for (const auto& [inner, why] : cases) {
    command c;
    pchat::status st = decode_err(post_with_text(inner), c);
    EXPECT_NE(st.reason().find(why), std::string::npos) << "reason: " << st.reason() << "\ninner: " << inner;
    // Addressed so the client can be told; nothing of the payload survives.
    EXPECT_EQ(c.kind, command_kind::grpchat);
    EXPECT_EQ(c.envid, "42");
    EXPECT_EQ(c.seqid, "7");
    EXPECT_TRUE(c.chat.text.empty());
  }
}

TEST(XccosText, InvalidTextInAnyFieldRefusesTheCommand) {
  command c;
  pchat::status st = decode_err(
      cmd("cmd:join", std::string("<chanid key=\"0\" domain=\"d\" value=\"r\x01\"/>")), c);
  EXPECT_NE(st.reason().find("U+0001"), std::string::npos) << st.reason();
  st = decode_err(cmd("cmd:chansrch", "<qib qtype=\"BYNAME\" criteria=\"a&#0;b\"/>"), c);
  EXPECT_NE(st.reason().find("&#0;"), std::string::npos) << st.reason();
  // Outside the command payload too: the whole body is one document.
  st = decode_err(envelope("<cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd><!-- \xFF -->"), c);
  EXPECT_NE(st.reason().find("invalid UTF-8"), std::string::npos) << st.reason();
}

TEST(XccosText, ValidTextKeepsEveryCharacter) {
  command c = decode_ok(post_with_text(
      "tab\tlf\ncr&#13;&#10;ref&#9;&#x263A;&#128512; \xC3\xA9\xE2\x98\xBA\xF0\x9F\x98\x80 "
      "&amp;&lt; end<![CDATA[ &#0; stays literal ]]>"));
  EXPECT_EQ(c.chat.text,
            "tab\tlf\ncr\r\nref\t\xE2\x98\xBA\xF0\x9F\x98\x80 \xC3\xA9\xE2\x98\xBA\xF0\x9F\x98\x80 "
            "&< end &#0; stays literal ");
}

TEST(XccosText, AnElementWithTooManyAttributesIsRefusedBeforeParsing) {
  auto with_attrs = [](size_t n) {
    std::string attrs;
    for (size_t i = 0; i < n; ++i) attrs += " a" + std::to_string(i) + "='1'";
    return envelope("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/r\"><chat>x</chat><x" +
                    attrs + "/></grpchat>");
  };
  // The envelope's own grpchat has 3 attributes; <x> gets the rest of the budget.
  decode_ok(with_attrs(kMaxAttributesPerElement));
  command c;
  pchat::status st = decode_err(with_attrs(kMaxAttributesPerElement + 1), c);
  EXPECT_NE(st.reason().find("more than " + std::to_string(kMaxAttributesPerElement) + " attributes"),
            std::string::npos)
      << st.reason();
  EXPECT_EQ(c.kind, command_kind::grpchat);
  // '=' inside a quoted value is not an attribute.
  decode_ok(envelope("<grpchat id=\"grpchat\" chanUri=\"ma-chan://d/r\"><chat>x</chat><x a=\"" +
                     std::string(kMaxAttributesPerElement * 2, '=') + "\"/></grpchat>"));
}

// ---------------------------------------------------------------------------
// Decoding is linear in the body: the same shape at 8x the size costs about 8x, not 64x.
// CPU time of this thread, best of several runs; the bound is loose (a quadratic step
// shows as ~64x, linear as ~8x) so a loaded CI box cannot fail it.

double decode_cpu_seconds(const std::string& body) {
  double best = 1e9;
  for (int run = 0; run < 5; ++run) {
    timespec a{}, b{};
    command c;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    decode(body, c);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    best = std::min(best, double(b.tv_sec - a.tv_sec) + double(b.tv_nsec - a.tv_nsec) / 1e9);
  }
  return best;
}

std::string grpchat_post(const std::string& grp_attrs, const std::string& extra) {
  return envelope("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/r\"" + grp_attrs +
                  "><chat>hi</chat>" + extra + "</grpchat>");
}

// Adversarial shapes for the extra-XML copy and the parser, filled up to `bytes`.
std::string many_prefixed_children(size_t bytes) {  // one subtree, a new prefix per element
  std::string kids;
  for (int i = 0; kids.size() < bytes; ++i) kids += "<p" + std::to_string(i) + ":e/>";
  return grpchat_post("", "<x>" + kids + "</x>");
}
std::string many_extra_children(size_t bytes) {  // many siblings, each re-declaring prefixes
  std::string decls;
  for (int i = 0; i < 100; ++i) decls += " xmlns:q" + std::to_string(i) + "=\"u\"";
  std::string kids;
  for (int i = 0; kids.size() < bytes; ++i) kids += "<q" + std::to_string(i % 100) + ":e q1:a=\"1\"/>";
  return grpchat_post(decls, kids);
}
std::string many_attributes(size_t bytes) {  // refused at the attribute cap, after a linear scan
  std::string decls;
  std::string attrs;
  for (int i = 0; decls.size() + attrs.size() < bytes; ++i) {
    decls += " xmlns:p" + std::to_string(i) + "=\"u\"";
    attrs += " p" + std::to_string(i) + ":a=\"1\"";
  }
  return grpchat_post(decls, "<x" + attrs + "/>");
}
std::string many_attributes_per_element(size_t bytes) {  // at the cap, on many elements
  std::string one = "<e";
  for (size_t i = 0; i < kMaxAttributesPerElement; ++i) one += " p" + std::to_string(i) + ":a='1'";
  one += "/>";
  std::string kids;
  while (kids.size() < bytes) kids += one;
  return grpchat_post("", "<x>" + kids + "</x>");
}

TEST(XccosDecodeCost, LinearInTheBodySize) {
  const size_t big = kMaxBodyBytes - 2048;
  const size_t small = big / 8;
  const std::pair<const char*, std::string (*)(size_t)> shapes[] = {
      {"many prefixed children", many_prefixed_children},
      {"many extra children", many_extra_children},
      {"many attributes", many_attributes},
      {"many attributes per element", many_attributes_per_element},
  };
  for (const auto& [name, make] : shapes) {
    const std::string s = make(small);
    const std::string b = make(big);
    ASSERT_LE(b.size(), kMaxBodyBytes) << name;
    const double ts = decode_cpu_seconds(s);
    const double tb = decode_cpu_seconds(b);
    // Floor the small time at 50 us so timer granularity cannot inflate the ratio.
    const double ratio = tb / std::max(ts, 50e-6);
    EXPECT_LT(ratio, 24.0) << name << ": " << s.size() << " bytes took " << ts * 1e3 << " ms, "
                           << b.size() << " bytes " << tb * 1e3 << " ms";
    // And in absolute terms a full-size body stays cheap (it was ~1.7 s when quadratic).
    EXPECT_LT(tb, 0.25) << name;
    std::printf("decode %-28s %7zu bytes %8.3f ms, %7zu bytes %8.3f ms\n", name, s.size(),
                ts * 1e3, b.size(), tb * 1e3);
  }
}

TEST(XccosDecode, ExtraXmlKeepsNamespacesDeclaredOnAncestorsAfterTheLinearRewrite) {
  command c = decode_ok(envelope(
      "<grpchat id=\"grpchat\" chanUri=\"ma-chan://d/r\" xmlns:r=\"urn:rich\" xmlns:o=\"urn:other\">"
      "<chat>x</chat><r:fmt o:k=\"v\"><r:b/></r:fmt><r:x xmlns:r=\"urn:own\"/><plain/></grpchat>"));
  EXPECT_EQ(c.chat.extra_xml,
            "<r:fmt xmlns:r=\"urn:rich\" xmlns:o=\"urn:other\" o:k=\"v\"><r:b/></r:fmt>"
            "<r:x xmlns:r=\"urn:own\"/><plain/>");
}

// The web session reads the server's own roster notices back (decode_roster_notice).
TEST(XccosDecode, RosterNoticesRoundTrip) {
  roster_notice n;
  ASSERT_TRUE(
      decode_roster_notice(
          encode_join_notice("ma-chan://example.com/a/b", "sip:carol@example.com", true, 3), n)
          .is_ok());
  EXPECT_TRUE(n.joined);
  EXPECT_EQ(n.room_uri, "ma-chan://example.com/a/b");
  EXPECT_EQ(n.user_uri, "sip:carol@example.com");
  ASSERT_TRUE(decode_roster_notice(
                  encode_part_notice("ma-chan://example.com/GUID", "sip:dan@example.com", 4), n)
                  .is_ok());
  EXPECT_FALSE(n.joined);
  EXPECT_EQ(n.room_uri, "ma-chan://example.com/GUID");
  EXPECT_EQ(n.user_uri, "sip:dan@example.com");
  chat_message m{"ma-chan://example.com/GUID", "sip:carol@example.com", "2026-01-01T00:00:00Z",
                 "hi", ""};
  EXPECT_FALSE(decode_roster_notice(encode_grpchat(m, 5), n).is_ok());
  EXPECT_FALSE(
      decode_roster_notice(
          "<xccos><ntc id=\"ntc:join\"><data><uib uri=\"sip:x@y\"/></data></ntc></xccos>", n)
          .is_ok());
  EXPECT_FALSE(decode_roster_notice("not xml", n).is_ok());
}

}  // namespace
}  // namespace pchat::xccos
