// The SIP edge. See sip_endpoint.h for the contract; this file is organised as:
//   1. state (connections, dialogs, pending transactions, the cross-thread queue)
//   2. the loop: su_root_step, then flush every connection written to in that turn
//      (redis's beforeSleep: one write(2) per connection per turn, however many messages)
//   3. socket I/O (accept, read, write, UDP)
//   4. request handling per method
//   5. the cross-thread queue (respond / send_info)
#define SU_ROOT_MAGIC_T void
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T void

#include "protocol/sip/sip_text.h"
#include "protocol/sip/sip_endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "log/log.h"
#include "protocol/sip/digest_nonces.h"
#include "protocol/sip/random_token.h"
#include "protocol/sip/sign_in_throttle.h"
#include "protocol/sip/sip_digest.h"
#include "protocol/sip/sip_framer.h"
#include "protocol/sip/sip_message.h"
#include "tls/certificate.h"
#include "tls/server_tls.h"

namespace pchat::sip {
namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr int kTimerMs = 250;
constexpr int kT1Ms = 500;
constexpr int kTimerFMs = 32000;
// INFO CSeqs remembered per dialog (dialog::recent_cseqs): more than a user may have in
// flight (endpoint_limits::max_inflight_per_user, 64), so an overtaken INFO is still known
// to be new; 8 bytes each.
constexpr size_t kRecentCseqs = 128;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(int e) { return std::strerror(e); }

std::string addr_host(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, host, sizeof host);
  else if (a.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, host, sizeof host);
  return host;
}

