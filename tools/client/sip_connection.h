// One client transport to the SIP server (TCP stream or connected UDP socket), shared by
// every simulated user (chat_client) that talks through it.
//
// A SIPE client has one connection of its own; the load bench's `--route=frontend` mode
// instead multiplexes many users' REGISTER/INVITE/INFO over one TCP connection, as a
// front-end proxy would. The connection therefore routes every incoming message to an
// endpoint:
//   - a response by (Call-ID, From tag, From URI): the sending user's;
//   - a request by (Call-ID, To tag, To URI): the receiving user's.
//   The URI is part of the key because SIPE clients started in the same second use the same
//   Call-IDs and tags (sipe-client-notes.md §3); only their URIs (and epids) differ;
//   - failing that, a request by its To URI (the user's address of record), then, if only
//     one endpoint is attached, to that one;
//   - a request that still has no endpoint is answered 481 here; a response is dropped.
// Both are counted in stats().
//
// Output is queued and written once per loop turn (client_loop::request_flush). The queue is
// bounded (connection_config::max_output_bytes): a server that stops reading gets the
// connection closed rather than unbounded client memory.
//
// Threading: owned by the loop's thread, like everything attached to a client_loop.
// Lifetime: created by open() as a shared_ptr; each chat_client using it holds one. Endpoints
// must detach() before they are destroyed. close() notifies attached endpoints at once
// (on_closed); an endpoint must not destroy the connection's last owner from inside a
// notification other than through that shared_ptr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tools/client/client_loop.h"
#include "tools/client/sip_wire.h"

struct ssl_ctx_st;
struct ssl_st;

