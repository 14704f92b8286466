// Self-test of the in-tree client (tools/client) that needs no pchatd: the SIP wire layer
// (parsing, stream framing, builders' exact text), the client side of the XCCOS codec (checked
// against the server codec's encoders) and the event loop. The sign-in ladder against an
// in-process fake server is in client_selftest_ladder.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "protocol/xccos/xccos_codec.h"
#include "text/utc_time.h"
#include "tools/client/client_codec.h"
#include "tools/client/client_loop.h"
#include "tools/client/sip_wire.h"

namespace pchat::client {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kInfo =
    "INFO sip:alice@example.com:5061;transport=tcp SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
    "From: <sip:chat@example.com>;tag=srv1\r\n"
    "To: <sip:alice@example.com>;tag=1234;epid=abc\r\n"
    "Call-ID: call-1\r\n"
    "CSeq: 7 INFO\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "hello";

// Feeds `bytes` to a framer in chunks of `chunk` and collects every message.
std::vector<sip_message> frame_all(std::string_view bytes, size_t chunk,
                                   sip_stream_framer& framer) {
  std::vector<sip_message> out;
  for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
    framer.append(bytes.substr(pos, chunk));
    sip_message m;
    while (framer.next(m) == sip_stream_framer::result::message) out.push_back(m);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Parsing.

TEST(SipWire, ParsesRequestLineHeadersAndBody) {
  sip_stream_framer f;
  auto msgs = frame_all(kInfo, kInfo.size(), f);
  ASSERT_EQ(msgs.size(), 1u);
  const sip_message& m = msgs[0];
  EXPECT_TRUE(m.is_request());
  EXPECT_EQ(m.method, "INFO");
  EXPECT_EQ(m.request_uri, "sip:alice@example.com:5061;transport=tcp");
  EXPECT_EQ(m.call_id(), "call-1");
  EXPECT_EQ(m.cseq_number(), 7u);
  EXPECT_EQ(m.cseq_method(), "INFO");
  EXPECT_EQ(m.from_uri(), "sip:chat@example.com");
  EXPECT_EQ(m.from_tag(), "srv1");
  EXPECT_EQ(m.to_tag(), "1234");
  EXPECT_EQ(m.body, "hello");
  EXPECT_TRUE(m.content_length_present);
}

TEST(SipWire, HeaderLookupIsCaseInsensitiveAndMapsCompactForms) {
  sip_message m;
  ASSERT_TRUE(parse_sip_head("SIP/2.0 200 OK\r\n"
                             "i: cid\r\n"
                             "f: <sip:a@b>;tag=x\r\n"
                             "t: <sip:c@d>;tag=y\r\n"
                             "CONTENT-LENGTH: 0\r\n"
                             "k: one\r\n"
                             "Supported: two\r\n",
                             m)
                  .ok());
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.reason, "OK");
  EXPECT_EQ(m.call_id(), "cid");
  EXPECT_EQ(m.from_tag(), "x");
  EXPECT_EQ(m.to_tag(), "y");
  ASSERT_NE(m.header("l"), nullptr);
  EXPECT_EQ(*m.header("l"), "0");
  ASSERT_NE(m.header("content-length"), nullptr);
  EXPECT_EQ(m.header_count("Supported"), 2u);
  auto values = m.header_values("k");
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[1], "two");
  EXPECT_EQ(m.header("Event"), nullptr);
}

TEST(SipWire, ContinuationLinesFoldIntoOneValue) {
  sip_message m;
  ASSERT_TRUE(
      parse_sip_head("SIP/2.0 200 OK\r\nSubject: first\r\n  second\r\n\tthird\r\n", m).ok());
  ASSERT_NE(m.header("Subject"), nullptr);
  EXPECT_EQ(*m.header("Subject"), "first second third");
}

TEST(SipWire, StatusLineWithoutReasonPhraseParsesWithEmptyReason) {
  sip_message m;
  ASSERT_TRUE(parse_sip_head("SIP/2.0 200\r\nCall-ID: x\r\n", m).ok());
  EXPECT_EQ(m.status, 200);
  EXPECT_TRUE(m.reason.empty());
}

