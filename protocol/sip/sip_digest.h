// SIP Digest authentication (RFC 2617 / RFC 3261 §22), server side, as real clients answer
// it. MD5 comes from sofia-sip (su_md5).
//
// SIPE (pidgin-sipe 1.25, src/core/sip-sec-digest.c) can only do Digest as *proxy* auth:
// it answers a 407 Proxy-Authenticate (a 401 offering only Digest is refused as an
// "incompatible authentication scheme"). Its answer is RFC 2617 with qop=auth, nc=00000001
// and its own cnonce, but it takes `uri` and the method from the *response* object, so
// `uri` may be any text (e.g. "(null)"): we verify HA2 over the uri exactly as sent, and
// accept either the request's method or "(null)" for it. It reads only realm, nonce and
// opaque from the challenge, each as name="value".
//
// Nonces are random and remembered with the nonce counts answered (digest_nonces.h), so an
// answer is good once.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pchat::sip {

struct digest_credentials {
  std::string username;
  std::string realm;
  std::string nonce;
  std::string uri;
  std::string response;
  std::string qop;
  std::string nc;
  std::string cnonce;
  std::string opaque;
  std::string algorithm;
};

// Parses an Authorization / Proxy-Authorization value ("Digest username=..., ...").
// Returns false if it is not Digest or lacks username, realm, nonce or response.
bool parse_digest_credentials(std::string_view header_value, digest_credentials* out);

std::string md5_hex(std::string_view data);
// H(A1) = MD5(username:realm:password), lower-case hex: what the user directory stores.
std::string digest_ha1(std::string_view username, std::string_view realm, std::string_view password);
// The two H(A1) a password becomes, as SIP registrars keep them (ha1 and ha1b): for the
// Digest username as the whole address `user@domain` (SIPE) and as its user part alone
// (standard clients). `address` is "user@domain" (no "sip:"), `realm` the domain.
struct digest_ha1_forms {
  std::string address;
  std::string user_part;
};
digest_ha1_forms digest_ha1_both(std::string_view address, std::string_view realm, std::string_view password);

// True if `c.response` is right for `ha1` and the request `method` (see the SIPE note).
bool verify_digest(const digest_credentials& c, std::string_view ha1, std::string_view method);

// The challenge header value: `Digest realm="R", nonce="N", opaque="O", qop="auth",
// algorithm=MD5[, stale=true]` (realm, nonce and opaque quoted, as SIPE parses them).
std::string digest_challenge(std::string_view realm, std::string_view nonce, bool stale);

}  // namespace pchat::sip
