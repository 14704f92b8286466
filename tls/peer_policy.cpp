#include "tls/peer_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "tls/certificate.h"

namespace pchat::tls {
namespace {

// The address in its canonical text form (IPv4-mapped IPv6 as IPv4), or empty.
std::string canonical(std::string_view text) {
  std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    char buf[INET_ADDRSTRLEN];
    return inet_ntop(AF_INET, &a4, buf, sizeof buf) ? buf : "";
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      in_addr v4;
      std::memcpy(&v4, &a6.s6_addr[12], 4);
      char buf[INET_ADDRSTRLEN];
      return inet_ntop(AF_INET, &v4, buf, sizeof buf) ? buf : "";
    }
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, &a6, buf, sizeof buf) ? buf : "";
  }
  return {};
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const char* to_string(plain_mode m) {
  switch (m) {
    case plain_mode::loopback: return "loopback";
    case plain_mode::off: return "off";
    case plain_mode::on: return "on";
  }
  return "?";
}

status peer_policy::parse_plain(std::string_view text, plain_mode* out) {
  if (text == "loopback") *out = plain_mode::loopback;
  else if (text == "off") *out = plain_mode::off;
  else if (text == "on") *out = plain_mode::on;
  else return status::invalid_argument("--plain must be loopback, off or on");
  return status::ok();
}

status peer_policy::add_trusted_peer(std::string_view text) {
  if (std::string fp = normalize_fingerprint(text); !fp.empty()) {
    trusted_fingerprints.push_back(fp);
    return status::ok();
  }
  if (std::string a = canonical(text); !a.empty()) {
    trusted_addresses.push_back(a);
    return status::ok();
  }
  return status::invalid_argument("--trusted-peer '" + std::string(text) +
                                  "' is neither a SHA-256 certificate fingerprint (64 hex digits) nor an IP address");
}

bool peer_policy::is_local(const std::string& address) const {
  std::string a = canonical(address);
  if (a.empty() || contains(remote_for_tests, a)) return false;
  if (a == "::1") return true;
  in_addr a4{};
  return inet_pton(AF_INET, a.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool peer_policy::plain_allowed(const std::string& address) const {
  switch (plain) {
    case plain_mode::on: return true;
    case plain_mode::off: return false;
    case plain_mode::loopback: return is_local(address);
  }
  return false;
}

bool peer_policy::trusted(const std::string& address, const std::string& fingerprint) const {
  if (!fingerprint.empty() && contains(trusted_fingerprints, fingerprint)) return true;
  std::string a = canonical(address);
  return !a.empty() && contains(trusted_addresses, a);
}

}  // namespace pchat::tls
