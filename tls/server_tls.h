// The server's TLS identity: an OpenSSL server context built from a PEM certificate chain
// and its key, shared by the SIP edge's TLS listener and the HTTPS side of the HTTP port.
//
// Reload (SIGHUP): reload() reads the files again and builds a new context; connections
// accepted from then on use it, those already open keep the one they started with (OpenSSL
// counts the references), so nothing is dropped. A reload that fails keeps the old
// identity and says why.
//
// Contexts accept TLS 1.2 and 1.3 only, no renegotiation; writes may be partial and may be
// retried from a moved buffer (a connection's output string grows between retries).
// With request_client_cert, a client may present a certificate (never required, never
// checked against a CA: it is pinned by fingerprint, tls/peer_policy.h).
//
// Thread safety: context(), fingerprint() and reload() from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "status/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace pchat::tls {

class server_tls {
 public:
  // Loads `cert_path` (PEM: the certificate, then its chain) and `key_path` (PEM key) and
  // checks that they belong together.
  static status load(const std::string& cert_path, const std::string& key_path, bool request_client_cert,
                     std::shared_ptr<server_tls>* out);

  // The context for a connection accepted now (never null).
  std::shared_ptr<SSL_CTX> context() const;
  // The current certificate's SHA-256 fingerprint (tls/certificate.h form).
  std::string fingerprint() const;
  const std::string& cert_path() const { return cert_path_; }
  // Reads the files again; on success new connections use the new identity. On failure
  // nothing changes and the reason is returned.
  status reload();

 private:
  server_tls(std::string cert, std::string key, bool client_cert)
      : cert_path_(std::move(cert)), key_path_(std::move(key)), client_cert_(client_cert) {}
  status build(std::shared_ptr<SSL_CTX>* ctx, std::string* fingerprint) const;

  const std::string cert_path_, key_path_;
  const bool client_cert_;
  mutable std::mutex mu_;
  std::shared_ptr<SSL_CTX> ctx_;
  std::string fingerprint_;
};

}  // namespace pchat::tls
