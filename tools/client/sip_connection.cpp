#include "tools/client/sip_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

namespace pchat::client {
namespace {

// Reads per readiness event before yielding to other connections (fairness under load).
constexpr int kReadsPerEvent = 4;
constexpr int kDatagramsPerEvent = 64;
// A drained output buffer larger than this is released (idle connections stay small).
constexpr size_t kKeepOutputCapacity = 16 * 1024;

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

bool fill_addr(const std::string& host, uint16_t port, sockaddr_in& sa) {
  std::memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  return inet_pton(AF_INET, host.c_str(), &sa.sin_addr) == 1;
}

}  // namespace

std::shared_ptr<sip_connection> sip_connection::open(client_loop& loop,
                                                     const connection_config& cfg) {
  std::shared_ptr<sip_connection> c(new sip_connection(loop, cfg));
  c->start();
  return c;
}

sip_connection::sip_connection(client_loop& loop, const connection_config& cfg)
    : loop_(loop), cfg_(cfg), framer_(cfg.max_message_bytes) {}

sip_connection::~sip_connection() {
  loop_.cancel_timer(keepalive_timer_);
  if (registration_ != 0) loop_.remove_fd(registration_, fd_);
  if (ssl_) SSL_free(ssl_);
  if (tls_ctx_) SSL_CTX_free(tls_ctx_);
  if (fd_ >= 0) ::close(fd_);
}

void sip_connection::start() {
  sockaddr_in server{};
  if (!fill_addr(cfg_.server_host, cfg_.server_port, server)) {
    fail("server_host is not an IPv4 literal: " + cfg_.server_host);
    return;
  }
  const bool tcp = cfg_.transport != transport_kind::udp;  // TLS runs over TCP
  fd_ = ::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail(errno_text("socket"));
    return;
  }
  if (tcp && cfg_.tcp_nodelay) {
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (cfg_.receive_buffer_bytes > 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &cfg_.receive_buffer_bytes, sizeof cfg_.receive_buffer_bytes);
  if (!cfg_.local_address.empty()) {
    sockaddr_in local{};
    if (!fill_addr(cfg_.local_address, 0, local)) {
      fail("local_address is not an IPv4 literal: " + cfg_.local_address);
      return;
    }
    if (tcp) {
      // Lets the kernel pick the port at connect() time with the 4-tuple in view, so many
      // connections from one local address can share ports towards different servers.
      int one = 1;
      setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      fail(errno_text("bind"));
      return;
    }
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0 &&
      errno != EINPROGRESS) {
    fail(errno_text("connect"));
    return;
  }
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &local.sin_addr, buf, sizeof buf);
    local_ip_ = buf;
    local_port_ = ntohs(local.sin_port);
  }
  uint32_t events = EPOLLIN;
  if (tcp) {
    events |= EPOLLOUT;  // connect completion
    want_write_ = true;
  }
  registration_ = loop_.add_fd(fd_, events, this);
  if (registration_ == 0) {
    fail(errno_text("epoll_ctl"));
    return;
  }
  last_send_ = client_loop::clock::now();
  if (!tcp) state_ = state::open;
  schedule_keepalive();
}

void sip_connection::fail(const std::string& reason) {
  close(reason);
}

