// libFuzzer target: an HTTP/1.1 request as web/http_server reads it: Beast's request parser
// with the server's head and body limits, fed in pieces, then what pchat reads out of the
// head itself: the target's path and query (web/http_target.h), header names lower-cased,
// and a Range header against a file size taken from the input.
//
// Input layout: byte 0 seeds the read sizes, bytes 1..2 the file size for Range; the rest is
// the connection's bytes (keep-alive: several requests may follow one another).
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.h"
#include "web/http_target.h"

namespace bhttp = boost::beast::http;

namespace {

constexpr size_t kMaxHead = 16 * 1024;  // web/http_server.h http_limits defaults
constexpr size_t kMaxBody = 1 << 20;

void on_head(const bhttp::request<bhttp::string_body>& head, uint64_t file_size) {
  std::string path;
  std::map<std::string, std::string> query;
  pchat::web::parse_target(std::string_view(head.target().data(), head.target().size()), &path, &query);
  FUZZ_CHECK(path.size() <= head.target().size());
  std::map<std::string, std::string> headers;
  for (const auto& field : head) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers[name] = std::string(field.value());
  }
  if (auto range = headers.find("range"); range != headers.end()) {
    if (auto r = pchat::web::parse_byte_range(range->second, file_size); r && r->first <= r->second) {
      FUZZ_CHECK(r->second < file_size);  // a satisfiable range lies inside the file
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  uint32_t rng = data[0] * 2654435761u + 1;
  const uint64_t file_size = uint64_t{data[1]} << 8 | data[2];
  std::string_view in(reinterpret_cast<const char*>(data) + 3, size - 3);
  // `received` bytes at the front of `in` have arrived and are not consumed yet: Beast takes
  // nothing until a whole header line is there, so what is offered grows with each read,
  // as the server's buffer does.
  size_t received = 0;
  for (int requests = 0; requests < 16 && !in.empty(); ++requests) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(kMaxHead));
    parser.body_limit(kMaxBody);
    bool head_seen = false;
    while (!parser.is_done()) {
      rng = rng * 1103515245u + 12345u;
      received = std::min(in.size(), received + 1 + (rng >> 16) % 512);
      boost::beast::error_code ec;
      size_t used = parser.put(boost::asio::buffer(in.data(), received), ec);
      FUZZ_CHECK(used <= received);
      in.remove_prefix(used);
      received -= used;
      if (ec == bhttp::error::need_more) {
        if (received == in.size()) return 0;  // the connection ends mid-request
        continue;
      }
      if (ec) return 0;  // 400, 413 or 431, and the connection is closed
      if (parser.is_header_done() && !head_seen) {
        head_seen = true;
        on_head(parser.get(), file_size);
      }
      if (used == 0 && received == in.size() && !parser.is_done()) return 0;
    }
    FUZZ_CHECK(parser.get().body().size() <= kMaxBody);
  }
  return 0;
}
