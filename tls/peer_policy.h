// What pchatd grants a connecting peer by its address and its TLS client certificate:
// whether it may speak without TLS (--plain) and whether it is a trusted front end that may
// assert users without Digest (--trusted-peer). Used by the SIP edge and the HTTP server.
//
// --plain: loopback (default) accepts unencrypted connections from loopback addresses only
// (127.0.0.0/8, ::1), off from nobody, on from everybody.
// A trusted peer is named by its address (an IPv4/IPv6 literal: every connection from it)
// or by the SHA-256 fingerprint of the client certificate it presents over TLS.
//
// Thread safety: an immutable value once built; share it by const reference.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "status/status.h"

namespace pchat::tls {

enum class plain_mode { loopback, off, on };

struct peer_policy {
  plain_mode plain = plain_mode::loopback;
  std::vector<std::string> trusted_addresses;     // canonical address text
  std::vector<std::string> trusted_fingerprints;  // tls/certificate.h form
  // TESTS ONLY: loopback addresses treated as remote (a second loopback address stands in
  // for another machine in tests that must stay on 127.0.0.0/8).
  std::vector<std::string> remote_for_tests;

  // Parses "loopback", "off" or "on".
  static status parse_plain(std::string_view text, plain_mode* out);
  // Adds one --trusted-peer value: a fingerprint (64 hex digits, colons optional) or an
  // address literal; anything else is refused with the reason.
  status add_trusted_peer(std::string_view text);

  // `address` is the peer's IP address as text (no port).
  bool is_local(const std::string& address) const;
  bool plain_allowed(const std::string& address) const;
  // `fingerprint`: of the certificate the peer presented over TLS, empty if none (or plain).
  bool trusted(const std::string& address, const std::string& fingerprint) const;
  bool any_trusted() const { return !trusted_addresses.empty() || !trusted_fingerprints.empty(); }
};

const char* to_string(plain_mode m);

}  // namespace pchat::tls
