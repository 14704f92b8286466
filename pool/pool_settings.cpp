#include "pool/pool_settings.h"

#include <arpa/inet.h>

#include <memory>

#include "pool/etcd_client.h"

namespace pchat::pool {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.' || name.front() == '-')
    return false;
  for (char c : name)
    if (!name_char(c)) return false;
  return true;
}

status check(const pool_settings& s) {
  std::unique_ptr<etcd_client> client;  // parses the endpoints, connects to nothing
  if (auto e = etcd_client::create(s.etcd, etcd_options{}, &client); !e.is_ok())
    return status::invalid_argument("--etcd: " + e.reason());
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
