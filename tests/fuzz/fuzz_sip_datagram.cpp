// libFuzzer target: one SIP datagram as the endpoint's UDP path takes it: leading CR/LF
// dropped (keep-alives), then the full parser, or the headers-only path for an oversized
// datagram; an answerable request gets a response built from its echoed headers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/sip/sip_message.h"
#include "tests/fuzz/fuzz_check.h"

using namespace pchat::sip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view dgram(reinterpret_cast<const char*>(data), size);
  while (!dgram.empty() && (dgram.front() == '\r' || dgram.front() == '\n')) dgram.remove_prefix(1);
  if (dgram.empty()) return 0;
  for (bool oversized : {false, true}) {
    sip_message m;
    parse_result r = oversized ? parse_headers_only(dgram, &m) : parse_message(dgram, &m);
    FUZZ_CHECK(r.ok() || !r.result.reason().empty());
    if (m.is_request && r.can_respond) {
      std::string resp = build_response(m, 400, {}, "srvtag", "Warning: 399 pchat \"x\"\r\n");
      FUZZ_CHECK(resp.starts_with("SIP/2.0 400 "));
    }
  }
  return 0;
}
