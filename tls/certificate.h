// Certificates as files: the self-signed certificate pchatd makes on first start, and the
// SHA-256 fingerprints by which certificates are shown to operators and pinned
// (--trusted-peer). The one place that writes a key file.
//
// Thread safety: free functions without shared state.
#pragma once

#include <string>
#include <string_view>

#include "status/status.h"

typedef struct x509_st X509;

namespace pchat::tls {

// Makes a self-signed certificate for `domain` (EC P-256, SHA-256, valid 10 years;
// subjectAltName DNS:domain, DNS:localhost, IP:127.0.0.1) and writes the key to `key_path`
// (created with mode 0600, never overwritten) and the certificate to `cert_path` (0644),
// each fsync'd. REQUIRES: neither file exists (already_exists otherwise).
status create_self_signed(const std::string& cert_path, const std::string& key_path, const std::string& domain);

// "AB:CD:...": the SHA-256 of the certificate's DER form, upper-case hex pairs joined by
// colons (as `openssl x509 -fingerprint -sha256` prints it). Empty for null.
std::string sha256_fingerprint(X509* cert);

// The SHA-256 fingerprint of the first certificate in a PEM file, or an error.
status file_fingerprint(const std::string& pem_path, std::string* out);

// A fingerprint as an operator may write it (with or without colons, any case, with or
// without a "sha256:" prefix) in the canonical form above; empty if it is not 32 bytes of hex.
std::string normalize_fingerprint(std::string_view text);

}  // namespace pchat::tls
