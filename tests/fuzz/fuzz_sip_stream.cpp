// libFuzzer target: SIP over TCP as the endpoint reads it. The input is a byte stream cut
// into reads of varying size; each complete frame goes through the parser (or the
// headers-only path when its body was refused as oversized), and every request that can be
// answered gets a response built from its echoed headers, as sip_endpoint does.
//
// Input layout: byte 0 seeds the read sizes, byte 1 the header limit, byte 2 the body limit
// (small limits, so the error and skip paths run on short inputs); the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/sip/sip_framer.h"
#include "protocol/sip/sip_message.h"
#include "tests/fuzz/fuzz_check.h"

using namespace pchat::sip;

namespace {

void handle(const frame& fr) {
  sip_message m;
  parse_result r = fr.oversized ? parse_headers_only(fr.bytes, &m) : parse_message(fr.bytes, &m);
  FUZZ_CHECK(r.ok() || !r.result.reason().empty() || fr.oversized);
  if (m.is_request && r.can_respond) {
    std::string resp = build_response(m, r.ok() ? 200 : 400, {}, "srvtag", {});
    FUZZ_CHECK(resp.starts_with("SIP/2.0 "));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  uint32_t rng = data[0] * 2654435761u + 1;
  const size_t max_header = 32 + size_t{data[1]} * 8;
  const size_t max_body = size_t{data[2]} * 4;
  std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);
  sip_framer framer(max_header, max_body);
  size_t pos = 0;
  while (pos < stream.size()) {
    rng = rng * 1103515245u + 12345u;
    size_t n = std::min<size_t>(stream.size() - pos, 1 + (rng >> 16) % 200);
    framer.append(stream.data() + pos, n);
    pos += n;
    frame fr;
    for (;;) {
      auto res = framer.next(&fr);
      if (res == sip_framer::result::need_more) break;
      if (res == sip_framer::result::error) {
        FUZZ_CHECK(!framer.error_reason().empty());
        return 0;  // the endpoint closes the connection
      }
      if (!fr.oversized) FUZZ_CHECK(fr.bytes.size() <= max_header + 4 + max_body);
      handle(fr);
    }
  }
  return 0;
}