TEST(SipWire, MalformedStartLinesAndHeadersAreErrors) {
  sip_message m;
  EXPECT_EQ(parse_sip_head("SIP/2.0 20 OK\r\n", m).c, wire_status::code::bad_start_line);
  EXPECT_EQ(parse_sip_head("INFO sip:x\r\n", m).c, wire_status::code::bad_start_line);
  EXPECT_EQ(parse_sip_head("INFO sip:x SIP/3.0\r\n", m).c, wire_status::code::bad_start_line);
  EXPECT_EQ(parse_sip_head("INFO sip:x SIP/2.0\r\nno colon here\r\n", m).c,
            wire_status::code::bad_header);
  EXPECT_EQ(parse_sip_head("INFO sip:x SIP/2.0\r\n continuation first\r\n", m).c,
            wire_status::code::bad_header);
}

TEST(SipWire, UriAndParamHelpers) {
  EXPECT_EQ(uri_of("\"Alice\" <sip:alice@example.com>;tag=1"), "sip:alice@example.com");
  EXPECT_EQ(uri_of("sip:bob@example.com;tag=2"), "sip:bob@example.com");
  EXPECT_EQ(header_param("<sip:a@b;transport=tcp>;tag=9;epid=e", "tag"), "9");
  EXPECT_EQ(header_param("<sip:a@b;tag=inside>", "tag"), "");  // URI params are not header params
  EXPECT_EQ(header_param("sip:a@b ; TAG = 5", "tag"), "5");
  EXPECT_EQ(header_param("<sip:a@b>;epid=e", "tag"), "");
}

// ---------------------------------------------------------------------------
// Stream framing.

TEST(SipFramer, ByteByByteDeliveryYieldsTheSameMessage) {
  sip_stream_framer f;
  auto msgs = frame_all(kInfo, 1, f);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].body, "hello");
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(SipFramer, EverySplitPointYieldsTheSameMessages) {
  const std::string two = std::string(kInfo) + std::string(kInfo);
  for (size_t chunk = 1; chunk <= two.size(); chunk += 7) {
    sip_stream_framer f;
    auto msgs = frame_all(two, chunk, f);
    ASSERT_EQ(msgs.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(msgs[1].body, "hello");
  }
}

TEST(SipFramer, SkipsCrlfKeepalivesBetweenMessages) {
  sip_stream_framer f;
  const std::string stream =
      "\r\n\r\n" + std::string(kInfo) + "\r\n\r\n\r\n" + std::string(kInfo) + "\r\n\r\n";
  auto msgs = frame_all(stream, 3, f);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(f.keepalive_bytes(), 14u);
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(SipFramer, KeepaliveOnlyStreamYieldsNothing) {
  sip_stream_framer f;
  auto msgs = frame_all("\r\n\r\n\r\n\r\n", 2, f);
  EXPECT_TRUE(msgs.empty());
  EXPECT_EQ(f.keepalive_bytes(), 8u);
}

TEST(SipFramer, MissingContentLengthWithoutContentTypeMeansEmptyBody) {
  sip_stream_framer f;
  auto msgs = frame_all("SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 ACK\r\n\r\n" + std::string(kInfo),
                        1000, f);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_FALSE(msgs[0].content_length_present);
  EXPECT_TRUE(msgs[0].body.empty());
  EXPECT_EQ(msgs[1].method, "INFO");
}

TEST(SipFramer, MissingContentLengthWithContentTypeIsFatal) {
  sip_stream_framer f;
  f.append("INFO sip:a SIP/2.0\r\nContent-Type: text/plain\r\n\r\nbody");
  sip_message m;
  EXPECT_EQ(f.next(m), sip_stream_framer::result::error);
  EXPECT_EQ(f.error().c, wire_status::code::missing_content_length);
}

TEST(SipFramer, CompactContentLengthFramesTheBody) {
  sip_stream_framer f;
  auto msgs = frame_all(
      "INFO sip:a SIP/2.0\r\nc: text/plain\r\nl: 3\r\n\r\nabcINFO sip:b SIP/2.0\r\n"
      "l: 0\r\n\r\n",
      5, f);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].body, "abc");
  EXPECT_EQ(msgs[1].request_uri, "sip:b");
}