std::string addr_key(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = {0};
  uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
    port = ntohs(s->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
    port = ntohs(s->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

const char* kSdpAnswerTemplate =
    "v=0\r\no=- 0 0 IN IP4 %s\r\ns=session\r\nc=IN IP4 %s\r\nt=0 0\r\n"
    "m=message %u sip null\r\na=accept-types:text/plain\r\n";

}  // namespace

struct endpoint::impl {
  struct connection {
    conn_id id = 0;
    int fd = -1;
    bool udp = false;
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    std::string peer_text;
    std::string peer_address;  // IP address alone (peer policy)
    // TLS (the --sip-tls-port listener): the OpenSSL connection over fd; tls_ready once its
    // handshake is done. peer_fingerprint: SHA-256 of the client's certificate, if it sent one.
    SSL* ssl = nullptr;
    bool tls_ready = false;
    std::string peer_fingerprint;
    // A trusted front end (tls::peer_policy::trusted): its users are taken from From
    // without Digest.
    bool trusted = false;
    int wait_index = -1;
    sip_framer framer{kMaxHeaderBytes, 0};
    std::string out;
    size_t out_pos = 0;
    bool dirty = false;
    bool want_write = false;
    bool closing = false;
    std::string close_reason;   // why `closing` was set
    bool paused = false;        // not read now: over an in-flight cap (backpressure)
    bool sipe = false;          // a request on it came from SIPE (never answer it 503)
    bool dialog_cap_logged = false;
    size_t inflight = 0;        // its INFOs handed over and not yet answered
    int64_t soft_since_ms = 0;  // output above the soft limit since (0: not above)
    int64_t partial_since_ms = 0;  // part of a message buffered since (0: none)
    std::unordered_set<dialog_id> dialogs;
    // Users (lower-case From URIs) with dialogs here -> their dialog count; more than one
    // user makes the connection a trunk.
    std::unordered_map<std::string, size_t> users;
    std::string registered_user;
    int64_t last_rx_ms = 0;
    // INVITEs without To tag seen on this connection: "Call-ID\nFrom-tag" -> dialog
    // (absorbs UDP retransmissions of the initial INVITE).
    std::unordered_map<std::string, dialog_id> initial_invites;
    // Users (lower-case From URIs) that passed Digest on this connection.
    std::unordered_set<std::string> authenticated;
  };

  struct dialog {
    dialog_id id = 0;
    conn_id conn = 0;
    std::string call_id;
    std::string local_tag;
    std::string remote_tag;
    std::string local_uri;
    std::string remote_uri;
    std::string invite_key;
    std::string user;  // lower-case From URI of the INVITE (per-user limits)
    uint32_t invite_cseq = 0;
    uint32_t next_cseq = 1;
    // The client's INFO CSeqs seen lately, ascending, with their final status (0: not
    // answered yet): a retransmission is absorbed or answered again, and an INFO that was
    // overtaken (its first copy lost over UDP, then retransmitted after later ones) is still
    // handled. Not "every CSeq up to the highest is a replay": that left such an INFO with
    // no answer at all. At most kRecentCseqs; `cseq_floor` is the highest one forgotten.
    std::vector<std::pair<uint32_t, int>> recent_cseqs;
    int64_t cseq_floor = -1;
    std::string request_head;   // "INFO <contact> SIP/2.0\r\nVia: ...;branch=z9hG4bK<id>."
    std::string request_mid;    // "\r\nMax-Forwards..From..To..Call-ID..CSeq: "
    std::string request_tail;   // " INFO\r\nContact..Content-Type: text/plain\r\nContent-Length: "
    std::string invite_response;
  };

  struct pending_txn {
    conn_id conn = 0;
    dialog_id dialog = 0;
    std::string user;
    sip_message request;  // echo headers only (body moved to the application)
  };

  struct retransmission {  // UDP only: our request (or our 200 to INVITE) until answered
    conn_id conn;
    dialog_id dialog;
    uint32_t cseq;
    bool is_invite_ok;
    std::string bytes;
    int64_t next_ms;
    int interval_ms;
    int64_t give_up_ms;
  };

  struct command {
    enum class kind { respond, info, info_many, end_user } k;
    txn_id txn = 0;
    int code = 0;
    dialog_id dialog = 0;
    std::vector<dialog_id> targets;
    std::shared_ptr<const std::string> body;
    std::string user;          // end_user: lower-case From URI
    bool forget = false;       // end_user: forget the user's Digest trust too
  };

  endpoint_config cfg;
  endpoint_events* events = nullptr;  // set by start(), before the SIP thread exists
  uint16_t bound_port = 0;
  int tcp_fd = -1;
  int udp_fd = -1;
  int tls_fd = -1;
  uint16_t bound_tls_port = 0;
  int tls_wait_index = -1;
  // Logs a peer causes as often as it likes are written at most every 10 s, saying how many
  // were left out since: a flood of refused connections or forged responses must not flood
  // the log.
  struct paced_log {
    int64_t last_ms = -100'000;
    uint64_t left_out = 0;
    // True when this occurrence is logged; *before is how many were left out before it.
    bool due(int64_t now, uint64_t* before) {
      if (now - last_ms < 10'000) {
        ++left_out;
        return false;
      }
      last_ms = now;
      *before = left_out;
      left_out = 0;
      return true;
    }
  };
  paced_log plain_refusal_log;
  paced_log ignored_response_log;
  int wake_fd = -1;
  su_root_t* root = nullptr;
  su_timer_t* timer = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  bool started = false;

  struct user_state {
    size_t inflight = 0;
    size_t dialogs = 0;
    double tokens = -1;  // request rate bucket; < 0: not started (full)
    int64_t refill_ms = 0;
    double byte_tokens = 0;  // byte rate bucket (may be overdrawn)
    int64_t byte_refill_ms = -1;  // < 0: not started (full)
  };

  std::unordered_map<conn_id, std::unique_ptr<connection>> conns;
  std::unordered_map<std::string, user_state> users;
  std::unordered_set<conn_id> paused;    // connections not read (backpressure)
  std::unordered_set<conn_id> over_soft;  // connections above their soft output limit
  bool recheck_paused = false;           // an in-flight count fell: maybe resume some
  size_t tcp_conns = 0;
  bool accept_paused = false;   // accept() failed for lack of descriptors: retry later
  int64_t accept_resume_ms = 0;
  int accept_backoff_ms = 0;
  bool accept_error_logged = false;
  bool conn_cap_logged = false;
  bool udp_cap_logged = false;
  std::unordered_map<std::string, conn_id> udp_peers;
  std::unordered_map<dialog_id, std::unique_ptr<dialog>> dialogs;
  std::unordered_map<std::string, dialog_id> by_local_tag;
  std::unordered_map<txn_id, pending_txn> txns;
  std::vector<retransmission> retrans;
  std::vector<conn_id> dirty;
  conn_id next_conn = 1;
  dialog_id next_dialog = 1;
  txn_id next_txn = 1;
  int udp_wait_index = -1;
  int64_t last_sweep = 0;
  int tcp_wait_index = -1;
  int wake_wait_index = -1;

  std::mutex mu;
  std::vector<command> queue;
  bool wake_pending = false;

  std::atomic<uint64_t> inflight{0};
  std::atomic<uint64_t> n_requests_in{0}, n_responses_in{0}, n_requests_out{0}, n_503{0},
      n_bad{0}, n_conns{0}, n_dialogs{0}, n_auth_fail{0}, n_auth_throttled{0}, n_udp_peers{0}, n_paused{0},
      n_pauses{0}, n_slow_closed{0}, n_conns_refused{0}, n_dialogs_refused{0}, n_stalled_closed{0},
      n_accept_backoffs{0};
  digest_nonces nonces;

  explicit impl(endpoint_config c) : cfg(std::move(c)) {
    digest_nonces::limits nl;
    nl.max_age_s = cfg.nonce_max_age_s;
    nonces = digest_nonces(nl);
  }

  // ------------------------------------------------------------------ setup
  std::string bind_sockets() {
    if (auto err = bind_plain(); !err.empty()) return err;
    if (!cfg.tls) return {};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, cfg.host.c_str(), &addr.sin_addr);
    addr.sin_port = htons(cfg.tls_port);
    tls_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(tls_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(tls_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int e = errno;
      ::close(tls_fd);
      tls_fd = -1;
      return "bind " + cfg.host + ":" + std::to_string(cfg.tls_port) + "/tls: " + errno_text(e);
    }
    if (::listen(tls_fd, 4096) != 0) return "listen: " + errno_text(errno);
    socklen_t len = sizeof addr;
    getsockname(tls_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound_tls_port = ntohs(addr.sin_port);
    return {};
  }

  std::string bind_plain() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, cfg.host.c_str(), &addr.sin_addr) != 1)
      return "invalid bind address '" + cfg.host + "' (IPv4 expected)";
    // TCP and UDP share one port; with port 0, retry until both binds succeed.
    for (int attempt = 0; attempt < 20; ++attempt) {
      addr.sin_port = htons(cfg.port);
      if (cfg.tcp) {
        tcp_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(tcp_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          int e = errno;
          ::close(tcp_fd);
          tcp_fd = -1;
          return "bind " + cfg.host + ":" + std::to_string(cfg.port) + "/tcp: " + errno_text(e);
        }
        if (::listen(tcp_fd, 4096) != 0) return "listen: " + errno_text(errno);
        socklen_t len = sizeof addr;
        getsockname(tcp_fd, reinterpret_cast<sockaddr*>(&addr), &len);
      }
      if (cfg.udp) {
        udp_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int sz = 4 << 20;
        setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        if (::bind(udp_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          int e = errno;
          ::close(udp_fd);
          udp_fd = -1;
          if (cfg.port == 0 && cfg.tcp) {  // the TCP port is taken for UDP: try another
            ::close(tcp_fd);
            tcp_fd = -1;
            addr.sin_port = 0;
            continue;
          }
          return "bind " + cfg.host + ":" + std::to_string(ntohs(addr.sin_port)) +
                 "/udp: " + errno_text(e);
        }
        socklen_t len = sizeof addr;
        getsockname(udp_fd, reinterpret_cast<sockaddr*>(&addr), &len);
      }
      bound_port = ntohs(addr.sin_port);
      return {};
    }
    return "could not find a port free for both TCP and UDP";
  }

  void run(std::promise<std::string>* ready) {
    su_init();
    root = su_root_create(nullptr);
    if (!root) {
      ready->set_value("su_root_create failed");
      return;
    }
    su_wait_t w;
    if (tcp_fd >= 0) {
      su_wait_create(&w, tcp_fd, SU_WAIT_ACCEPT);
      tcp_wait_index = su_root_register(root, &w, &impl::on_accept_cb, this, 0);
    }
    if (tls_fd >= 0) {
      su_wait_create(&w, tls_fd, SU_WAIT_ACCEPT);
      tls_wait_index = su_root_register(root, &w, &impl::on_accept_tls_cb, this, 0);
    }
    if (udp_fd >= 0) {
      su_wait_create(&w, udp_fd, SU_WAIT_IN);
      udp_wait_index = su_root_register(root, &w, &impl::on_udp_cb, this, 0);
    }
    su_wait_create(&w, wake_fd, SU_WAIT_IN);
    wake_wait_index = su_root_register(root, &w, &impl::on_wake_cb, this, 0);
    timer = su_timer_create(su_root_task(root), kTimerMs);
    su_timer_set(timer, &impl::on_timer_cb, this);
    ready->set_value({});

    while (!stopping.load(std::memory_order_acquire)) {
      su_root_step(root, 100);
      if (recheck_paused) resume_paused();
      flush_dirty();
    }

    // Teardown on the SIP thread, in reverse order of creation (stack-notes §4.4).
    std::vector<conn_id> ids;
    for (auto& [id, c] : conns) ids.push_back(id);
    for (auto id : ids) close_connection(id, "server shutting down", /*notify=*/true);
    su_timer_destroy(timer);
    if (wake_wait_index > 0) su_root_deregister(root, wake_wait_index);
    if (udp_wait_index > 0) su_root_deregister(root, udp_wait_index);
    if (tcp_wait_index > 0) su_root_deregister(root, tcp_wait_index);
    if (tls_wait_index > 0) su_root_deregister(root, tls_wait_index);
    su_root_destroy(root);
    root = nullptr;
    su_deinit();
  }

  // ------------------------------------------------------------------ output
  // The output buffer of TCP connection `c` with room for `n` more bytes (flushed at the end
  // of this loop turn), or nullptr when it is closing or a slow reader hit its hard limit
  // (it is then closed at the flush). The soft limit is checked by the timer.
  std::string* output_for(connection* c, size_t n) {
    if (c->closing) return nullptr;
    size_t pending = c->out.size() - c->out_pos + n;
    bool trunk = c->users.size() > 1;
    const endpoint_limits& L = cfg.limits;
    size_t hard = trunk ? L.trunk_output_hard_bytes : L.output_hard_bytes;
    if (pending > hard) {
      close_slow_reader(c, "hard", hard, pending);
      return nullptr;
    }
    if (pending > (trunk ? L.trunk_output_soft_bytes : L.output_soft_bytes) && c->soft_since_ms == 0) {
      c->soft_since_ms = now_ms();
      over_soft.insert(c->id);
    }
    mark_dirty(c);
    return &c->out;
  }

  // A reader that does not keep up is dropped, never waited for: the room goes on.
  void close_slow_reader(connection* c, const char* which, size_t limit, size_t pending) {
    n_slow_closed++;
    std::string user = c->users.size() == 1 ? c->users.begin()->first
                                            : std::to_string(c->users.size()) + "-users";
    PCHAT_LOG(warn, "sip", "closing slow reader: output limit reached",
              "peer=" + c->peer_text + " user=" + user + " limit=" + which + " limit_bytes=" +
                  std::to_string(limit) + " queued_bytes=" + std::to_string(pending) +
                  " action=" + log::quote("none: the client reconnects; raise --sip-output-* if this is a trunk"));
    c->closing = true;
    c->close_reason = std::string("output ") + which + " limit reached (client not reading)";
    mark_dirty(c);
  }

  void queue_bytes(connection* c, std::string_view bytes) {
    if (c->udp) {
      if (!c->closing)
        ::sendto(udp_fd, bytes.data(), bytes.size(), MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&c->peer), c->peer_len);
      return;
    }
    if (std::string* out = output_for(c, bytes.size())) out->append(bytes);
  }

  void mark_dirty(connection* c) {
    if (!c->dirty) {
      c->dirty = true;
      dirty.push_back(c->id);
    }
  }

  void flush_dirty() {
    if (dirty.empty()) return;
    std::vector<conn_id> ids;
    ids.swap(dirty);
    for (auto id : ids) {
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      connection* c = it->second.get();
      c->dirty = false;
      if (c->closing) {
        close_connection(id, c->close_reason, true);
        continue;
      }
      flush(c);
    }
  }

  // One write of `n` bytes: send(2), or SSL_write on a TLS connection (its "try again" is
  // EAGAIN here; other TLS failures are EPIPE after logging the reason at debug).
  ssize_t write_some(connection* c, const char* data, size_t n) {
    if (!c->ssl) return ::send(c->fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (!c->tls_ready) {  // the handshake first; output waits for it
      errno = EAGAIN;
      return -1;
    }
    ERR_clear_error();
    errno = 0;  // an EOF reports SSL_ERROR_SYSCALL with errno untouched
    int r = SSL_write(c->ssl, data, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r > 0) return r;
    return tls_failure(c, r);
  }

  // The errno-style result of a failed SSL_read/SSL_write/SSL_do_handshake.
  ssize_t tls_failure(connection* c, int r) {
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (e == SSL_ERROR_WANT_WRITE && !c->want_write) {
        c->want_write = true;
        update_mask(c);
      }
      errno = EAGAIN;
      return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return 0;  // closed
    if (e == SSL_ERROR_SSL) {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      PCHAT_LOG(debug, "sip", "TLS failure", "peer=" + c->peer_text + " error=" + log::quote(buf));
      ERR_clear_error();
      errno = EPROTO;
    } else if (errno == 0) {
      errno = EPROTO;
    }
    return -1;
  }

  // One read into buf: recv(2), or SSL_read (which also drives the handshake) on TLS.
  ssize_t read_some(connection* c, char* buf, size_t n) {
    if (!c->ssl) return ::recv(c->fd, buf, n, MSG_DONTWAIT);
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(c->ssl, buf, static_cast<int>(n));
    if (!c->tls_ready && SSL_is_init_finished(c->ssl)) tls_established(c);
    if (r > 0) return r;
    return tls_failure(c, r);
  }

  // The handshake is done: the client certificate decides trust; output queued meanwhile goes.
  void tls_established(connection* c) {
    c->tls_ready = true;
    if (X509* cert = SSL_get1_peer_certificate(c->ssl)) {
      c->peer_fingerprint = tls::sha256_fingerprint(cert);
      X509_free(cert);
    }
    c->trusted = cfg.peers.trusted(c->peer_address, c->peer_fingerprint);
    if (c->framer.buffered() == 0) c->partial_since_ms = 0;
    PCHAT_LOG(debug, "sip", "TLS connection established",
              "peer=" + c->peer_text + " version=" + SSL_get_version(c->ssl) +
                  (c->peer_fingerprint.empty() ? std::string() : " client_cert=" + c->peer_fingerprint) +
                  (c->trusted ? " trusted=true" : ""));
    if (c->out_pos < c->out.size()) mark_dirty(c);
  }

  void flush(connection* c) {
    while (c->out_pos < c->out.size()) {
      ssize_t n = write_some(c, c->out.data() + c->out_pos, c->out.size() - c->out_pos);
      if (n > 0) {
        c->out_pos += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // Drop what was sent once it is most of the buffer: a reader that drains slowly
        // but steadily must not make the buffer grow by what it already took.
        if (c->out_pos >= 64 * 1024 && c->out_pos * 2 >= c->out.size()) {
          c->out.erase(0, c->out_pos);
          c->out_pos = 0;
        }
        if (c->soft_since_ms != 0 && c->out.size() - c->out_pos <= soft_limit(c)) c->soft_since_ms = 0;
        if (c->ssl && !c->tls_ready) return;  // the handshake's own reads and writes drive it
        if (!c->want_write) {
          c->want_write = true;
          update_mask(c);
        }
        return;
      }
      if (n < 0 && errno == EINTR) continue;
      close_connection(c->id, "write failed: " + errno_text(errno), true);
      return;
    }
    c->out.clear();
    c->out_pos = 0;
    c->soft_since_ms = 0;
    if (c->out.capacity() > 64 * 1024) std::string().swap(c->out);
    if (c->want_write) {
      c->want_write = false;
      update_mask(c);
    }
  }

  size_t soft_limit(const connection* c) const {
    return c->users.size() > 1 ? cfg.limits.trunk_output_soft_bytes : cfg.limits.output_soft_bytes;
  }

  // Reads while not paused, writes while output waits.
  void update_mask(connection* c) {
    int events = (c->paused ? 0 : SU_WAIT_IN) | (c->want_write ? SU_WAIT_OUT : 0);
    su_root_eventmask(root, c->wait_index, c->fd, events);
  }

  // ------------------------------------------------------------------ in-flight caps
  // The cap that stops reading TCP connection `c` now, or nullptr. A client connection (one
  // user) stops at its user's cap; any connection at its own cap; a SIPE connection at the
  // server's (SIPE answers a 503 to an INFO with UPDATEs, xccos-wire.md §4.5).
  const char* pause_cause(const connection* c) const {
    const endpoint_limits& L = cfg.limits;
    if (c->inflight >= L.max_inflight_per_connection) return "connection";
    if (c->users.size() == 1) {
      auto u = users.find(c->users.begin()->first);
      if (u != users.end() && u->second.inflight >= L.max_inflight_per_user) return "user";
      if (u != users.end() && (tokens_now(u->second, now_ms()) < 1 || bytes_now(u->second, now_ms()) <= 0))
        return "rate";
    }
    if (c->sipe && inflight.load(std::memory_order_relaxed) >= L.max_inflight) return "server";
    return nullptr;
  }

  void pause(connection* c, const char* cause) {
    c->paused = true;
    paused.insert(c->id);
    n_paused = paused.size();
    n_pauses++;
    update_mask(c);
    PCHAT_LOG(debug, "sip", "not reading a connection: in-flight cap reached",
              "peer=" + c->peer_text + " cap=" + cause + " inflight=" + std::to_string(c->inflight));
  }

  // Paused connections under every cap again are read again, starting with the messages
  // already framed.
  void resume_paused() {
    recheck_paused = false;
    if (paused.empty()) return;
    std::vector<conn_id> ids(paused.begin(), paused.end());
    for (auto id : ids) {
      auto it = conns.find(id);
      if (it == conns.end()) {
        paused.erase(id);
        continue;
      }
      connection* c = it->second.get();
      if (pause_cause(c)) continue;
      c->paused = false;
      paused.erase(id);
      update_mask(c);
      process_stream(c);
    }
    n_paused = paused.size();
  }

  // The user's rate-limit tokens at `now` (the bucket refills continuously up to the burst).
  double tokens_now(const user_state& u, int64_t now) const {
    const endpoint_limits& L = cfg.limits;
    if (L.user_requests_per_second <= 0) return 1;
    if (u.tokens < 0) return L.user_request_burst;
    return std::min(L.user_request_burst,
                    u.tokens + static_cast<double>(now - u.refill_ms) * L.user_requests_per_second / 1000.0);
  }
  double bytes_now(const user_state& u, int64_t now) const {
    const endpoint_limits& L = cfg.limits;
    if (L.user_bytes_per_second <= 0) return 1;
    if (u.byte_refill_ms < 0) return L.user_bytes_burst;
    return std::min(L.user_bytes_burst,
                    u.byte_tokens + static_cast<double>(now - u.byte_refill_ms) * L.user_bytes_per_second / 1000.0);
  }
  void take_token(user_state& u, int64_t now, size_t bytes) {
    if (cfg.limits.user_requests_per_second > 0) {
      u.tokens = tokens_now(u, now) - 1;
      u.refill_ms = now;
    }
    if (cfg.limits.user_bytes_per_second > 0) {
      u.byte_tokens = bytes_now(u, now) - static_cast<double>(bytes);
      u.byte_refill_ms = now;
    }
  }

  user_state& user_of(const std::string& key) { return users[key]; }
  void release_user(const std::string& key) {
    auto it = users.find(key);
    if (it != users.end() && it->second.inflight == 0 && it->second.dialogs == 0) users.erase(it);
  }

  // ------------------------------------------------------------------ connections
  static int on_accept_cb(void*, su_wait_t*, void* arg) {
    static_cast<impl*>(arg)->accept_all(false);
    return 0;
  }
  static int on_accept_tls_cb(void*, su_wait_t*, void* arg) {
    static_cast<impl*>(arg)->accept_all(true);
    return 0;
  }
  void accept_all(bool tls) {
    if (accept_paused) return;
    int listen_fd = tls ? tls_fd : tcp_fd;
    for (int i = 0; i < 256; ++i) {  // bounded: other sockets get their turn
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        int e = errno;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;  // that peer gave up
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM...: the listening socket stays readable, so
        // retrying now would spin. Stop watching it and retry after a growing pause.
        pause_accepting(e);
        return;
      }
      if (accept_error_logged) {
        accept_error_logged = false;
        PCHAT_LOG(warn, "sip", "accepting connections again", "tcp_connections=" + std::to_string(tcp_conns));
      }
      accept_backoff_ms = 0;
      if (tcp_conns >= cfg.limits.max_tcp_connections) {
        ::close(fd);
        n_conns_refused++;
        if (!conn_cap_logged) {
          conn_cap_logged = true;
          PCHAT_LOG(warn, "sip", "refusing connections: connection limit reached",
                    "limit=" + std::to_string(cfg.limits.max_tcp_connections) +
                        " action=" + log::quote("raise --sip-max-connections if these are real clients"));
        }
        continue;
      }
      conn_cap_logged = false;
      std::string address = addr_host(peer);
      if (!tls && !plain_allowed(address)) {
        ::close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<connection>();
      c->id = next_conn++;
      c->fd = fd;
      c->peer = peer;
      c->peer_len = len;
      c->peer_text = addr_key(peer);
      c->peer_address = address;
      c->framer = sip_framer(kMaxHeaderBytes, cfg.max_body_bytes);
      c->last_rx_ms = now_ms();
      c->trusted = cfg.peers.trusted(address, {});
      if (tls) {
        std::shared_ptr<SSL_CTX> ctx = cfg.tls->context();
        c->ssl = SSL_new(ctx.get());
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
          PCHAT_LOG(error, "sip", "cannot start TLS on a new connection", "peer=" + c->peer_text);
          if (c->ssl) SSL_free(c->ssl);
          ::close(fd);
          continue;
        }
        SSL_set_accept_state(c->ssl);
        // The handshake counts as a message begun: it must end within message_timeout_s.
        c->partial_since_ms = c->last_rx_ms;
      }
      su_wait_t w;
      su_wait_create(&w, fd, SU_WAIT_IN);
      c->wait_index = su_root_register(root, &w, &impl::on_conn_cb, reinterpret_cast<void*>(c->id), 0);
      if (c->wait_index <= 0) {
        PCHAT_LOG(error, "sip", "cannot watch new connection", "peer=" + c->peer_text);
        if (c->ssl) SSL_free(c->ssl);
        ::close(fd);
        continue;
      }
      n_conns++;
      tcp_conns++;
      conns.emplace(c->id, std::move(c));
    }
  }

  void pause_accepting(int e) {
    accept_backoff_ms = accept_backoff_ms == 0 ? kTimerMs : std::min(accept_backoff_ms * 2, 4000);
    accept_resume_ms = now_ms() + accept_backoff_ms;
    accept_paused = true;
    n_accept_backoffs++;
    su_root_eventmask(root, tcp_wait_index, tcp_fd, 0);
    if (tls_fd >= 0) su_root_eventmask(root, tls_wait_index, tls_fd, 0);
    if (!accept_error_logged) {  // once per episode; "accepting connections again" ends it
      accept_error_logged = true;
      PCHAT_LOG(error, "sip", "cannot accept connections",
                "error=" + log::quote(errno_text(e)) + " tcp_connections=" + std::to_string(tcp_conns) +
                    " action=" + log::quote("raise the open files limit (ulimit -n, LimitNOFILE=) or lower --sip-max-connections"));
    }
  }

  static int on_conn_cb(void*, su_wait_t* w, void* arg) {
    // The wakeup arg carries the connection id; the impl is reached through the root's
    // thread-local owner set in run() (one endpoint per SIP thread).
    impl* self = current();
    self->on_conn_event(reinterpret_cast<conn_id>(arg), w);
    return 0;
  }
  static impl*& current() {
    static thread_local impl* p = nullptr;
    return p;
  }

  void on_conn_event(conn_id id, su_wait_t* w) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    connection* c = it->second.get();
    int ev = su_wait_events(w, c->fd);
    if (ev & SU_WAIT_OUT) {
      flush(c);
      if (conns.find(id) == conns.end()) return;
    }
    // A TLS handshake that wanted to write goes on when the socket is writable.
    bool handshaking = c->ssl && !c->tls_ready;
    if (!(ev & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR)) && !handshaking) return;
    if (c->paused) {  // not read now; a hang-up is still reported (and would repeat)
      if (ev & (SU_WAIT_HUP | SU_WAIT_ERR)) close_connection(id, "client closed the connection", true);
      return;
    }
    char buf[64 * 1024];
    for (int rounds = 0; rounds < 16; ++rounds) {
      ssize_t n = read_some(c, buf, sizeof buf);
      if (n > 0) {
        c->last_rx_ms = now_ms();
        // SIPE writes some messages in two parts without TCP_NODELAY; quick ACKs stop
        // Nagle + delayed ACK from adding ~40 ms per exchange (sipe-client-notes §2).
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        c->framer.append(buf, static_cast<size_t>(n));
        if (!process_stream(c)) return;  // connection closed
        // (TLS hands over one record at a time: read on until it would block.)
        if (c->paused || (!c->ssl && static_cast<size_t>(n) < sizeof buf)) break;
        continue;
      }
      if (n == 0) {
        close_connection(id, "client closed the connection", true);
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (c->tls_ready && c->out_pos < c->out.size()) mark_dirty(c);  // output held by the handshake
        break;
      }
      close_connection(id, std::string(c->ssl && !c->tls_ready ? "TLS handshake failed: " : "read failed: ") +
                               errno_text(errno), true);
      return;
    }
  }

  // Returns false if the connection was closed.
  bool process_stream(connection* c) {
    conn_id id = c->id;
    frame f;
    for (;;) {
      if (c->paused) return true;
      if (const char* cause = pause_cause(c)) {
        pause(c, cause);
        return true;
      }
      auto r = c->framer.next(&f);
      if (r == sip_framer::result::need_more) {
        if (c->framer.buffered() == 0) c->partial_since_ms = 0;
        else if (c->partial_since_ms == 0) c->partial_since_ms = now_ms();
        return true;
      }
      c->partial_since_ms = 0;
      if (r == sip_framer::result::error) {
        n_bad++;
        PCHAT_LOG(warn, "sip", "closing connection: unframeable input",
                  "peer=" + c->peer_text + " reason=" + log::quote(c->framer.error_reason()));
        close_connection(id, "unframeable input: " + c->framer.error_reason(), true);
        return false;
      }
      handle_frame(c, f.bytes, f.oversized, f.declared_body);
      if (conns.find(id) == conns.end()) return false;
    }
  }

  static int on_udp_cb(void*, su_wait_t*, void* arg) {
    static_cast<impl*>(arg)->read_udp();
    return 0;
  }
  void read_udp() {
    static thread_local char buf[65536];
    for (int i = 0; i < 256; ++i) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      ssize_t n = ::recvfrom(udp_fd, buf, sizeof buf, MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&peer), &len);
      if (n < 0) return;
      std::string key = addr_key(peer);
      std::string_view dgram(buf, static_cast<size_t>(n));
      while (!dgram.empty() && (dgram.front() == '\r' || dgram.front() == '\n')) dgram.remove_prefix(1);
      auto it = udp_peers.find(key);
      if (dgram.empty()) {  // keep-alive: keeps a known peer, creates none
        if (it != udp_peers.end()) conns[it->second]->last_rx_ms = now_ms();
        continue;
      }
      connection* c;
      if (it == udp_peers.end()) {
        // --plain is decided once per peer, when it is new: a known peer was admitted.
        if (!plain_allowed(addr_host(peer))) continue;
        if (udp_peers.size() >= cfg.limits.max_udp_peers) {
          refuse_udp_peer(peer, len, dgram);
          continue;
        }
        udp_cap_logged = false;
        auto conn = std::make_unique<connection>();
        conn->id = next_conn++;
        conn->udp = true;
        conn->peer = peer;
        conn->peer_len = len;
        conn->peer_text = key;
        c = conn.get();
        udp_peers.emplace(key, c->id);
        conns.emplace(c->id, std::move(conn));
        n_conns++;
        n_udp_peers = udp_peers.size();
      } else {
        c = conns[it->second].get();
      }
      c->last_rx_ms = now_ms();
      bool oversized = dgram.size() > cfg.max_body_bytes + kMaxHeaderBytes;
      handle_frame(c, dgram, oversized, dgram.size());
    }
  }

  // A new UDP source while the peer table is full: answered 503 without keeping any state
  // (a spoofed flood of sources cannot grow memory).
  void refuse_udp_peer(const sockaddr_storage& peer, socklen_t len, std::string_view dgram) {
    n_conns_refused++;
    if (!udp_cap_logged) {
      udp_cap_logged = true;
      PCHAT_LOG(warn, "sip", "refusing new UDP peers: peer limit reached",
                "limit=" + std::to_string(cfg.limits.max_udp_peers) +
                    " action=" + log::quote("raise --sip-max-udp-peers if these are real clients"));
    }
    if (dgram.size() > cfg.max_body_bytes + kMaxHeaderBytes) return;
    sip_message m;
    auto r = parse_message(dgram, &m);
    if (!r.ok() || !m.is_request || m.method == "ACK") return;
    std::string resp = build_response(m, 503, "Service Unavailable", new_tag(),
                                      "Retry-After: 30\r\nWarning: 399 pchat \"too many UDP peers\"\r\n");
    ::sendto(udp_fd, resp.data(), resp.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&peer), len);
  }

  void close_connection(conn_id id, const std::string& reason, bool notify) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    connection* c = it->second.get();
    std::vector<dialog_id> ds(c->dialogs.begin(), c->dialogs.end());
    for (auto d : ds) close_dialog(d, reason, notify);
    if (!c->udp) {
      if (c->wait_index > 0) su_root_deregister(root, c->wait_index);
      if (c->ssl) {
        if (c->tls_ready) SSL_shutdown(c->ssl);  // close_notify if it fits; never waits
        SSL_free(c->ssl);
      }
      ::close(c->fd);
      tcp_conns--;
    } else {
      udp_peers.erase(c->peer_text);
      n_udp_peers = udp_peers.size();
    }
    if (c->paused) {
      paused.erase(id);
      n_paused = paused.size();
    }
    over_soft.erase(id);
    nonces.forget(id);
    PCHAT_LOG(debug, "sip", "connection closed", "peer=" + c->peer_text + " reason=" + log::quote(reason));
    conns.erase(it);
    n_conns--;
  }

  void close_dialog(dialog_id id, const std::string& reason, bool notify) {
    auto it = dialogs.find(id);
    if (it == dialogs.end()) return;
    dialog* d = it->second.get();
    by_local_tag.erase(d->local_tag);
    if (auto c = conns.find(d->conn); c != conns.end()) {
      c->second->dialogs.erase(id);
      if (!d->invite_key.empty()) c->second->initial_invites.erase(d->invite_key);
      if (auto u = c->second->users.find(d->user); u != c->second->users.end() && --u->second == 0)
        c->second->users.erase(u);
    }
    if (auto u = users.find(d->user); u != users.end() && u->second.dialogs > 0) {
      u->second.dialogs--;
      release_user(d->user);
    }
    recheck_paused = true;  // a connection may have become a client connection again
    dialogs.erase(it);
    n_dialogs--;
    if (notify) events->on_dialog_closed(id, reason);
  }

  // ------------------------------------------------------------------ dispatch
  void send_response(connection* c, const sip_message& req, int code, std::string_view reason,
                     std::string_view to_tag, std::string_view extra = {},
                     std::string_view ctype = {}, std::string_view body = {}) {
    queue_bytes(c, build_response(req, code, reason, to_tag, extra, ctype, body));
  }

  void handle_frame(connection* c, std::string_view bytes, bool oversized, size_t declared) {
    sip_message m;
    if (oversized) {
      n_bad++;
      auto r = parse_headers_only(bytes, &m);
      PCHAT_LOG(warn, "sip", "refused oversized message",
                "peer=" + c->peer_text + " content_length=" + std::to_string(declared) +
                    " limit=" + std::to_string(cfg.max_body_bytes));
      if (m.is_request && r.can_respond && m.method != "ACK")
        send_response(c, m, 413, "Request Entity Too Large",
                      {}, "Warning: 399 pchat \"Body exceeds " + std::to_string(cfg.max_body_bytes) + " bytes\"\r\n");
      return;
    }
    auto r = parse_message(bytes, &m);
    if (!r.ok()) {
      n_bad++;
      PCHAT_LOG(warn, "sip", "malformed SIP message",
                "peer=" + c->peer_text + " reason=" + log::quote(r.result.reason()));
      if (m.is_request && r.can_respond && m.method != "ACK")
        send_response(c, m, 400, "Bad Request", {},
                      "Warning: 399 pchat " + log::quote(r.result.reason().empty() ? "malformed" : r.result.reason()) + "\r\n");
      else if (!c->udp && !r.can_respond)
        close_connection(c->id, "unparseable SIP: " + r.result.reason(), true);
      return;
    }
    if (!m.is_request) {
      n_responses_in++;
      handle_response(c, m);
      return;
    }
    n_requests_in++;
    if (!c->sipe && m.user_agent.find("Sipe") != std::string::npos) c->sipe = true;
    const std::string& meth = m.method;
    bool out_of_dialog = m.to_tag.empty() && meth != "ACK" && meth != "CANCEL";
    if (out_of_dialog && !authorize(c, m)) return;
    if (meth == "INFO") handle_info(c, m);
    else if (meth == "REGISTER") handle_register(c, m);
    else if (meth == "SUBSCRIBE") handle_subscribe(c, m);
    else if (meth == "INVITE") handle_invite(c, m);
    else if (meth == "ACK") handle_ack(c, m);
    else if (meth == "BYE") handle_bye(c, m);
    else if (meth == "UPDATE") handle_in_dialog_ok(c, m);
    else if (meth == "SERVICE" || meth == "OPTIONS" || meth == "PRACK" || meth == "NOTIFY" ||
             meth == "MESSAGE" || meth == "PUBLISH" || meth == "CANCEL")
      send_response(c, m, 200, "OK", {});
    else
      send_response(c, m, 501, "Not Implemented", {},
                    "Allow: INVITE, ACK, BYE, CANCEL, INFO, OPTIONS, REGISTER, SUBSCRIBE, "
                    "SERVICE, UPDATE, NOTIFY, MESSAGE, PRACK\r\n");
  }

  static std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  // Digest gate for out-of-dialog requests (see endpoint_config::require_auth). Returns
  // true if the request may proceed; otherwise it has been answered (401/407/403).
  // A user trusted on the connection needs no credentials (SIPE answers only the challenged
  // request), but Digest credentials a request carries are checked all the same, so an
  // answer is good once on every connection (digest_nonces.h).
  bool authorize(connection* c, const sip_message& m) {
    if (!cfg.require_auth) return true;
    if (c->trusted) return true;  // a trusted front end (--trusted-peer) asserts its users (tls owns this line)
    std::string from = lower(m.from_uri);
    bool trusted = c->authenticated.count(from) > 0;
    const std::string& cred = !m.proxy_authorization.empty() ? m.proxy_authorization : m.authorization;
    digest_credentials dc;
    bool has_digest = !cred.empty() && parse_digest_credentials(cred, &dc);
    if (trusted && !has_digest) return true;
    int64_t now_s = now_ms() / 1000;
    bool stale = false;
    const char* why_challenged = nullptr;  // a Warning for a refused answer, if any
    if (has_digest) {
      std::string request_key = m.call_id + "\n" + std::to_string(m.cseq);
      switch (nonces.check(dc.nonce, dc.nc, c->id, request_key, now_s)) {
        case digest_nonces::verdict::retransmission:
          if (trusted) return true;  // the accepted request again (UDP): same answer
          [[fallthrough]];
        case digest_nonces::verdict::replayed: {
          n_auth_fail++;
          auto o = note_failure(c, dc);
          PCHAT_LOG(warn, "sip", "replayed Digest answer refused",
                    "user=" + log::quote(dc.username) + " peer=" + c->peer_text + " nc=" +
                        log::quote(dc.nc) + " user_failures=" + std::to_string(o.user_failures) +
                        " source_failures=" + std::to_string(o.source_failures) +
                        " delay_ms=" + std::to_string(o.delay.count()) + " action=" +
                        log::quote("none if the client resent its answer; otherwise someone replays captured credentials"));
          why_challenged = "nonce count already used: answer this challenge";
          break;
        }
        case digest_nonces::verdict::stale:
          stale = true;  // unknown, forgotten or expired: the client answers a fresh one
          break;
        case digest_nonces::verdict::bad_count:
        case digest_nonces::verdict::fresh:
          if (cfg.throttle) {
            auto wait = cfg.throttle->wait(user_key(dc), source_of(c));
            if (wait.count() > 0) {
              // Not checked at all while the user or the address waits (sign_in_throttle.h).
              n_auth_throttled++;
              std::string secs = std::to_string((wait.count() + 999) / 1000);
              PCHAT_LOG(debug, "sip", "sign-in attempt throttled",
                        "user=" + log::quote(dc.username) + " peer=" + c->peer_text + " wait_ms=" +
                            std::to_string(wait.count()));
              send_response(c, m, 403, "Forbidden", new_tag(),
                            "Retry-After: " + secs + "\r\nWarning: 399 pchat \"too many failed sign-ins: retry in " +
                                secs + " s\"\r\n");
              return false;
            }
          }
          return check_answer(c, m, dc, from, request_key);
      }
    }
    std::string challenge = digest_challenge(cfg.domain, nonces.issue(c->id, now_s), stale);
    std::string extra = proxy_style(c, m) ? "Proxy-Authenticate: " + challenge + "\r\n"
                                          : "WWW-Authenticate: " + challenge + "\r\n";
    if (why_challenged) extra += "Warning: 399 pchat \"" + std::string(why_challenged) + "\"\r\n";
    if (proxy_style(c, m))
      send_response(c, m, 407, "Proxy Authentication Required", new_tag(), extra);
    else
      send_response(c, m, 401, "Unauthorized", new_tag(), extra);
    return false;
  }

  // The throttle's keys: the address the Digest username names (either form), lower-case,
  // and the peer's IP address without its port.
  std::string user_key(const digest_credentials& dc) const {
    return lower("sip:" + (dc.username.find('@') != std::string::npos ? dc.username
                                                                       : dc.username + "@" + cfg.domain));
  }
  static std::string source_of(const connection* c) {
    return c->peer_text.substr(0, c->peer_text.rfind(':'));
  }
  sign_in_throttle::outcome note_failure(const connection* c, const digest_credentials& dc) {
    return cfg.throttle ? cfg.throttle->failed(user_key(dc), source_of(c)) : sign_in_throttle::outcome{};
  }

  // SIPE answers only a 407 (sip_digest.h); a client that sent Proxy-Authorization asked
  // for one too.
  static bool proxy_style(const connection*, const sip_message& m) {
    return m.user_agent.find("Sipe") != std::string::npos || !m.proxy_authorization.empty();
  }

  // The digest of an answer whose nonce is fresh: right for the user's HA1 and naming the
  // From user, or a 403.
  bool check_answer(connection* c, const sip_message& m, const digest_credentials& dc,
                    const std::string& from, const std::string& request_key) {
    bool counted = digest_nonces::parse_count(dc.nc) != 0 || dc.nc.empty();
    std::string ha1 = counted && ascii_iequal(dc.realm, cfg.domain) ? events->user_ha1(dc.username)
                                                                    : std::string();
    if (ha1.empty() || !verify_digest(dc, ha1, m.method)) {
      n_auth_fail++;
      auto o = note_failure(c, dc);
      PCHAT_LOG(warn, "sip", "authentication failed",
                "user=" + log::quote(dc.username) + " peer=" + c->peer_text +
                    " user_failures=" + std::to_string(o.user_failures) +
                    " source_failures=" + std::to_string(o.source_failures) +
                    " delay_ms=" + std::to_string(o.delay.count()) +
                    " action=" + log::quote("check the user name and password"));
      send_response(c, m, 403, "Forbidden", new_tag(),
                    "Warning: 399 pchat \"wrong user name or password\"\r\n");
      return false;
    }
    nonces.accept(dc.nonce, dc.nc, request_key);
    if (cfg.throttle) cfg.throttle->succeeded(user_key(dc));
    // The Digest username is the whole address (SIPE) or its user part (standard clients).
    std::string aor = "sip:" + (dc.username.find('@') != std::string::npos
                                    ? dc.username
                                    : dc.username + "@" + cfg.domain);
    if (lower(aor) != from) {
      n_auth_fail++;
      send_response(c, m, 403, "Forbidden", new_tag(),
                    "Warning: 399 pchat \"credentials of " + aor + " cannot act as " +
                        m.from_uri + "\"\r\n");
      return false;
    }
    c->authenticated.insert(from);
    PCHAT_LOG(info, "sip", "user authenticated", "user=" + m.from_uri + " peer=" + c->peer_text);
    return true;
  }

  // The dialog an in-dialog request on connection `c` belongs to: its tags and Call-ID, and
  // the connection it was opened on. Another connection that knows (or guesses) the tags
  // cannot end or speak in it.
  dialog* find_dialog(const connection* c, const sip_message& m) {
    if (m.to_tag.empty()) return nullptr;
    auto it = by_local_tag.find(m.to_tag);
    if (it == by_local_tag.end()) return nullptr;
    dialog* d = dialogs[it->second].get();
    if (d->conn != c->id || d->call_id != m.call_id || d->remote_tag != m.from_tag) return nullptr;
    return d;
  }

  // Tags (and our Via branches) are unguessable: whoever knows a dialog's tags could speak
  // in it, were the dialog not also bound to its connection (find_dialog).
  static std::string new_tag() { return random_hex(8); }

  // "udp", "tcp" or "tls": the Via and Contact transport of a connection (SIPE writes them
  // lower-case; upper-case in our Via as RFC 3261 does).
  static const char* transport_token(const connection* c) { return c->udp ? "udp" : c->ssl ? "tls" : "tcp"; }
  uint16_t port_of(const connection* c) const { return c->ssl ? bound_tls_port : bound_port; }

  // --plain: where unencrypted SIP is accepted (only when TLS is configured). A refused TCP
  // connection is closed at once, a refused datagram dropped; logged at most every 10 s.
  bool plain_allowed(const std::string& address) {
    if (!cfg.tls || cfg.peers.plain_allowed(address)) return true;
    n_conns_refused++;
    if (uint64_t before = 0; plain_refusal_log.due(now_ms(), &before))
      PCHAT_LOG(info, "sip", "unencrypted connection refused",
                "peer=" + address + " plain=" + tls::to_string(cfg.peers.plain) + " not_logged_before=" +
                    std::to_string(before) + " action=" + log::quote("clients connect with TLS to the sip-tls-port"));
    return false;
  }

  std::string local_contact(const connection* c, std::string_view user) const {
    return "<sip:" + std::string(user) + "@" + cfg.host + ":" + std::to_string(port_of(c)) +
           ";transport=" + transport_token(c) + ">";
  }

  bool is_chat_uri(const std::string& uri, std::string* user_out) const {
    // uri is "sip:user@host[:port]"
    if (!uri.starts_with("sip:")) return false;
    auto at = uri.find('@');
    if (at == std::string::npos) return false;
    std::string user = uri.substr(4, at - 4);
    std::string host = uri.substr(at + 1);
    if (auto colon = host.find(':'); colon != std::string::npos) host.resize(colon);
    if (!ascii_iequal(host, cfg.domain) && host != cfg.host) return false;
    for (auto& u : cfg.chat_users)
      if (ascii_iequal(u, user)) {
        *user_out = user;
        return true;
      }
    return false;
  }

  void handle_register(connection* c, const sip_message& m) {
    int64_t expires = m.expires >= 0 ? std::min<int64_t>(m.expires, cfg.register_expires_s)
                                     : cfg.register_expires_s;
    std::string extra;
    if (!m.contact_uri.empty())
      extra += "Contact: <" + m.contact_uri + ">;expires=" + std::to_string(expires) + "\r\n";
    extra += "Expires: " + std::to_string(expires) + "\r\n";
    // Each on its own line: SIPE compares whole header values (xccos-wire.md §3.2).
    extra += "Supported: msrtc-event-categories\r\n";
    extra += "Allow-Events: vnd-microsoft-provisioning-v2\r\n";
    extra += "ms-keep-alive: UAS; tcp=no; hop-hop=yes; end-pt=no; timeout=" +
             std::to_string(cfg.keepalive_timeout_s) + "\r\n";
    if (expires > 0) c->registered_user = m.from_uri;
    else c->registered_user.clear();
    send_response(c, m, 200, "OK", new_tag(), extra);
  }

  void handle_subscribe(connection* c, const sip_message& m) {
    if (!ascii_iequal(m.event, "vnd-microsoft-provisioning-v2")) {
      send_response(c, m, 489, "Bad Event", {}, "Allow-Events: vnd-microsoft-provisioning-v2\r\n");
      return;
    }
    std::string extra = "Expires: 0\r\nEvent: vnd-microsoft-provisioning-v2\r\n";
    if (!m.to_tag.empty()) {  // un-SUBSCRIBE at sign-out: no provisioning (notes §4)
      send_response(c, m, 200, "OK", {}, extra);
      return;
    }
    // Delivered exactly once, piggy-backed in the 200, with Expires: 0 so that the
    // client never re-subscribes (xccos-wire.md §3.4).
    extra += "ms-piggyback-cseq: " + std::to_string(m.cseq) + "\r\n";
    if (!m.contact_uri.empty()) extra += "Contact: <sip:" + cfg.domain + ">\r\n";
    std::string body = events->provisioning_body(m.from_uri);
    send_response(c, m, 200, "OK", new_tag(), extra,
                  "application/vnd-microsoft-roaming-provisioning-v2+xml", body);
  }

  std::string sdp_answer() const {
    char buf[512];
    std::snprintf(buf, sizeof buf, kSdpAnswerTemplate, cfg.host.c_str(), cfg.host.c_str(),
                  static_cast<unsigned>(bound_port));
    return buf;
  }

  void handle_invite(connection* c, const sip_message& m) {
    if (!m.to_tag.empty()) {  // re-INVITE inside an existing dialog
      dialog* d = find_dialog(c, m);
      if (!d) {
        send_response(c, m, 481, "Call/Transaction Does Not Exist", {});
        return;
      }
      send_response(c, m, 200, "OK", {}, "Contact: " + local_contact(c, "chat") + "\r\n",
                    "application/sdp", sdp_answer());
      return;
    }
    std::string key = m.call_id + "\n" + m.from_tag;
    if (auto it = c->initial_invites.find(key); it != c->initial_invites.end()) {
      auto d = dialogs.find(it->second);
      if (d != dialogs.end() && d->second->invite_cseq == m.cseq) {  // retransmission
        queue_bytes(c, d->second->invite_response);
        return;
      }
    }
    std::string chat_user;
    if (!is_chat_uri(m.to_uri, &chat_user)) {
      send_response(c, m, 404, "Not Found", new_tag(),
                    "Warning: 399 pchat \"No chat service at " + m.to_uri + "\"\r\n");
      return;
    }
    std::string user = lower(m.from_uri);
    const endpoint_limits& L = cfg.limits;
    auto known = users.find(user);
    size_t user_dialogs = known == users.end() ? 0 : known->second.dialogs;
    if (c->dialogs.size() >= L.max_dialogs_per_connection || user_dialogs >= L.max_dialogs_per_user) {
      bool per_user = user_dialogs >= L.max_dialogs_per_user;
      n_dialogs_refused++;
      if (!c->dialog_cap_logged) {  // once per connection
        c->dialog_cap_logged = true;
        PCHAT_LOG(warn, "sip", "refusing a dialog: dialog limit reached",
                  "peer=" + c->peer_text + " user=" + user + " limit=" + (per_user ? "user" : "connection") +
                      " max=" + std::to_string(per_user ? L.max_dialogs_per_user : L.max_dialogs_per_connection));
      }
      send_response(c, m, 503, "Service Unavailable", new_tag(),
                    "Retry-After: 60\r\nWarning: 399 pchat \"too many dialogs " +
                        std::string(per_user ? "for this user" : "on this connection") + "\"\r\n");
      return;
    }
    auto d = std::make_unique<dialog>();
    d->id = next_dialog++;
    d->conn = c->id;
    d->user = user;
    d->call_id = m.call_id;
    d->local_tag = new_tag();
    while (by_local_tag.count(d->local_tag)) d->local_tag = new_tag();
    d->remote_tag = m.from_tag;
    d->local_uri = m.to_uri;
    d->remote_uri = m.from_uri;
    d->invite_key = key;
    d->invite_cseq = m.cseq;
    std::string target = m.contact_uri.empty() ? m.from_uri : m.contact_uri;
    std::string transport = c->udp ? "UDP" : c->ssl ? "TLS" : "TCP";
    d->request_head = "INFO " + target + " SIP/2.0\r\nVia: SIP/2.0/" + transport + " " + cfg.host +
                      ":" + std::to_string(port_of(c)) + ";branch=z9hG4bK" +
                      random_hex(8) + "x";
    d->request_mid = "\r\nMax-Forwards: 70\r\nFrom: <" + d->local_uri + ">;tag=" + d->local_tag +
                     "\r\nTo: <" + d->remote_uri + ">;tag=" + d->remote_tag +
                     "\r\nCall-ID: " + d->call_id + "\r\nCSeq: ";
    d->request_tail = " INFO\r\nContact: " + local_contact(c, chat_user) +
                      "\r\nContent-Type: text/plain\r\nContent-Length: ";
    d->invite_response = build_response(
        m, 200, "OK", d->local_tag,
        "Contact: " + local_contact(c, chat_user) + "\r\n" +
            "Allow: INVITE, ACK, BYE, CANCEL, INFO, OPTIONS, UPDATE\r\n",
        "application/sdp", sdp_answer());
    dialog_info info;
    info.id = d->id;
    info.conn = c->id;
    info.user_uri = m.from_uri;
    info.registered_user = c->registered_user;
    info.chat_uri = m.to_uri;
    info.user_agent = m.user_agent;
    info.transport = transport_token(c);
    queue_bytes(c, d->invite_response);
    if (c->udp)
      retrans.push_back({c->id, d->id, m.cseq, true, d->invite_response, now_ms() + kT1Ms, kT1Ms,
                         now_ms() + kTimerFMs});
    c->initial_invites[key] = d->id;
    c->dialogs.insert(d->id);
    c->users[d->user]++;
    user_of(d->user).dialogs++;
    by_local_tag[d->local_tag] = d->id;
    dialogs.emplace(d->id, std::move(d));
    n_dialogs++;
    events->on_dialog_open(info);
  }

  void handle_ack(connection* c, const sip_message& m) {
    dialog* d = find_dialog(c, m);
    if (!d) return;
    std::erase_if(retrans, [&](const retransmission& r) { return r.dialog == d->id && r.is_invite_ok; });
  }

  void handle_bye(connection* c, const sip_message& m) {
    dialog* d = find_dialog(c, m);
    if (!d) {
      send_response(c, m, 481, "Call/Transaction Does Not Exist", {});
      return;
    }
    send_response(c, m, 200, "OK", {});
    close_dialog(d->id, "client sent BYE", true);
  }

  void handle_in_dialog_ok(connection* c, const sip_message& m) {
    if (!m.to_tag.empty() && !find_dialog(c, m)) {
      // 481 makes SIPE re-initialise group chat (xccos-wire.md §4.6).
      send_response(c, m, 481, "Call/Transaction Does Not Exist", {});
      return;
    }
    send_response(c, m, 200, "OK", {});
  }

  void handle_info(connection* c, sip_message& m) {
    dialog* d = find_dialog(c, m);
    if (!d) {
      send_response(c, m, 481, "Call/Transaction Does Not Exist", {});
      return;
    }
    auto& seen = d->recent_cseqs;
    auto at =
        std::lower_bound(seen.begin(), seen.end(), m.cseq,
                         [](const std::pair<uint32_t, int>& e, uint32_t v) { return e.first < v; });
    if (at != seen.end() && at->first == m.cseq) {
      // A retransmission (UDP) or a replay: never hand the same post over twice. Answered:
      // the same answer again (its request is byte-identical); pending: it is on its way.
      if (at->second != 0) send_final(c, m, at->second);
      return;
    }
    if (static_cast<int64_t>(m.cseq) <= d->cseq_floor) {
      // Older than every CSeq remembered: it cannot be told from a replay. RFC 3261
      // §12.2.2: a request out of order is refused with 500, never left unanswered.
      send_response(
          c, m, 500, "Server Internal Error", {},
          "Warning: 399 pchat \"CSeq " + std::to_string(m.cseq) + " is out of order\"\r\n");
      return;
    }
    seen.insert(at, {m.cseq, 0});
    if (seen.size() > kRecentCseqs) {
      d->cseq_floor = seen.front().first;
      seen.erase(seen.begin());
    }
    // Caps a TCP client connection cannot reach here (it is paused first, see
    // pause_cause): what is left is a user on a trunk, UDP, and the server's own cap.
    const endpoint_limits& L = cfg.limits;
    user_state& u = user_of(d->user);
    int64_t now = now_ms();
    const char* cap = inflight.load(std::memory_order_relaxed) >= L.max_inflight ? "server"
                      : u.inflight >= L.max_inflight_per_user                     ? "user"
                      : c->inflight >= L.max_inflight_per_connection              ? "connection"
                      : tokens_now(u, now) < 1                                    ? "user (rate)"
                      : bytes_now(u, now) <= 0                                    ? "user (bytes)"
                                                                                  : nullptr;
    if (cap) {
      n_503++;
      std::string resp = build_response(
          m, 503, "Service Unavailable", {},
          "Retry-After: 1\r\nms-diagnostics: 20000;reason=\"Chat service busy\";source=\"pchat\"\r\n"
          "Warning: 399 pchat \"too many requests in flight for this " + std::string(cap) + "\"\r\n");
      settle_cseq(d, m.cseq, 503);
      queue_bytes(c, resp);
      return;
    }
    txn_id t = next_txn++;
    std::string body = std::move(m.body);
    pending_txn p;
    p.conn = c->id;
    p.dialog = d->id;
    p.user = d->user;
    p.request = std::move(m);
    txns.emplace(t, std::move(p));
    inflight++;
    u.inflight++;
    c->inflight++;
    take_token(u, now, body.size());
    events->on_info(d->id, t, std::move(body));
  }

  // A response to one of our INFOs counts only on the connection and in the dialog it
  // belongs to (our tag, the client's tag, the Call-ID, a CSeq we sent): a 481 with a
  // matching tag from anyone else closes nothing (issue 13).
  void handle_response(connection* c, const sip_message& m) {
    auto it = by_local_tag.find(m.from_tag);
    if (it == by_local_tag.end()) return;  // dialog gone: nothing to do
    dialog_id did = it->second;
    const dialog* d = dialogs[did].get();
    if (d->conn != c->id || d->call_id != m.call_id || d->remote_tag != m.to_tag ||
        m.cseq == 0 || m.cseq >= d->next_cseq || !ascii_iequal(m.cseq_method, "INFO")) {
      if (uint64_t before = 0; ignored_response_log.due(now_ms(), &before))
        PCHAT_LOG(info, "sip", "ignored a response that belongs to no dialog of its connection",
                  "peer=" + c->peer_text + " status=" + std::to_string(m.status) +
                      " not_logged_before=" + std::to_string(before));
      return;
    }
    if (c->udp)
      std::erase_if(retrans, [&](const retransmission& r) {
        return r.dialog == did && !r.is_invite_ok && r.cseq == m.cseq;
      });
    if (m.status == 487 || m.status == 481) {
      // SIPE's way to say "this dialog is stale" (xccos-wire.md §4.4).
      close_dialog(did, "client answered " + std::to_string(m.status) + " (stale dialog)", true);
    } else if (m.status >= 300) {
      PCHAT_LOG(info, "sip", "client refused an INFO",
                "peer=" + c->peer_text + " status=" + std::to_string(m.status));
    }
  }

  // ------------------------------------------------------------------ timers
  static void on_timer_cb(void*, su_timer_t* t, void* arg) {
    static_cast<impl*>(arg)->on_timer();
    su_timer_set(t, &impl::on_timer_cb, arg);
  }
  void on_timer() {
    int64_t now = now_ms();
    for (auto& r : retrans) {
      if (r.next_ms > now) continue;
      if (now >= r.give_up_ms) continue;
      auto c = conns.find(r.conn);
      if (c != conns.end()) queue_bytes(c->second.get(), r.bytes);
      r.interval_ms = std::min(r.interval_ms * 2, 4000);
      r.next_ms = now + r.interval_ms;
    }
    // A UDP client that never answered one of our INFOs within Timer F is gone (no FIN
    // over UDP): end its dialog so its rooms stop sending to a dead port.
    std::vector<dialog_id> silent;
    for (auto& r : retrans)
      if (now >= r.give_up_ms && !r.is_invite_ok) silent.push_back(r.dialog);
    std::erase_if(retrans, [&](const retransmission& r) { return now >= r.give_up_ms; });
    for (auto d : silent) close_dialog(d, "client stopped answering (no response within 32 s)", true);
    check_soft_limits(now);
    if (!paused.empty()) recheck_paused = true;  // rate-limited users' buckets refill
    if (accept_paused && now >= accept_resume_ms) {
      accept_paused = false;
      su_root_eventmask(root, tcp_wait_index, tcp_fd, SU_WAIT_ACCEPT);
      if (tls_fd >= 0) su_root_eventmask(root, tls_wait_index, tls_fd, SU_WAIT_ACCEPT);
    }
    // Idle connections: SIPE's first keep-alive comes after 60 s of silence, later ones
    // every ms-keep-alive timeout; the limit is well above both. A UDP source without a
    // dialog is forgotten sooner. A message begun and not finished in message_timeout_s
    // (slowloris) closes its connection.
    if (now - last_sweep < 1000) return;
    last_sweep = now;
    const endpoint_limits& L = cfg.limits;
    std::vector<conn_id> idle, stalled;
    for (auto& [id, c] : conns) {
      if (c->paused) continue;  // its silence is ours
      int64_t limit_s = c->udp && c->dialogs.empty() ? L.udp_peer_idle_timeout_s : L.idle_timeout_s;
      if (now - c->last_rx_ms > limit_s * 1000 && (c->udp || c->out_pos == c->out.size()))
        idle.push_back(id);
      else if (c->partial_since_ms != 0 && now - c->partial_since_ms > int64_t{L.message_timeout_s} * 1000)
        stalled.push_back(id);
    }
    for (auto id : idle) close_connection(id, "idle timeout", true);
    for (auto id : stalled) {
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      n_stalled_closed++;
      PCHAT_LOG(warn, "sip", "closing connection: message not completed in time",
                "peer=" + it->second->peer_text + " limit_s=" + std::to_string(L.message_timeout_s) +
                    " buffered_bytes=" + std::to_string(it->second->framer.buffered()));
      close_connection(id, "message not completed in time", true);
    }
  }

  // Connections above their soft output limit for longer than its seconds are closed.
  void check_soft_limits(int64_t now) {
    if (over_soft.empty()) return;
    std::vector<conn_id> ids(over_soft.begin(), over_soft.end());
    for (auto id : ids) {
      auto it = conns.find(id);
      if (it == conns.end()) {
        over_soft.erase(id);
        continue;
      }
      connection* c = it->second.get();
      size_t pending = c->out.size() - c->out_pos;
      size_t soft = soft_limit(c);
      if (c->soft_since_ms == 0 || pending <= soft) {
        c->soft_since_ms = 0;
        over_soft.erase(id);
        continue;
      }
      bool trunk = c->users.size() > 1;
      int64_t secs = trunk ? cfg.limits.trunk_output_soft_seconds : cfg.limits.output_soft_seconds;
      if (!c->closing && now - c->soft_since_ms > secs * 1000) {
        over_soft.erase(id);
        close_slow_reader(c, "soft", soft, pending);
      }
    }
  }

  // ------------------------------------------------------------------ cross-thread queue
  static int on_wake_cb(void*, su_wait_t*, void* arg) {
    static_cast<impl*>(arg)->drain();
    return 0;
  }

  void push(command&& cmd) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.push_back(std::move(cmd));
      wake = !wake_pending;
      wake_pending = true;
    }
    if (wake) {
      uint64_t one = 1;
      ssize_t rc = ::write(wake_fd, &one, sizeof one);
      (void)rc;
    }
  }

  void drain() {
    uint64_t v;
    ssize_t rc = ::read(wake_fd, &v, sizeof v);
    (void)rc;
    std::vector<command> work;
    {
      std::lock_guard<std::mutex> lock(mu);
      work.swap(queue);
      wake_pending = false;
    }
    for (auto& cmd : work) {
      switch (cmd.k) {
        case command::kind::respond:
          do_respond(cmd.txn, cmd.code);
          break;
        case command::kind::info:
          do_send_info(cmd.dialog, *cmd.body, std::to_string(cmd.body->size()));
          break;
        case command::kind::info_many: {
          const std::string len = std::to_string(cmd.body->size());
          for (auto d : cmd.targets) do_send_info(d, *cmd.body, len);
          break;
        }
        case command::kind::end_user:
          do_end_user(cmd.user, cmd.forget);
          break;
      }
    }
  }

  void do_respond(txn_id t, int code) {
    auto it = txns.find(t);
    if (it == txns.end()) return;
    pending_txn p = std::move(it->second);
    txns.erase(it);
    inflight--;
    if (auto u = users.find(p.user); u != users.end()) {
      u->second.inflight--;
      release_user(p.user);
    }
    recheck_paused = true;
    if (code == 503) n_503++;
    auto d = dialogs.find(p.dialog);
    auto c = conns.find(p.conn);
    if (c != conns.end()) c->second->inflight--;
    if (d == dialogs.end() || c == conns.end()) return;
    settle_cseq(d->second.get(), p.request.cseq, code);
    send_final(c->second.get(), p.request, code);
  }

  // endpoint::end_user on the SIP thread. The BYE goes down the dialog's connection like
  // its INFOs (same Via, From, To, Call-ID, next CSeq); over UDP it is sent once (the dialog
  // is gone here whatever the client answers, and a lost BYE leaves a client whose next
  // INFO gets 481, which makes SIPE start over and be refused).
  void do_end_user(const std::string& user, bool forget) {
    std::vector<dialog_id> ids;
    for (auto& [id, d] : dialogs)
      if (d->user == user) ids.push_back(id);
    for (auto id : ids) {
      dialog* d = dialogs[id].get();
      auto c = conns.find(d->conn);
      if (c != conns.end()) {
        std::string cseq = std::to_string(d->next_cseq++);
        std::string bye = "BYE" + d->request_head.substr(4) + cseq + d->request_mid + cseq +
                          " BYE\r\nContent-Length: 0\r\n\r\n";
        n_requests_out++;
        queue_bytes(c->second.get(), bye);
      }
      close_dialog(id, "access revoked", true);
    }
    size_t untrusted = 0;
    if (forget)
      for (auto& [id, c] : conns) untrusted += c->authenticated.erase(user);
    if (!ids.empty() || untrusted > 0)
      PCHAT_LOG(info, "sip", "access revoked: dialogs ended",
                "user=" + user + " dialogs=" + std::to_string(ids.size()) +
                    " connections_untrusted=" + std::to_string(untrusted));
  }

  // Records the final status of the client's INFO `cseq` (for its retransmissions).
  static void settle_cseq(dialog* d, uint32_t cseq, int code) {
    auto& seen = d->recent_cseqs;
    auto at =
        std::lower_bound(seen.begin(), seen.end(), cseq,
                         [](const std::pair<uint32_t, int>& e, uint32_t v) { return e.first < v; });
    if (at != seen.end() && at->first == cseq) at->second = code;
  }

  // The final response `code` to INFO `req` (also what a retransmission of it gets).
  void send_final(connection* c, const sip_message& req, int code) {
    queue_bytes(c, build_response(req, code, {}, {}, code == 503 ? "Retry-After: 1\r\n" : ""));
  }

  // One server INFO into dialog `id` (`len` is body.size() as text, formatted once per
  // fan-out). Over TCP the request is written straight into the connection's buffer: the
  // body is copied once per member, the hot path of every post.
  void do_send_info(dialog_id id, const std::string& body, const std::string& len) {
    auto it = dialogs.find(id);
    if (it == dialogs.end()) return;
    dialog* d = it->second.get();
    auto c = conns.find(d->conn);
    if (c == conns.end()) return;
    connection* conn = c->second.get();
    uint32_t cseq = d->next_cseq++;
    char cs[12];
    auto cs_len = static_cast<size_t>(std::to_chars(cs, cs + sizeof cs, cseq).ptr - cs);
    std::string_view cseq_text(cs, cs_len);
    auto write = [&](std::string& out) {
      out.append(d->request_head).append(cseq_text).append(d->request_mid).append(cseq_text);
      out.append(d->request_tail).append(len).append("\r\n\r\n").append(body);
    };
    n_requests_out++;
    if (conn->udp) {  // the datagram is kept whole for retransmission
      std::string msg;
      write(msg);
      queue_bytes(conn, msg);
      retrans.push_back({d->conn, id, cseq, false, std::move(msg), now_ms() + kT1Ms, kT1Ms,
                         now_ms() + kTimerFMs});
      return;
    }
    size_t size = d->request_head.size() + d->request_mid.size() + d->request_tail.size() +
                  2 * cs_len + len.size() + 4 + body.size();
    if (std::string* out = output_for(conn, size)) write(*out);
  }
};

