#include "protocol/webchat/read_markers.h"

namespace pchat::webchat {

std::map<std::string, uint64_t> decode_read_markers(std::string_view stored) {
  std::map<std::string, uint64_t> out;
  while (!stored.empty()) {
    size_t end = stored.find('\n');
    std::string_view line = stored.substr(0, end);
    stored = end == std::string_view::npos ? std::string_view() : stored.substr(end + 1);
    size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space > 20 || space + 1 == line.size())
      continue;
    uint64_t seq = 0;
    bool digits = true;
    for (char c : line.substr(0, space)) {
      if (c < '0' || c > '9')
        digits = false;
      else
        seq = seq * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!digits || (space == 20 && line.substr(0, space) > "18446744073709551615")) continue;
    out[std::string(line.substr(space + 1))] = seq;
  }
  return out;
}

std::string encode_read_markers(const std::map<std::string, uint64_t>& markers) {
  std::string out;
  for (auto& [uri, seq] : markers)
    if (!uri.empty() && uri.find('\n') == std::string::npos)
      out += std::to_string(seq) + " " + uri + "\n";
  return out;
}

}  // namespace pchat::webchat