TEST(SipFramer, BadContentLengthIsFatal) {
  sip_stream_framer f;
  f.append("INFO sip:a SIP/2.0\r\nContent-Length: 12x\r\n\r\n");
  sip_message m;
  EXPECT_EQ(f.next(m), sip_stream_framer::result::error);
  EXPECT_EQ(f.error().c, wire_status::code::bad_content_length);
}

TEST(SipFramer, OversizeContentLengthIsFatalBeforeTheBodyArrives) {
  sip_stream_framer f;
  f.append("INFO sip:a SIP/2.0\r\nContent-Length: 1048577\r\n\r\n");
  sip_message m;
  EXPECT_EQ(f.next(m), sip_stream_framer::result::error);
  EXPECT_EQ(f.error().c, wire_status::code::too_large);
}

TEST(SipFramer, MessageOfExactlyOneMebibyteIsAccepted) {
  const std::string head = "INFO sip:a SIP/2.0\r\nContent-Length: ";
  // Solve head + digits + "\r\n\r\n" + body == 1 MiB.
  const size_t digits = 7;
  const size_t body = kMaxSipMessageBytes - head.size() - digits - 4;
  std::string msg = head + std::to_string(body) + "\r\n\r\n" + std::string(body, 'x');
  ASSERT_EQ(msg.size(), kMaxSipMessageBytes);
  sip_stream_framer f;
  auto msgs = frame_all(msg, 65536, f);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].body.size(), body);

  sip_stream_framer g;
  std::string over = head + std::to_string(body + 1) + "\r\n\r\n" + std::string(body + 1, 'x');
  frame_all(over, 65536, g);
  EXPECT_EQ(g.error().c, wire_status::code::too_large);
}

TEST(SipFramer, EndlessHeaderBlockIsFatalAtTheLimit) {
  sip_stream_framer f(4096);
  std::string junk = "INFO sip:a SIP/2.0\r\n";
  while (junk.size() < 5000) junk += "X-Pad: 0123456789\r\n";
  f.append(junk);
  sip_message m;
  EXPECT_EQ(f.next(m), sip_stream_framer::result::error);
  EXPECT_EQ(f.error().c, wire_status::code::too_large);
}

TEST(SipFramer, ErrorIsStickyAndLaterBytesAreIgnored) {
  sip_stream_framer f;
  f.append("GARBAGE\r\n\r\n");
  sip_message m;
  EXPECT_EQ(f.next(m), sip_stream_framer::result::error);
  f.append(kInfo);
  EXPECT_EQ(f.next(m), sip_stream_framer::result::error);
  EXPECT_EQ(f.error().c, wire_status::code::bad_start_line);
}

TEST(SipDatagram, BodyIsCutToContentLengthAndKeepalivesAreEmpty) {
  sip_message m;
  ASSERT_TRUE(parse_sip_datagram(std::string(kInfo) + "trailing", m).ok());
  EXPECT_EQ(m.body, "hello");
  ASSERT_TRUE(parse_sip_datagram("\r\n\r\n", m).ok());
  EXPECT_TRUE(m.method.empty());
  EXPECT_EQ(m.status, 0);
  ASSERT_TRUE(parse_sip_datagram("SIP/2.0 200 OK\r\nCall-ID: a\r\n\r\nrest", m).ok());
  EXPECT_FALSE(m.content_length_present);
  EXPECT_EQ(m.body, "rest");
  EXPECT_EQ(parse_sip_datagram("SIP/2.0 200 OK\r\nContent-Length: 9\r\n\r\nabc", m).c,
            wire_status::code::bad_content_length);
}

