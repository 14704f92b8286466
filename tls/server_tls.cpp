#include "tls/server_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/certificate.h"

namespace pchat::tls {
namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Client certificates are pinned by fingerprint, not chained to a CA: any one is taken here
// and judged by tls::peer_policy once the handshake is done.
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

status server_tls::load(const std::string& cert_path, const std::string& key_path, bool request_client_cert,
                        std::shared_ptr<server_tls>* out) {
  std::shared_ptr<server_tls> t(new server_tls(cert_path, key_path, request_client_cert));
  if (auto s = t->build(&t->ctx_, &t->fingerprint_); !s.is_ok()) return s;
  *out = std::move(t);
  return status::ok();
}

status server_tls::build(std::shared_ptr<SSL_CTX>* ctx_out, std::string* fingerprint) const {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return status::io_error("cannot create a TLS context: " + openssl_error());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(c, cert_path_.c_str()) != 1)
    return status::invalid_argument("cannot read the certificate chain " + cert_path_ + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(c, key_path_.c_str(), SSL_FILETYPE_PEM) != 1)
    return status::invalid_argument("cannot read the private key " + key_path_ + ": " + openssl_error());
  if (SSL_CTX_check_private_key(c) != 1)
    return status::invalid_argument("the key " + key_path_ + " does not belong to the certificate " + cert_path_);
  if (client_cert_) SSL_CTX_set_verify(c, SSL_VERIFY_PEER, accept_any_certificate);
  // One session id context per server: resumed sessions keep their client certificate.
  static const unsigned char kSidCtx[] = "pchat";
  SSL_CTX_set_session_id_context(c, kSidCtx, sizeof kSidCtx - 1);
  *fingerprint = sha256_fingerprint(SSL_CTX_get0_certificate(c));
  *ctx_out = std::move(ctx);
  return status::ok();
}

std::shared_ptr<SSL_CTX> server_tls::context() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ctx_;
}

std::string server_tls::fingerprint() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fingerprint_;
}

status server_tls::reload() {
  std::shared_ptr<SSL_CTX> ctx;
  std::string fp;
  if (auto s = build(&ctx, &fp); !s.is_ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  ctx_ = std::move(ctx);
  fingerprint_ = std::move(fp);
  return status::ok();
}

}  // namespace pchat::tls