void sip_connection::close(const std::string& reason) {
  if (state_ == state::closed) return;
  state_ = state::closed;
  close_reason_ = reason;
  loop_.cancel_timer(keepalive_timer_);
  keepalive_timer_ = 0;
  if (registration_ != 0) {
    loop_.remove_fd(registration_, fd_);
    registration_ = 0;
  }
  if (ssl_) {
    if (!handshaking_) SSL_shutdown(ssl_);  // close_notify if it fits; never waits
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (tls_ctx_) {
    SSL_CTX_free(tls_ctx_);
    tls_ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  std::string().swap(out_);
  out_pos_ = 0;
  // Copy: endpoints may detach while being told.
  std::vector<endpoint*> eps = endpoints_;
  for (endpoint* e : eps) {
    if (std::find(endpoints_.begin(), endpoints_.end(), e) != endpoints_.end()) {
      e->on_closed(reason);
    }
  }
}

void sip_connection::attach(endpoint* e) {
  if (std::find(endpoints_.begin(), endpoints_.end(), e) == endpoints_.end()) {
    endpoints_.push_back(e);
  }
}

void sip_connection::detach(endpoint* e) {
  endpoints_.erase(std::remove(endpoints_.begin(), endpoints_.end(), e), endpoints_.end());
  for (auto it = routes_.begin(); it != routes_.end();) {
    it = it->second == e ? routes_.erase(it) : std::next(it);
  }
  for (auto it = aors_.begin(); it != aors_.end();) {
    it = it->second == e ? aors_.erase(it) : std::next(it);
  }
}

std::string sip_connection::route_key(std::string_view call_id, std::string_view tag,
                                      std::string_view aor) {
  std::string key;
  key.reserve(call_id.size() + tag.size() + aor.size() + 2);
  key.append(call_id).push_back('\n');
  key.append(tag).push_back('\n');
  for (char c : aor) key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return key;
}

void sip_connection::bind_route(std::string_view call_id, std::string_view local_tag,
                                std::string_view aor, endpoint* e) {
  routes_[route_key(call_id, local_tag, aor)] = e;
}

void sip_connection::unbind_route(std::string_view call_id, std::string_view local_tag,
                                  std::string_view aor) {
  routes_.erase(route_key(call_id, local_tag, aor));
}

void sip_connection::bind_aor(std::string_view uri, endpoint* e) {
  std::string key(uri);
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  aors_.emplace(std::move(key), e);
}

namespace {

std::string reserialise(const sip_message& m) {
  std::string out;
  if (m.is_request()) {
    out = m.method + " " + m.request_uri + " SIP/2.0\r\n";
  } else {
    out = "SIP/2.0 " + std::to_string(m.status) + (m.reason.empty() ? "" : " " + m.reason) + "\r\n";
  }
  for (const auto& h : m.headers) out += h.name + ": " + h.value + "\r\n";
  return out + "\r\n" + m.body;
}

}  // namespace

bool sip_connection::send(std::string_view bytes) {
  if (state_ == state::closed) return false;
  if (cfg_.trace) cfg_.trace(true, bytes);
  if (cfg_.transport == transport_kind::udp) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EMSGSIZE) return false;  // over 64 KiB: cannot be a datagram, not sent
      if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) {
        // Lost like any datagram; request retransmission covers it. ECONNREFUSED reports an
        // ICMP error for an earlier datagram; the next one may well get through.
        ++stats_.datagrams_dropped_out;
        return true;
      }
      fail(errno_text("send"));
      return false;
    }
    ++stats_.writes;
    stats_.bytes_out += static_cast<uint64_t>(n);
    last_send_ = client_loop::clock::now();
    return true;
  }
  if (out_.size() - out_pos_ + bytes.size() > cfg_.max_output_bytes) {
    fail("output queue over " + std::to_string(cfg_.max_output_bytes) +
         " bytes (server not reading)");
    return false;
  }
  out_.append(bytes);
  if (!flush_requested_ && state_ == state::open) {
    flush_requested_ = true;
    loop_.request_flush(registration_);
  }
  return true;
}

void sip_connection::send_keepalive() {
  if (!is_stream()) return;
  if (send("\r\n\r\n")) ++stats_.keepalives_sent;
}

void sip_connection::schedule_keepalive() {
  if (cfg_.keepalive_interval.count() <= 0 || !is_stream()) return;
  auto due = last_send_ + cfg_.keepalive_interval;
  std::weak_ptr<sip_connection> weak = weak_from_this();
  keepalive_timer_ = loop_.add_timer_at(due, [weak] {
    auto self = weak.lock();
    if (!self || self->state_ == state::closed) return;
    self->keepalive_timer_ = 0;
    // SIPE's rule (keepalive_timeout): ping only after a full interval of silence.
    if (client_loop::clock::now() - self->last_send_ >= self->cfg_.keepalive_interval &&
        self->state_ == state::open) {
      self->send_keepalive();
      self->last_send_ = client_loop::clock::now();
    }
    self->schedule_keepalive();
  });
}

void sip_connection::on_flush() {
  auto self = shared_from_this();
  flush_requested_ = false;
  if (state_ == state::open) write_stream();
}