// ---------------------------------------------------------------------------
// Builders: the exact text SIPE writes.

TEST(SipBuilders, InDialogRequestHasNoBranchAndTagBeforeEpid) {
  sip_request_spec s;
  s.method = "INFO";
  s.request_uri = "sip:chat@example.com:5060;transport=tcp";
  s.via_transport = "tcp";
  s.via_host = "127.0.0.2";
  s.via_port = 40123;
  s.from_uri = "sip:alice@example.com";
  s.from_tag = "12345678";
  s.epid = "0123456789";
  s.to_uri = "sip:chat@example.com";
  s.to_tag = "srv";
  s.cseq = 2;
  s.user_agent = "UA/1";
  s.call_id = "cid";
  s.extra_headers = "Content-Type: text/plain\r\n";
  s.body = "<x/>";
  EXPECT_EQ(build_request(s),
            "INFO sip:chat@example.com:5060;transport=tcp SIP/2.0\r\n"
            "Via: SIP/2.0/tcp 127.0.0.2:40123\r\n"
            "From: <sip:alice@example.com>;tag=12345678;epid=0123456789\r\n"
            "To: <sip:chat@example.com>;tag=srv\r\n"
            "Max-Forwards: 70\r\n"
            "CSeq: 2 INFO\r\n"
            "User-Agent: UA/1\r\n"
            "Call-ID: cid\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 4\r\n"
            "\r\n"
            "<x/>");
}

