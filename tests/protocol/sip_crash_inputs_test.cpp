// Inputs that once crashed pchatd's SIP edge (found by fuzzing, tests/fuzz), replayed through
// the parser and the stream framer as the endpoint uses them. Each input is also kept in the
// fuzz corpus (tests/fuzz/corpus/sip_stream, sip_datagram). The same bytes are sent to a
// running pchatd over TCP and UDP by tests/e2e/hostile_input_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/sip/sip_framer.h"
#include "protocol/sip/sip_message.h"

using namespace pchat::sip;

namespace {

const std::string kHead =
    "INFO sip:chat@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
    "From: <sip:bob@example.com>;tag=1\r\nTo: <sip:chat@example.com>;tag=2\r\nCall-ID: abc\r\n";

// Two Content-Length values: sofia keeps the second as an error header whose er_name field
// overlays the parsed length (0x1, 0x7: not pointers). Reading er_name was SIGSEGV.
const std::vector<std::string> kBadHeaderRequests = {
    kHead + "CSeq: 1 INFO\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n",
    kHead + "CSeq: 1 INFO\r\nl: 0\r\nl: 7\r\n\r\n",
    kHead + "CSeq: 1 INFO x\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n",
};

// A status line cut after "SIP/2.0 ": substr(8) of the trimmed line threw std::out_of_range
// on the SIP thread (std::terminate).
const std::vector<std::string> kBareStatusLines = {"SIP/2.0 \r\n\r\n", "SIP/2.0 \n\n", "SIP/2.0 "};

}  // namespace

TEST(SipCrashInputs, BadHeaderRequestIsRefusedWithAReasonAndCanBeAnswered) {
  for (const auto& bytes : kBadHeaderRequests) {
    sip_message m;
    auto r = parse_message(bytes, &m);
    EXPECT_FALSE(r.ok()) << bytes;
    EXPECT_EQ(r.result.reason(), "malformed SIP request") << bytes;
    // Via, From, To, Call-ID and CSeq are all there: the endpoint answers 400.
    EXPECT_TRUE(r.can_respond) << bytes;
    EXPECT_TRUE(m.is_request);
  }
}

TEST(SipCrashInputs, BadHeaderRequestThroughTheFramerLeavesTheStreamUsable) {
  // The framer takes the first Content-Length (0), so each input is one frame; the valid
  // OPTIONS behind it must still come out whole.
  const std::string next = "OPTIONS sip:chat@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\n"
                           "From: <sip:bob@example.com>;tag=1\r\nTo: <sip:chat@example.com>\r\n"
                           "Call-ID: def\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  for (const auto& bad : kBadHeaderRequests) {
    sip_framer f(16 * 1024, 256 * 1024);
    std::string stream = bad + next;
    f.append(stream.data(), stream.size());
    frame fr;
    ASSERT_EQ(f.next(&fr), sip_framer::result::message);
    EXPECT_EQ(fr.bytes, bad);
    sip_message m;
    EXPECT_FALSE(parse_message(fr.bytes, &m).ok());
    ASSERT_EQ(f.next(&fr), sip_framer::result::message);
    sip_message ok;
    ASSERT_TRUE(parse_message(fr.bytes, &ok).ok());
    EXPECT_EQ(ok.method, "OPTIONS");
    EXPECT_EQ(f.next(&fr), sip_framer::result::need_more);
  }
}

TEST(SipCrashInputs, BareStatusLineIsAMalformedResponse) {
  for (const auto& bytes : kBareStatusLines) {
    sip_message m;
    auto r = parse_message(bytes, &m);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.result.reason(), "malformed status line");
    EXPECT_FALSE(m.is_request);
  }
  sip_framer f(16 * 1024, 256 * 1024);
  f.append(kBareStatusLines[0].data(), kBareStatusLines[0].size());
  frame fr;
  ASSERT_EQ(f.next(&fr), sip_framer::result::message);
  sip_message m;
  EXPECT_FALSE(parse_message(fr.bytes, &m).ok());
}