endpoint::endpoint(endpoint_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}

endpoint::~endpoint() { stop(); }

std::string endpoint::start(endpoint_events* events) {
  if (impl_->started) return "already started";
  if (events == nullptr) return "no event sink";
  impl_->events = events;
  if (auto err = impl_->bind_sockets(); !err.empty()) return err;
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl_->wake_fd < 0) return "eventfd: " + errno_text(errno);
  std::promise<std::string> ready;
  auto fut = ready.get_future();
  impl* self = impl_.get();
  impl_->thread = std::thread([self, &ready] {
    impl::current() = self;
    self->run(&ready);
  });
  std::string err = fut.get();
  if (!err.empty()) {
    impl_->thread.join();
    return err;
  }
  impl_->started = true;
  return {};
}

uint16_t endpoint::port() const { return impl_->bound_port; }
uint16_t endpoint::tls_port() const { return impl_->bound_tls_port; }

void endpoint::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->stopping.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = ::write(impl_->wake_fd, &one, sizeof one);
  (void)rc;
  impl_->thread.join();
  impl_->started = false;
  if (impl_->tcp_fd >= 0) ::close(impl_->tcp_fd);
  if (impl_->udp_fd >= 0) ::close(impl_->udp_fd);
  if (impl_->tls_fd >= 0) ::close(impl_->tls_fd);
  ::close(impl_->wake_fd);
  impl_->tcp_fd = impl_->udp_fd = impl_->tls_fd = impl_->wake_fd = -1;
}