TEST(SipBuilders, OutOfDialogRequestCarriesBranchAndEmptyBodyLength) {
  sip_request_spec s;
  s.method = "REGISTER";
  s.request_uri = "sip:example.com";
  s.via_transport = "udp";
  s.via_host = "127.0.0.1";
  s.via_port = 5;
  s.branch = "z9hG4bKAB";
  s.from_uri = "sip:alice@example.com";
  s.from_tag = "1";
  s.epid = "e";
  s.to_uri = "sip:alice@example.com";
  s.cseq = 3;
  s.user_agent = "UA";
  s.call_id = "c";
  EXPECT_EQ(build_request(s),
            "REGISTER sip:example.com SIP/2.0\r\n"
            "Via: SIP/2.0/udp 127.0.0.1:5;branch=z9hG4bKAB\r\n"
            "From: <sip:alice@example.com>;tag=1;epid=e\r\n"
            "To: <sip:alice@example.com>\r\n"
            "Max-Forwards: 70\r\n"
            "CSeq: 3 REGISTER\r\n"
            "User-Agent: UA\r\n"
            "Call-ID: c\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipBuilders, ResponseKeepsOnlySipeHeadersInRequestOrder) {
  sip_stream_framer f;
  auto msgs = frame_all(kInfo, kInfo.size(), f);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(build_response(msgs[0], 487, "Request Terminated", "<sip:alice@example.com:1>", "UA"),
            "SIP/2.0 487 Request Terminated\r\n"
            "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
            "From: <sip:chat@example.com>;tag=srv1\r\n"
            "To: <sip:alice@example.com>;tag=1234;epid=abc\r\n"
            "Call-ID: call-1\r\n"
            "CSeq: 7 INFO\r\n"
            "Contact: <sip:alice@example.com:1>\r\n"
            "Content-Length: 0\r\n"
            "User-Agent: UA\r\n"
            "\r\n");
}

// ---------------------------------------------------------------------------
// XCCOS, client side.

TEST(ClientCodec, CommandBodiesAreSipesExactText) {
  EXPECT_EQ(encode_envelope(123456789, encode_requri_cmd()),
            "<xccos ver=\"1\" envid=\"123456789\" xmlns=\"urn:parlano:xml:ns:xccos\">"
            "<cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd></xccos>");
  EXPECT_EQ(encode_chansrch_cmd("BYNAME", "", false),
            "<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"\" "
            "extended=\"false\"/></data></cmd>");
  EXPECT_EQ(encode_join_cmd("ma-chan://example.com/a/b"),
            "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" domain=\"example.com\" "
            "value=\"a/b\"/></data></cmd>");
  EXPECT_EQ(encode_join_cmd("http://example.com/a"), "");
  EXPECT_EQ(encode_bjoin_cmd({"ma-chan://d/A", "bogus", "ma-chan://d/B"}),
            "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data><chanid key=\"0\" domain=\"d\" value=\"A\"/>"
            "<chanid key=\"1\" domain=\"d\" value=\"B\"/></data></cmd>");
  EXPECT_EQ(encode_part_cmd("ma-chan://d/A"),
            "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"ma-chan://d/A\"/></data></cmd>");
  EXPECT_EQ(encode_bccontext_cmd("ma-chan://d/A", 25),
            "<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"ma-chan://d/A\"/><bcq>"
            "<last cnt=\"25\"/></bcq></data></cmd>");
  EXPECT_EQ(encode_getinv_cmd("example.com"),
            "<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"1\" "
            "domain=\"example.com\"/></data></cmd>");
  EXPECT_EQ(encode_grpchat("ma-chan://d/A", "sip:alice@d", "2024-05-01T12:34:56Z",
                           "Hello & <welcome> \"it's\""),
            "<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/A\" author=\"sip:alice@d\" "
            "ts=\"2024-05-01T12:34:56Z\"><chat>Hello &amp; &lt;welcome&gt; &quot;it&apos;s&quot;"
            "</chat></grpchat>");
}

TEST(ClientCodec, ServerCodecDecodesEveryClientCommand) {
  // The two codecs are written separately: each client body must decode server-side.
  struct example {
    std::string inner;
    xccos::command_kind kind;
  };
  const std::vector<example> examples = {
      {encode_requri_cmd(), xccos::command_kind::requri},
      {encode_getserverinfo_cmd("example.com", "123"), xccos::command_kind::getserverinfo},
      {encode_chansrch_cmd("BYNAME", "Demo", false), xccos::command_kind::chansrch},
      {encode_join_cmd("ma-chan://example.com/r1"), xccos::command_kind::join},
      {encode_bjoin_cmd({"ma-chan://example.com/r1", "ma-chan://example.com/r2"}),
       xccos::command_kind::bjoin},
      {encode_part_cmd("ma-chan://example.com/r1"), xccos::command_kind::part},
      {encode_bccontext_cmd("ma-chan://example.com/r1", 25), xccos::command_kind::bccontext},
      {encode_getinv_cmd("example.com"), xccos::command_kind::getinv},
      {encode_getpref_cmd("kedzie.GroupChannels", "1"), xccos::command_kind::getpref},
      {encode_setpref_cmd("kedzie.GroupChannels", "1", "aGk="), xccos::command_kind::setpref},
      {encode_grpchat("ma-chan://example.com/r1", "sip:alice@example.com", "2024-05-01T12:34:56Z",
                      "a < b"),
       xccos::command_kind::grpchat},
  };
  for (const auto& ex : examples) {
    xccos::command c;
    auto st = xccos::decode(encode_envelope(42, ex.inner), c);
    EXPECT_TRUE(st.is_ok()) << st.reason() << " in " << ex.inner;
    EXPECT_EQ(c.kind, ex.kind) << ex.inner;
    EXPECT_EQ(c.envid, "42");
  }
  xccos::command c;
  ASSERT_TRUE(xccos::decode(encode_envelope(1, encode_bjoin_cmd({"ma-chan://example.com/r1",
                                                                 "ma-chan://example.com/r2"})),
                            c)
                  .is_ok());
  ASSERT_EQ(c.rooms.size(), 2u);
  EXPECT_EQ(c.rooms[1].uri, "ma-chan://example.com/r2");
  ASSERT_TRUE(xccos::decode(encode_envelope(1, encode_grpchat("ma-chan://example.com/r1",
                                                              "sip:a@example.com", "ts", "a < b")),
                            c)
                  .is_ok());
  EXPECT_EQ(c.chat.text, "a < b");
}

xccos::reply_head head(std::string id, int code = 200) {
  xccos::reply_head h;
  h.id = std::move(id);
  h.cmd_envid = "77";
  h.cmd_seqid = "1";
  h.code = static_cast<xccos::result_code>(code);
  h.envid = 9000000000000000000ull;
  return h;
}

xccos_reply decode_one_reply(const std::string& body) {
  push_batch b;
  std::string err;
  EXPECT_TRUE(decode_push(body, b, err)) << err << " in " << body;
  EXPECT_EQ(b.replies.size(), 1u) << body;
  return b.replies.empty() ? xccos_reply() : b.replies[0];
}

TEST(ClientCodec, DecodesServerJoinReplyWithMembersManagersAndFailures) {
  xccos::joined_room room{"ma-chan://example.com/r1",
                          "Room 1",
                          "Topic & more",
                          {{"sip:alice@example.com", false}, {"sip:bob@example.com", true}}};
  auto r = decode_one_reply(
      xccos::encode_join_reply(head("rpl:bjoin"), {room}, {"ma-chan://example.com/gone"}));
  EXPECT_EQ(r.id, "rpl:bjoin");
  EXPECT_EQ(r.cmd_envid, "77");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.text, "SUCCESS_OK");
  ASSERT_EQ(r.joined.size(), 1u);
  EXPECT_EQ(r.joined[0].uri, "ma-chan://example.com/r1");
  EXPECT_EQ(r.joined[0].name, "Room 1");
  EXPECT_EQ(r.joined[0].topic, "Topic & more");
  EXPECT_EQ(r.joined[0].members, std::vector<std::string>{"sip:alice@example.com"});
  EXPECT_EQ(r.joined[0].managers, std::vector<std::string>{"sip:bob@example.com"});
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].uri, "ma-chan://example.com/gone");
  EXPECT_EQ(r.failed[0].key, "OPERATION_FAILED");
}

