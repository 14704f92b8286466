#include "pool/pool_settings.h"

#include <arpa/inet.h>

#include <charconv>

namespace pchat::pool {
namespace {

constexpr size_t kMaxEndpoints = 16;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

status parse_one(std::string_view url, etcd_endpoint* out) {
  const std::string_view scheme = "http://";
  std::string shown(url);
  if (url.substr(0, scheme.size()) != scheme)
    return status::invalid_argument("etcd endpoint '" + shown + "' must start with http://");
  url.remove_prefix(scheme.size());
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return status::invalid_argument("etcd endpoint '" + shown + "' must be http://HOST:PORT");
  std::string_view host = url.substr(0, colon), port = url.substr(colon + 1);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);  // IPv6
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    return status::invalid_argument("etcd endpoint '" + shown + "' has no port 1..65535");
  if (host.empty() || host.find_first_of("/?#@ ") != std::string_view::npos)
    return status::invalid_argument("etcd endpoint '" + shown + "' has no valid host");
  out->host = std::string(host);
  out->port = static_cast<uint16_t>(p);
  return status::ok();
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.' || name.front() == '-')
    return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

status parse_etcd_endpoints(std::string_view list, std::vector<etcd_endpoint>* out) {
  out->clear();
  while (true) {
    auto comma = list.find(',');
    etcd_endpoint e;
    if (auto s = parse_one(list.substr(0, comma), &e); !s.is_ok()) return s;
    out->push_back(std::move(e));
    if (out->size() > kMaxEndpoints)
      return status::invalid_argument("at most " + std::to_string(kMaxEndpoints) + " etcd endpoints");
    if (comma == std::string_view::npos) return status::ok();
    list.remove_prefix(comma + 1);
  }
}

status check(const pool_settings& s) {
  if (s.etcd.empty()) return status::invalid_argument("--etcd names no endpoint");
  if (s.node_name.empty())
    return status::invalid_argument("--node-name is required with --etcd (a stable name for this node)");
  if (!valid_name(s.node_name))
    return status::invalid_argument("--node-name must be 1..63 of A-Z a-z 0-9 . _ - (not starting with . or -)");
  if (!valid_name(s.pool_name))
    return status::invalid_argument("--pool-name must be 1..63 of A-Z a-z 0-9 . _ - (not starting with . or -)");
  in_addr a4{};
  in6_addr a6{};
  bool v4 = inet_pton(AF_INET, s.host.c_str(), &a4) == 1, v6 = inet_pton(AF_INET6, s.host.c_str(), &a6) == 1;
  if (!v4 && !v6) return status::invalid_argument("--pool-host must be a numeric IPv4 or IPv6 address");
  if ((v4 && a4.s_addr == INADDR_ANY) || (v6 && IN6_IS_ADDR_UNSPECIFIED(&a6)))
    return status::invalid_argument(
        "--pool-host must be the address other nodes connect to, not a wildcard (0.0.0.0, ::)");
  return status::ok();
}

}  // namespace pchat::pool
