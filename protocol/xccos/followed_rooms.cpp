#include "protocol/xccos/followed_rooms.h"

#include <algorithm>

#include "text/base64.h"

namespace pchat::xccos {
namespace {

// Ends a URI inside whatever a client wrapped the list in (lines, XML, JSON, CSV).
bool ends_uri(char c) {
  return static_cast<unsigned char>(c) <= 0x20 || c == '"' || c == '\'' || c == '<' || c == '>' ||
         c == ',' || c == ';' || c == '&' || c == '[' || c == ']' || c == '{' || c == '}' ||
         c == 0x7f;
}

}  // namespace

std::vector<std::string> decode_followed_rooms(std::string_view stored) {
  auto decoded = text::base64_decode(stored);
  std::string_view t = decoded ? std::string_view(*decoded) : stored;
  std::vector<std::string> out;
  constexpr std::string_view kScheme = "ma-chan://";
  for (size_t at = t.find(kScheme); at != std::string_view::npos; at = t.find(kScheme, at)) {
    size_t end = at + kScheme.size();
    while (end < t.size() && !ends_uri(t[end])) ++end;
    std::string uri(t.substr(at, end - at));
    at = end;
    if (uri.size() == kScheme.size()) continue;
    if (std::find(out.begin(), out.end(), uri) == out.end()) out.push_back(std::move(uri));
  }
  return out;
}

std::string encode_followed_rooms(const std::vector<std::string>& rooms) {
  std::string t;
  for (auto& r : rooms) t += r + "\n";
  return t.empty() ? std::string() : text::base64_encode(t);
}

}  // namespace pchat::xccos