TEST(ClientCodec, DecodesServerChansrchBackchatRequriPartPrefAndServerInfo) {
  xccos::room_summary s;
  s.uri = "ma-chan://example.com/r1";
  s.name = "Demo Room";
  s.description = "desc";
  s.user_count = 5;
  s.is_private = true;
  s.file_post = true;
  auto rooms = decode_one_reply(xccos::encode_chansrch_reply(head("rpl:chansrch"), {s}));
  ASSERT_EQ(rooms.rooms.size(), 1u);
  EXPECT_EQ(rooms.rooms[0].name, "Demo Room");
  EXPECT_EQ(rooms.rooms[0].description, "desc");
  EXPECT_EQ(rooms.rooms[0].user_count, 5);
  EXPECT_TRUE(rooms.rooms[0].is_private);
  EXPECT_TRUE(rooms.rooms[0].file_post);
  EXPECT_FALSE(rooms.rooms[0].invite);
  EXPECT_TRUE(rooms.rooms[0].logged);

  xccos::chat_message m{"ma-chan://example.com/r1", "sip:bob@example.com",
                        "2024-05-01T12:34:57.1234567Z", "old\r\nline & more", ""};
  auto hist = decode_one_reply(
      xccos::encode_backchat_reply(head("rpl:bccontext"), "ma-chan://example.com/r1", {m, m}));
  EXPECT_EQ(hist.room_uri, "ma-chan://example.com/r1");
  ASSERT_EQ(hist.messages.size(), 2u);
  EXPECT_EQ(hist.messages[0].author, "sip:bob@example.com");
  EXPECT_EQ(hist.messages[0].text, "old\r\nline & more");
  EXPECT_NE(hist.messages[0].ts_micros, 0);

  auto uri = decode_one_reply(xccos::encode_requri_reply(head("rpl:requri"), "sip:chat@x"));
  EXPECT_EQ(uri.channel_uri, "sip:chat@x");

  auto part = decode_one_reply(xccos::encode_part_reply(head("rpl:part"), "ma-chan://d/r"));
  EXPECT_EQ(part.room_uri, "ma-chan://d/r");

  auto pref =
      decode_one_reply(xccos::encode_getpref_reply(head("rpl:getpref"), {"L", "3", "aGk="}));
  EXPECT_TRUE(pref.has_pref);
  EXPECT_EQ(pref.pref_label, "L");
  EXPECT_EQ(pref.pref_content, "aGk=");

  xccos::server_info info;
  info.domain = "example.com";
  info.root_uri = "ma-cat://example.com/root";
  auto si = decode_one_reply(xccos::encode_serverinfo_reply(head("rpl:getservinfo"), info));
  bool has_root = false;
  for (const auto& [k, v] : si.server_info) has_root |= k == "rootUri" && v == info.root_uri;
  EXPECT_TRUE(has_root);

  auto err = decode_one_reply(xccos::encode_empty_reply(head("rpl:join", 404)));
  EXPECT_EQ(err.code, 404);
  EXPECT_FALSE(err.text.empty());
}

