#include "web/http_target.h"

namespace pchat::web {
namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string url_decode(const std::string& s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

void parse_target(std::string_view target, std::string* path,
                  std::map<std::string, std::string>* query) {
  size_t q = target.find('?');
  *path = url_decode(std::string(target.substr(0, q)), false);
  if (q == std::string_view::npos) return;
  std::string qs(target.substr(q + 1));
  size_t pos = 0;
  while (pos <= qs.size()) {
    size_t amp = qs.find('&', pos);
    std::string kv = qs.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = kv.find('=');
    if (!kv.empty())
      (*query)[url_decode(kv.substr(0, eq), true)] =
          eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1), true);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
}

std::optional<std::pair<uint64_t, uint64_t>> parse_byte_range(std::string_view value, uint64_t size) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.substr(0, 6) != "bytes=" || value.find(',') != std::string_view::npos) return std::nullopt;
  value.remove_prefix(6);
  size_t dash = value.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view digits, uint64_t* out) {
    if (digits.empty() || digits.size() > 19) return false;
    *out = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      *out = *out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  const std::pair<uint64_t, uint64_t> unsatisfiable{1, 0};
  uint64_t first = 0, last = 0;
  if (dash == 0) {  // "-N": the last N bytes
    if (!number(value.substr(1), &last)) return std::nullopt;
    if (last == 0 || size == 0) return unsatisfiable;
    return std::pair<uint64_t, uint64_t>{size - std::min(last, size), size - 1};
  }
  if (!number(value.substr(0, dash), &first)) return std::nullopt;
  if (dash + 1 == value.size()) {
    last = UINT64_MAX;
  } else if (!number(value.substr(dash + 1), &last) || last < first) {
    return std::nullopt;  // syntactically invalid: ignored, as RFC 9110 says
  }
  if (first >= size) return unsatisfiable;
  return std::pair<uint64_t, uint64_t>{first, std::min(last, size - 1)};
}

}  // namespace pchat::web