void endpoint::respond(txn_id txn, int code) {
  impl::command c{impl::command::kind::respond};
  c.txn = txn;
  c.code = code;
  impl_->push(std::move(c));
}

void endpoint::send_info(dialog_id d, std::shared_ptr<const std::string> body) {
  impl::command c{impl::command::kind::info};
  c.dialog = d;
  c.body = std::move(body);
  impl_->push(std::move(c));
}

void endpoint::send_info_many(std::vector<dialog_id> targets, std::shared_ptr<const std::string> body) {
  impl::command c{impl::command::kind::info_many};
  c.targets = std::move(targets);
  c.body = std::move(body);
  impl_->push(std::move(c));
}

void endpoint::end_user(const std::string& user_uri, bool forget_credentials) {
  impl::command c{impl::command::kind::end_user};
  c.user = impl::lower(user_uri);
  c.forget = forget_credentials;
  impl_->push(std::move(c));
}

endpoint_stats endpoint::stats() const {
  endpoint_stats s;
  s.connections = impl_->n_conns.load();
  s.dialogs = impl_->n_dialogs.load();
  s.inflight = impl_->inflight.load();
  s.requests_in = impl_->n_requests_in.load();
  s.responses_in = impl_->n_responses_in.load();
  s.requests_out = impl_->n_requests_out.load();
  s.responses_503 = impl_->n_503.load();
  s.bad_messages = impl_->n_bad.load();
  s.auth_failures = impl_->n_auth_fail.load();
  s.auth_throttled = impl_->n_auth_throttled.load();
  s.udp_peers = impl_->n_udp_peers.load();
  s.paused_connections = impl_->n_paused.load();
  s.pauses = impl_->n_pauses.load();
  s.slow_readers_closed = impl_->n_slow_closed.load();
  s.connections_refused = impl_->n_conns_refused.load();
  s.dialogs_refused = impl_->n_dialogs_refused.load();
  s.stalled_messages_closed = impl_->n_stalled_closed.load();
  s.accept_backoffs = impl_->n_accept_backoffs.load();
  return s;
}

}  // namespace pchat::sip