TEST(ClientCodec, DecodesNoticesAndLiveMessages) {
  push_batch b;
  std::string err;
  ASSERT_TRUE(decode_push(
      xccos::encode_join_notice("ma-chan://example.com/r1", "sip:carol@example.com", true, 1), b,
      err))
      << err;
  ASSERT_EQ(b.roster.size(), 1u);
  EXPECT_EQ(b.roster[0].what, roster_event::kind::join);
  EXPECT_EQ(b.roster[0].room, "ma-chan://example.com/r1");
  EXPECT_EQ(b.roster[0].user, "sip:carol@example.com");
  EXPECT_TRUE(b.roster[0].manager);

  ASSERT_TRUE(decode_push(
      xccos::encode_part_notice("ma-chan://example.com/r1", "sip:carol@example.com", 2), b, err));
  ASSERT_EQ(b.roster.size(), 1u);
  EXPECT_EQ(b.roster[0].what, roster_event::kind::part);

  xccos::chat_message m{"ma-chan://example.com/r1", "sip:bob@example.com", "2024-05-01T12:34:57Z",
                        "hi <there>", ""};
  ASSERT_TRUE(decode_push(xccos::encode_grpchat(m, 3), b, err));
  ASSERT_TRUE(b.message.has_value());
  EXPECT_EQ(b.message->room, m.chan_uri);
  EXPECT_EQ(b.message->text, "hi <there>");
}

TEST(ClientCodec, MergedRepliesAllCountAndMissingRespMeans500) {
  const std::string body =
      "<x:xccos xmlns:x=\"urn:parlano:xml:ns:xccos\" ver=\"1\" envid=\"5\">"
      "<x:rpl id=\"rpl:part\" seqid=\"1\"><x:commandid seqid=\"1\" envid=\"1\"/>"
      "<x:resp code=\"200\">SUCCESS_OK</x:resp><x:data><x:chanib uri=\"ma-chan://d/a\"/></x:data>"
      "</x:rpl><x:rpl id=\"RPL:JOIN\" seqid=\"1\"><x:commandid seqid=\"1\" ENVID=\"2\"/></x:rpl>"
      "<x:ntc id=\"ntc:join\"/></x:xccos>";
  push_batch b;
  std::string err;
  ASSERT_TRUE(decode_push(body, b, err)) << err;
  ASSERT_EQ(b.replies.size(), 2u);
  EXPECT_EQ(b.replies[0].room_uri, "ma-chan://d/a");
  EXPECT_EQ(b.replies[1].cmd_envid, "2");  // attribute names are case-insensitive
  EXPECT_EQ(b.replies[1].code, 500);
  EXPECT_FALSE(b.replies[1].has_resp);
  EXPECT_TRUE(b.roster.empty());  // ntc ignored when rpl is present
}