void sip_connection::on_io(uint32_t events) {
  auto self = shared_from_this();  // an endpoint may drop the last other owner meanwhile
  if (handshaking_) {
    drive_handshake();
    if (state_ != state::open) return;
  } else if (state_ == state::connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    finish_connect();
    if (state_ != state::open) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    if (is_stream()) {
      read_stream();
    } else {
      read_datagrams();
    }
  }
  if (state_ == state::open && (events & EPOLLOUT)) write_stream();
}

void sip_connection::finish_connect() {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    fail(std::string("connect: ") + std::strerror(err));
    return;
  }
  if (cfg_.transport == transport_kind::tls) return start_tls();
  opened();
}

void sip_connection::start_tls() {
  auto openssl_error = [] {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return std::string(buf);
  };
  tls_ctx_ = SSL_CTX_new(TLS_client_method());
  if (!tls_ctx_) return fail("TLS: " + openssl_error());
  SSL_CTX_set_min_proto_version(tls_ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(tls_ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_PEER, nullptr);
  if (cfg_.tls_ca_file.empty() ? SSL_CTX_set_default_verify_paths(tls_ctx_) != 1
                               : SSL_CTX_load_verify_locations(tls_ctx_, cfg_.tls_ca_file.c_str(), nullptr) != 1)
    return fail("TLS: cannot load the trusted certificates " + cfg_.tls_ca_file + ": " + openssl_error());
  if (!cfg_.tls_cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(tls_ctx_, cfg_.tls_cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(tls_ctx_, cfg_.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1))
    return fail("TLS: cannot load the client certificate " + cfg_.tls_cert_file + ": " + openssl_error());
  ssl_ = SSL_new(tls_ctx_);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return fail("TLS: " + openssl_error());
  if (cfg_.tls_server_name.empty()) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), cfg_.server_host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, cfg_.tls_server_name.c_str());
    SSL_set1_host(ssl_, cfg_.tls_server_name.c_str());
  }
  SSL_set_connect_state(ssl_);
  handshaking_ = true;
  drive_handshake();
}

void sip_connection::drive_handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshaking_ = false;
    want_write_ = false;
    loop_.modify_fd(registration_, fd_, reading_ ? EPOLLIN : 0u);
    opened();
    return;
  }
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    want_write_ = e == SSL_ERROR_WANT_WRITE;
    loop_.modify_fd(registration_, fd_, EPOLLIN | (want_write_ ? EPOLLOUT : 0u));
    return;
  }
  long verify = SSL_get_verify_result(ssl_);
  std::string why = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                              X509_verify_cert_error_string(verify)
                                        : "handshake failed";
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  ERR_clear_error();
  fail("TLS: " + why + " (" + buf + ")");
}

void sip_connection::opened() {
  state_ = state::open;
  std::vector<endpoint*> eps = endpoints_;
  for (endpoint* e : eps) {
    if (state_ != state::open) return;
    if (std::find(endpoints_.begin(), endpoints_.end(), e) != endpoints_.end()) {
      e->on_connected();
    }
  }
  if (state_ == state::open) write_stream();
}

void sip_connection::read_stream() {
  char* buf = loop_.scratch();
  for (int i = 0; i < kReadsPerEvent && state_ == state::open; ++i) {
    ssize_t n = read_some(buf, client_loop::kScratchBytes);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      fail(errno_text(ssl_ ? "TLS read" : "recv"));
      return;
    }
    if (n == 0) {
      fail("server closed the connection");
      return;
    }
    stats_.bytes_in += static_cast<uint64_t>(n);
    framer_.append(std::string_view(buf, static_cast<size_t>(n)));
    for (;;) {
      auto r = framer_.next(scratch_message_);
      stats_.keepalive_bytes_in = framer_.keepalive_bytes();
      if (r == sip_stream_framer::result::need_more) break;
      if (r == sip_stream_framer::result::error) {
        fail("framing error: " + framer_.error().reason);
        return;
      }
      ++stats_.messages_in;
      dispatch(scratch_message_);
      if (state_ != state::open) return;
    }
    // Drained (TLS hands over one record at a time: read on until it would block).
    if (!ssl_ && static_cast<size_t>(n) < client_loop::kScratchBytes) return;
  }
}

