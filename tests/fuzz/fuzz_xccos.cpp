// libFuzzer target: the XCCOS decoder on an INFO body, as the session actor calls it. What
// the server echoes from a decoded command must come out as well-formed XCCOS again:
//  - an error reply carries the command's envid and seqid back;
//  - a decoded post holds only valid text and, pushed to the room (encode_grpchat), decodes
//    to the same post.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/xccos/xccos_codec.h"
#include "text/valid_text.h"
#include "tests/fuzz/fuzz_check.h"

using namespace pchat::xccos;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  command cmd;
  pchat::status st = decode(body, cmd);
  FUZZ_CHECK(st.is_ok() || !st.reason().empty());

  reply_head h;
  h.id = "rpl:x";
  h.cmd_envid = cmd.envid;
  h.cmd_seqid = cmd.seqid;
  h.code = st.is_ok() ? result_code::ok : result_code::bad_request;
  h.text = st.reason();
  std::string reply = encode_empty_reply(h);
  FUZZ_CHECK(!reply.empty());

  if (st.is_ok() && cmd.kind == command_kind::grpchat) {
    // The decoder admits only valid text (text/valid_text.h), so nothing is repaired on the
    // way out and the post comes back unchanged.
    FUZZ_CHECK(pchat::text::valid(cmd.chat.text) && pchat::text::valid(cmd.chat.chan_uri) &&
               pchat::text::valid(cmd.chat.author));
    std::string pushed = encode_grpchat(cmd.chat, 42);
    command again;
    pchat::status st2 = decode(pushed, again);
    if (!st2.is_ok()) std::fprintf(stderr, "re-decode failed: %s\n", st2.reason().c_str());
    FUZZ_CHECK(st2.is_ok());
    FUZZ_CHECK(again.kind == command_kind::grpchat);
    auto same = [](const std::string& what, const std::string& a, const std::string& b) {
      if (a != b) std::fprintf(stderr, "%s changed: [%s] -> [%s]\n", what.c_str(), a.c_str(), b.c_str());
      return a == b;
    };
    FUZZ_CHECK(same("text", cmd.chat.text, again.chat.text));
    FUZZ_CHECK(same("chanUri", cmd.chat.chan_uri, again.chat.chan_uri));
    FUZZ_CHECK(same("author", cmd.chat.author, again.chat.author));
  }
  return 0;
}