TEST(ClientCodec, MalformedAndEmptyBodiesAreErrors) {
  push_batch b;
  std::string err;
  EXPECT_FALSE(decode_push("<xccos><rpl", b, err));
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(decode_push("<xccos ver=\"1\"/>", b, err));
}

TEST(ClientCodec, ReplyIdMatching) {
  EXPECT_TRUE(reply_matches_command("rpl:join", "cmd:join"));
  EXPECT_TRUE(reply_matches_command("RPL:Join", "cmd:join"));
  EXPECT_TRUE(reply_matches_command("rpl:getservinfo", "cmd:getserverinfo"));
  EXPECT_TRUE(reply_matches_command("rpl:getserverinfo", "cmd:getserverinfo"));
  EXPECT_FALSE(reply_matches_command("rpl:bjoin", "cmd:join"));
  EXPECT_FALSE(reply_matches_command("rpl:join", "grpchat"));
}

TEST(ClientCodec, ProvisioningAsSipeReadsIt) {
  provisioning_info p;
  std::string err;
  ASSERT_TRUE(parse_provisioning(
      "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/"
      "provisiongrouplist-notification\"><provisionGroup name=\"ServerConfiguration\">"
      "<mrasUri>x</mrasUri></provisionGroup><provisionGroup name=\"persistentChatConfiguration\">"
      "<propertyEntryList><property name=\"EnablePersistentChat\">true</property>"
      "<property name=\"DefaultPersistentChatPoolUri\">sip:chat@example.com</property>"
      "</propertyEntryList></provisionGroup></provisionGroupList>",
      p, err))
      << err;
  EXPECT_TRUE(p.has_chat_group);
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.pool_uri, "sip:chat@example.com");
  EXPECT_EQ(p.unwanted_server_config, std::vector<std::string>{"mrasUri"});

  ASSERT_TRUE(parse_provisioning(
      "<provisionGroupList><provisionGroup name=\"persistentChatConfiguration\">"
      "<propertyEntryList><property name=\"EnablePersistentChat\">True</property>"
      "</propertyEntryList></provisionGroup></provisionGroupList>",
      p, err));
  EXPECT_FALSE(p.enabled);  // exactly "true", as SIPE compares
}

TEST(ClientCodec, TimestampsAreWholeSecondsUtc) {
  // What chat_client::post sends as ts when given none (sipe_utils_time_to_str).
  EXPECT_EQ(utc::seconds_timestamp(1714566896999999), "2024-05-01T12:34:56Z");
}

// ---------------------------------------------------------------------------
// Loop.

TEST(ClientLoop, TimersFireInDeadlineOrderAndCancelledOnesDoNot) {
  client_loop loop;
  ASSERT_TRUE(loop.ok()) << loop.error();
  std::vector<int> fired;
  loop.add_timer(30ms, [&] { fired.push_back(3); });
  loop.add_timer(10ms, [&] { fired.push_back(1); });
  auto cancelled = loop.add_timer(20ms, [&] { fired.push_back(2); });
  loop.cancel_timer(cancelled);
  EXPECT_TRUE(loop.run_until([&] { return fired.size() == 2; }, 2s));
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_EQ(loop.live_timers(), 0u);
}

TEST(ClientLoop, RunUntilStopsAtTheDeadline) {
  client_loop loop;
  auto start = client_loop::clock::now();
  EXPECT_FALSE(loop.run_until([] { return false; }, 60ms));
  auto took = client_loop::clock::now() - start;
  EXPECT_GE(took, 60ms);
  EXPECT_LT(took, 1s);
}

TEST(ClientLoop, ManyCancelledTimersDoNotAccumulate) {
  client_loop loop;
  for (int i = 0; i < 20000; ++i) loop.cancel_timer(loop.add_timer(1h, [] {}));
  EXPECT_EQ(loop.live_timers(), 0u);
  int fired = 0;
  loop.add_timer(1ms, [&] { ++fired; });
  EXPECT_TRUE(loop.run_until([&] { return fired == 1; }, 2s));
}

}  // namespace
}  // namespace pchat::client
