// The SIP edge: one thread running a sofia-sip su_root that owns every socket, dialog and
// transaction. It answers the SIP-level parts of the sign-in ladder itself (REGISTER,
// provisioning SUBSCRIBE, INVITE/ACK/BYE, SERVICE/OPTIONS/UPDATE) and hands XCCOS INFO
// bodies to the application, which answers them later from any thread.
//
// Wire rules honoured here (xccos-wire.md §2, §4; sipe-client-notes.md):
//  - transactions are keyed on Call-ID + CSeq within a dialog, never on the Via branch
//    (SIPE sends none in-dialog); dialogs are keyed on our own To tag, so clients that
//    reuse Call-IDs and From tags (SIPE seeds rand() per second) never collide;
//  - every request the server sends goes down the connection the dialog arrived on;
//  - responses always carry a reason phrase and Content-Length, full header names;
//  - CRLF keep-alives are skipped; TCP_QUICKACK is re-armed after every read;
//  - a 487 or 481 from the client to one of our INFOs drops that (stale) dialog;
//  - an INFO is answered 503 only at an in-flight cap or a rate where backpressure cannot
//    be used (see endpoint_limits); every other outcome is the application's.
//
// Threading: start()/stop() from one owning thread. respond(), send_info(),
// send_info_many() and stats() may be called from any thread: they enqueue work and wake
// the SIP thread through an eventfd registered with the su_root. endpoint_events methods
// are called on the SIP thread only and must not block (post to actors and return).
// Teardown order: stop() stops the thread, closes every socket, and then no more events.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tls/peer_policy.h"

namespace pchat::tls {
class server_tls;
}