namespace pchat::client {

// tls: TCP with TLS over it (the server's --sip-tls-port), the server's certificate verified.
enum class transport_kind { tcp, udp, tls };

struct connection_config {
  transport_kind transport = transport_kind::tcp;
  std::string server_host = "127.0.0.1";  // IPv4 literal
  uint16_t server_port = 5060;
  // Local address to bind before connecting, e.g. "127.0.0.2": each loopback address has
  // its own ~28k ephemeral ports, which tens of thousands of TCP clients need. Empty: any.
  std::string local_address;
  // A CRLFCRLF keep-alive is written when nothing was sent for this long (SIPE: 60 s).
  // Zero disables it. TCP only.
  std::chrono::milliseconds keepalive_interval{60000};
  size_t max_message_bytes = kMaxSipMessageBytes;
  size_t max_output_bytes = 8 * 1024 * 1024;
  // SIPE does not set TCP_NODELAY (sipe-client-notes.md §2); the test client does by default
  // so that latency figures measure the server, not Nagle.
  bool tcp_nodelay = true;
  // SO_RCVBUF before connecting (0: the kernel's autotuned default). A small one keeps what
  // the kernel absorbs small when reading stops (set_reading), e.g. output-limit tests.
  int receive_buffer_bytes = 0;
  // User-Agent of the 481s the connection sends for requests no endpoint claims.
  std::string user_agent = "pchat-client";
  // TLS only. The server's certificate must chain to a certificate in this PEM file (a
  // self-signed server certificate itself); empty: the system's trust store. It must name
  // tls_server_name (empty: server_host, as an IP address), which is also sent as SNI.
  std::string tls_ca_file;
  std::string tls_server_name;
  // A client certificate and key (PEM) to present, e.g. a front end pinned by fingerprint
  // (pchatd --trusted-peer). Empty: none.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Wire trace for debugging (SIPE's debug log equivalent): every message handed to the
  // socket (outgoing = true; keep-alives included) and every complete message parsed from it
  // (re-serialised head plus body, so not byte-exact). Empty: no tracing, no cost.
  std::function<void(bool outgoing, std::string_view text)> trace;
};

class sip_connection : public std::enable_shared_from_this<sip_connection>,
                       private client_loop::io_handler {
 public:
  // One simulated user on the connection.
  class endpoint {
   public:
    virtual void on_sip_message(const sip_message& m) = 0;
    // The TCP connect completed (never called for UDP, which is open at once).
    virtual void on_connected() = 0;
    // The connection is closed for good; `reason` says why.
    virtual void on_closed(const std::string& reason) = 0;

   protected:
    ~endpoint() = default;
  };

  enum class state { connecting, open, closed };

  struct stats {
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    uint64_t messages_in = 0;
    uint64_t writes = 0;  // write/send system calls that moved bytes
    uint64_t keepalives_sent = 0;
    uint64_t keepalive_bytes_in = 0;     // CR/LF skipped between incoming messages
    uint64_t unroutable_requests = 0;    // answered 481 by the connection
    uint64_t unroutable_responses = 0;   // dropped
    uint64_t datagram_errors = 0;        // UDP datagrams that did not parse (dropped)
    uint64_t datagrams_dropped_out = 0;  // UDP sends that failed with EAGAIN/ENOBUFS
  };

  // Creates the socket and starts connecting (TLS: the connection is open once the
  // handshake succeeded and the certificate was verified; a failure closes it, naming why). Never returns null; on a setup failure the
  // connection is already closed and close_reason() says why.
  static std::shared_ptr<sip_connection> open(client_loop& loop, const connection_config& cfg);
  ~sip_connection();
  sip_connection(const sip_connection&) = delete;
  sip_connection& operator=(const sip_connection&) = delete;

  state current_state() const { return state_; }
  bool is_open() const { return state_ == state::open; }
  bool is_closed() const { return state_ == state::closed; }
  const std::string& close_reason() const { return close_reason_; }
  transport_kind transport() const { return cfg_.transport; }
  // Via / Contact transport token, lower-case as SIPE writes it: "tcp", "udp" or "tls".
  std::string_view via_transport() const {
    return cfg_.transport == transport_kind::tcp ? "tcp" : cfg_.transport == transport_kind::tls ? "tls" : "udp";
  }
  bool is_stream() const { return cfg_.transport != transport_kind::udp; }
  // Local address and port (known right after open(), also while connecting).
  const std::string& local_ip() const { return local_ip_; }
  uint16_t local_port() const { return local_port_; }
  const stats& counters() const { return stats_; }
  client_loop& loop() { return loop_; }

  // Queues one message (TCP: bytes on the stream; UDP: one datagram). Returns false if the
  // connection is closed, the output limit was hit (the connection is then closed) or a
  // datagram is too large for UDP (nothing sent, the connection stays).
  // Bytes queued while connecting go out once connected.
  bool send(std::string_view bytes);
  // Writes CRLFCRLF now (TCP).
  void send_keepalive();
  // Closes the socket and notifies every attached endpoint. Idempotent.
  void close(const std::string& reason);
  // Stops (false) or resumes (true) reading the socket: a client that never reads, to test
  // the server's output limits. A hang-up is still noticed.
  void set_reading(bool on);

  void attach(endpoint* e);
  void detach(endpoint* e);  // also drops every route of `e`
  // `aor` is the user's URI ("sip:alice@example.com"), compared case-insensitively.
  void bind_route(std::string_view call_id, std::string_view local_tag, std::string_view aor,
                  endpoint* e);
  void unbind_route(std::string_view call_id, std::string_view local_tag, std::string_view aor);
  void bind_aor(std::string_view uri, endpoint* e);  // first binder of a URI keeps it
  size_t endpoint_count() const { return endpoints_.size(); }

 private:
  sip_connection(client_loop& loop, const connection_config& cfg);
  void start();
  void on_io(uint32_t events) override;
  void on_flush() override;
  void finish_connect();
  void start_tls();
  void drive_handshake();
  void opened();
  ssize_t read_some(char* buf, size_t n);
  ssize_t write_some(const char* buf, size_t n);
  void read_stream();
  void read_datagrams();
  void write_stream();
  void update_interest();
  void dispatch(const sip_message& m);
  void schedule_keepalive();
  void fail(const std::string& reason);
  static std::string route_key(std::string_view call_id, std::string_view tag,
                               std::string_view aor);

  client_loop& loop_;
  connection_config cfg_;
  int fd_ = -1;
  ssl_ctx_st* tls_ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  bool handshaking_ = false;
  uint64_t registration_ = 0;
  state state_ = state::connecting;
  std::string close_reason_;
  std::string local_ip_;
  uint16_t local_port_ = 0;
  sip_stream_framer framer_;
  std::string out_;  // TCP output not yet written
  size_t out_pos_ = 0;
  bool flush_requested_ = false;
  bool want_write_ = false;  // EPOLLOUT armed
  bool reading_ = true;      // EPOLLIN armed
  client_loop::clock::time_point last_send_{};
  client_loop::timer_id keepalive_timer_ = 0;
  std::vector<endpoint*> endpoints_;
  std::unordered_map<std::string, endpoint*> routes_;
  std::unordered_map<std::string, endpoint*> aors_;
  stats stats_;
  sip_message scratch_message_;  // reused to keep header vectors' capacity
};

}  // namespace pchat::client