ssize_t sip_connection::read_some(char* buf, size_t n) {
  if (!ssl_) return ::recv(fd_, buf, n, 0);
  ERR_clear_error();
  errno = 0;
  int r = SSL_read(ssl_, buf, static_cast<int>(n));
  if (r > 0) return r;
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return 0;
  if (errno == 0) errno = EPROTO;
  return -1;
}

ssize_t sip_connection::write_some(const char* buf, size_t n) {
  if (!ssl_) return ::send(fd_, buf, n, MSG_NOSIGNAL);
  ERR_clear_error();
  errno = 0;
  int r = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
  if (r > 0) return r;
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (errno == 0) errno = EPROTO;
  return -1;
}

void sip_connection::read_datagrams() {
  char* buf = loop_.scratch();
  for (int i = 0; i < kDatagramsPerEvent && state_ == state::open; ++i) {
    ssize_t n = ::recv(fd_, buf, client_loop::kScratchBytes, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) {
        // ICMP port unreachable for an earlier datagram: nobody listens (yet). Requests are
        // retransmitted; the transaction timeout decides.
        ++stats_.datagrams_dropped_out;
        continue;
      }
      fail(errno_text("recv"));
      return;
    }
    stats_.bytes_in += static_cast<uint64_t>(n);
    wire_status st =
        parse_sip_datagram(std::string_view(buf, static_cast<size_t>(n)), scratch_message_);
    if (!st.ok()) {
      ++stats_.datagram_errors;
      continue;
    }
    if (scratch_message_.status == 0 && scratch_message_.method.empty()) {
      stats_.keepalive_bytes_in += static_cast<uint64_t>(n);
      continue;
    }
    ++stats_.messages_in;
    dispatch(scratch_message_);
  }
}

void sip_connection::write_stream() {
  while (out_pos_ < out_.size()) {
    ssize_t n = write_some(out_.data() + out_pos_, out_.size() - out_pos_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      fail(errno_text(ssl_ ? "TLS write" : "send"));
      return;
    }
    ++stats_.writes;
    stats_.bytes_out += static_cast<uint64_t>(n);
    out_pos_ += static_cast<size_t>(n);
    last_send_ = client_loop::clock::now();
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
    if (out_.capacity() > kKeepOutputCapacity) std::string().swap(out_);
  } else if (out_pos_ > out_.size() / 2) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
  update_interest();
}

void sip_connection::update_interest() {
  bool want = out_pos_ < out_.size();
  if (want == want_write_ || registration_ == 0) return;
  want_write_ = want;
  loop_.modify_fd(registration_, fd_, (reading_ ? EPOLLIN : 0u) | (want ? EPOLLOUT : 0u));
}

void sip_connection::set_reading(bool on) {
  if (on == reading_) return;
  reading_ = on;
  if (registration_ != 0)
    loop_.modify_fd(registration_, fd_, (reading_ ? EPOLLIN : 0u) | (want_write_ ? EPOLLOUT : 0u));
}

void sip_connection::dispatch(const sip_message& m) {
  if (cfg_.trace) cfg_.trace(false, reserialise(m));
  endpoint* target = nullptr;
  if (m.is_response()) {
    auto it = routes_.find(route_key(m.call_id(), m.from_tag(), m.from_uri()));
    if (it != routes_.end()) target = it->second;
    if (!target) {
      ++stats_.unroutable_responses;
      return;
    }
    target->on_sip_message(m);
    return;
  }
  auto it = routes_.find(route_key(m.call_id(), m.to_tag(), m.to_uri()));
  if (it != routes_.end()) target = it->second;
  if (!target) {
    std::string aor(m.to_uri());
    for (char& c : aor) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto a = aors_.find(aor);
    if (a != aors_.end()) target = a->second;
  }
  if (!target && endpoints_.size() == 1) target = endpoints_.front();
  if (!target) {
    ++stats_.unroutable_requests;
    if (m.method != "ACK") {
      send(build_response(m, 481, "Call Leg/Transaction Does Not Exist", "", cfg_.user_agent));
    }
    return;
  }
  target->on_sip_message(m);
}

}  // namespace pchat::client