namespace pchat::sip {

class sign_in_throttle;  // sign_in_throttle.h

using conn_id = uint64_t;
using dialog_id = uint64_t;
using txn_id = uint64_t;

// Limits (README "SIP limits" lists them with what they protect). "Trunk": a TCP connection
// carrying dialogs of more than one user (a Lync front end); every other connection is a
// client. Limits are Redis-style: a client that cannot keep up is disconnected or slowed,
// never the others.
struct endpoint_limits {
  // Connections and dialogs. At max_tcp_connections a new connection is accepted and closed
  // at once; a new UDP source beyond max_udp_peers is answered 503 without keeping state.
  size_t max_tcp_connections = 10000;
  size_t max_udp_peers = 10000;
  int udp_peer_idle_timeout_s = 60;  // a UDP source without dialogs is forgotten after this
  size_t max_dialogs_per_connection = 20000;  // a trunk carries up to ~10,000 users
  size_t max_dialogs_per_user = 16;           // over all connections; beyond: INVITE gets 503
  // INFOs handed to the application and not yet answered (respond()). A TCP connection at
  // its own cap, or a client connection whose user is at the user cap, or (SIPE) any
  // connection while the global cap is reached, is not read until it is under again (TCP
  // backpressure: SIPE turns a 503 into an UPDATE storm, xccos-wire.md §4.5). A user at
  // the user cap on a trunk, a UDP peer, or a non-SIPE client at the global cap gets 503.
  size_t max_inflight = 50000;  // whole endpoint: the last guard
  size_t max_inflight_per_connection = 1024;
  size_t max_inflight_per_user = 64;  // SIPE sends a bccontext per followed room at once
  // INFOs a user may send per second, sustained (token bucket of `user_request_burst`),
  // treated like the user cap above: a client connection is not read until the bucket
  // refills, a user on a trunk or UDP gets 503. In-flight caps alone do not stop one
  // client taking the whole server: with answers in ~1 ms, 32 in flight was 18,700
  // posts/s (docs/PERFORMANCE.md, overload). 0 = no rate limit.
  double user_requests_per_second = 50;
  double user_request_burst = 200;
  // INFO body bytes a user may send per second, sustained, after a burst; the same
  // treatment (a request may overdraw it; the user then waits, or gets 503 on a trunk).
  // Every post is a synced write: 50 posts/s of 16 kB is enough to lengthen everyone's
  // fsync. 0 = no byte limit.
  double user_bytes_per_second = 64 * 1024;
  double user_bytes_burst = 1024 * 1024;
  // Output queued for a TCP connection and not yet taken by its socket. Past the hard limit,
  // or above the soft limit for longer than soft_seconds, the connection is closed (its
  // dialogs end as if the client had gone) and the closing is logged once.
  size_t output_soft_bytes = 4u << 20;
  int output_soft_seconds = 10;
  size_t output_hard_bytes = 16u << 20;
  size_t trunk_output_soft_bytes = 64u << 20;
  int trunk_output_soft_seconds = 60;
  size_t trunk_output_hard_bytes = 256u << 20;
  // A SIP message started on a TCP connection must be complete within this time (a
  // slowloris holding half-sent messages is closed).
  int message_timeout_s = 30;
  int idle_timeout_s = 660;  // no bytes for this long closes a TCP connection
};

struct endpoint_config {
  std::string host = "127.0.0.1";  // bind address (loopback by default)
  uint16_t port = 5041;            // 0 = pick a free port (TCP and UDP share it)
  bool tcp = true;
  bool udp = true;
  // SIP over TLS on its own port (0 = a free one), beside TCP and UDP on `port`; null: no
  // TLS listener. Each new connection takes the identity's current context (reloadable).
  std::shared_ptr<tls::server_tls> tls;
  uint16_t tls_port = 5061;
  // With `tls` set: where plain TCP/UDP is still accepted (a refused connection is closed at
  // once, a refused datagram dropped; counted in connections_refused) and which peers are
  // trusted front ends. A trusted peer's requests pass the Digest gate: it asserts users in
  // From, as Lync front ends do over MTLS. Without `tls`, plain is accepted from anyone.
  tls::peer_policy peers;
  std::string domain = "example.com";
  // User parts of the URIs answered as the chat service (lookup and channel roles).
  std::vector<std::string> chat_users = {"chat", "ocschat"};
  size_t max_body_bytes = 256 * 1024;     // larger requests get 413
  endpoint_limits limits;
  int register_expires_s = 3600;
  int keepalive_timeout_s = 300;          // advertised in ms-keep-alive
  // Digest authentication of out-of-dialog requests (REGISTER, SUBSCRIBE, INVITE, ...).
  // Clients whose User-Agent contains "Sipe" are challenged with 407 Proxy-Authenticate
  // (the only Digest form SIPE answers), others with 401. Once a user has authenticated
  // on a connection, that user's later requests on it are trusted (SIPE answers only the
  // challenged request). The realm is the domain.
  // Nonces are random, bound to the connection, good once per nonce count and for
  // nonce_max_age_s (digest_nonces.h); the Digest username is the whole address (SIPE) or
  // its user part (standard clients). Failed answers slow the next ones per user and per
  // source address through `throttle` (shared with HTTP Basic; null: none).
  bool require_auth = false;
  int nonce_max_age_s = 300;
  std::shared_ptr<sign_in_throttle> throttle;
};

struct dialog_info {
  dialog_id id = 0;
  conn_id conn = 0;
  std::string user_uri;        // From URI of the INVITE (sip:alice@example.com)
  std::string registered_user; // user that REGISTERed on this connection, if any
  std::string chat_uri;        // the URI the client INVITEd (sip:chat@example.com)
  std::string user_agent;
  std::string transport;       // "tcp", "udp" or "tls"
};

struct endpoint_stats {
  uint64_t connections = 0;
  uint64_t dialogs = 0;
  uint64_t inflight = 0;
  uint64_t requests_in = 0;
  uint64_t responses_in = 0;
  uint64_t requests_out = 0;
  uint64_t responses_503 = 0;
  uint64_t bad_messages = 0;
  uint64_t auth_failures = 0;
  uint64_t auth_throttled = 0;  // answers refused unchecked while their user or address waits
  // Limits at work (cumulative counts, except paused_connections).
  uint64_t udp_peers = 0;
  uint64_t paused_connections = 0;     // TCP connections not read now (over an in-flight cap)
  uint64_t pauses = 0;                 // times a connection was paused
  uint64_t slow_readers_closed = 0;    // closed at an output limit
  uint64_t connections_refused = 0;    // TCP at max_tcp_connections, UDP at max_udp_peers
  uint64_t dialogs_refused = 0;        // INVITEs refused at a dialog cap
  uint64_t stalled_messages_closed = 0;  // closed at message_timeout_s
  uint64_t accept_backoffs = 0;        // accept() hit EMFILE/ENFILE/ENOBUFS/ENOMEM
};

class endpoint_events {
 public:
  virtual ~endpoint_events() = default;
  // Provisioning document (provisionGroupList) for a user's in-band provisioning
  // SUBSCRIBE. Must be fast: read precomputed state.
  virtual std::string provisioning_body(const std::string& user_uri) = 0;
  virtual void on_dialog_open(const dialog_info& d) = 0;
  // One INFO in an open dialog. The application must eventually call respond(txn, code)
  // exactly once (until then the INFO counts against max_inflight).
  virtual void on_info(dialog_id d, txn_id txn, std::string body) = 0;
  // The dialog ended (BYE, connection closed, stale). Called once per opened dialog.
  virtual void on_dialog_closed(dialog_id d, const std::string& reason) = 0;
  // H(A1) = MD5(username:realm:password) of a user, lower-case hex; empty if the user is
  // unknown or disabled. Called on the SIP thread when require_auth is set: must be fast.
  virtual std::string user_ha1(const std::string& /*username*/) { return {}; }
};

// What the application uses to answer and push: implemented by endpoint, and by
// recording fakes in actor tests. All methods are thread-safe.
class dialog_sender {
 public:
  virtual ~dialog_sender() = default;
  // Answers a pending INFO (unknown or already answered txns are ignored).
  virtual void respond(txn_id txn, int code) = 0;
  // Sends one INFO with a text/plain body into the dialog (dropped if the dialog ended).
  virtual void send_info(dialog_id d, std::shared_ptr<const std::string> body) = 0;
  // The same body to many dialogs (fan-out): one queue entry, one wake-up.
  virtual void send_info_many(std::vector<dialog_id> targets,
                              std::shared_ptr<const std::string> body) = 0;
  // respond(txn, code), then send_info_many(targets, body), as one unit: a post's 200 and
  // its fan-out. A sender that forwards to other nodes (actors/pool_edge.h) carries both in
  // one message per node; the default is the two calls.
  virtual void respond_then_send_info_many(txn_id txn, int code, std::vector<dialog_id> targets,
                                           std::shared_ptr<const std::string> body) {
    respond(txn, code);
    send_info_many(std::move(targets), std::move(body));
  }
  // respond(txn, code), then the reply INFO `reply` (if any) to `d`, as one unit: a
  // command's answer (actors/info_answer.h). A sender whose client is not SIP (the web
  // sessions' actors/web_edge.h) must see both together to tell an accepted post from a
  // refused one; the default is the two calls.
  virtual void answer(txn_id txn, int code, dialog_id d, std::shared_ptr<const std::string> reply) {
    respond(txn, code);
    if (reply) send_info(d, std::move(reply));
  }
};

class endpoint final : public dialog_sender {
 public:
  // Constructed before the application that will receive its events (that application
  // sends through this endpoint, so it is built with a pointer to it); started last.
  explicit endpoint(endpoint_config cfg);
  ~endpoint();  // calls stop()
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  // Binds the sockets and starts the SIP thread, which from then on calls `events`.
  // Returns an empty string on success, else what failed (e.g. "bind 127.0.0.1:5041/tcp:
  // Address already in use"). REQUIRES: events outlives stop() (or the endpoint).
  std::string start(endpoint_events* events);
  // The bound port (valid after a successful start()).
  uint16_t port() const;
  // The bound TLS port (0 without TLS).
  uint16_t tls_port() const;
  void stop();

  // ---- any thread (see dialog_sender)
  void respond(txn_id txn, int code) override;
  void send_info(dialog_id d, std::shared_ptr<const std::string> body) override;
  void send_info_many(std::vector<dialog_id> targets,
                      std::shared_ptr<const std::string> body) override;
  // Access revoked (docs/SECURITY.md "Revocation"): ends every dialog of `user_uri` with a
  // BYE, as a Lync server does to a user it no longer admits (the application gets
  // on_dialog_closed for each; nothing is sent into them afterwards), and with
  // `forget_credentials` every connection that user authenticated on challenges the user's
  // next out-of-dialog request again (a deleted, disabled or changed password is then
  // refused). Returns at once; done on the SIP thread.
  void end_user(const std::string& user_uri, bool forget_credentials);
  endpoint_stats stats() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace pchat::sip
