// The HTTP/1.1 server for the admin API, the file service and the room-management page, on
// Boost.Beast/Asio: many connections on a few I/O threads, every phase of a connection under
// a deadline, handlers on a small bounded pool of their own threads. Bound to loopback by
// default.
//
// A connection's life (web/http_server.cpp, class session):
//   idle      waiting for the first byte of a request (keep-alive too)  idle_timeout
//   head      request line and headers, at most max_head bytes (431)     head_timeout
//   head check  on the I/O thread: may refuse (the body is never read), resize the body limit,
//             or hand the body to a sink that takes it as it arrives (uploads)
//   body      at most max_body bytes (413); deadline body_timeout plus 1 s per body_min_rate
//             bytes received, so a trickling client is cut off, a slow honest one is not
//   handler   on a handler thread (at most handler_queue waiting, 503 beyond; one that
//             waited queue_timeout for a thread is answered 503 without running)
//   response  each piece (64 KiB at most) within write_timeout; file bodies are streamed
//             from disk with Range support (206/416)
// Beyond max_connections a new connection is answered 503 and closed. stop() closes every
// connection at once, whatever its phase.
//
// WebSocket (web/websocket.h): a GET with `Upgrade: websocket` to the path given to
// set_websocket() leaves HTTP at the end of its head: the upgrade check refuses it (an HTTP
// answer, connection closed) or the session's stream (plain or TLS) becomes a WebSocket
// under ws_limits. Upgrades to other paths go to the handler like any other request.
//
// Threads: start()/stop() from the owning thread. The handler runs on a handler thread and
// may block (it talks to actors synchronously); the head check and body sinks run on I/O
// threads and must not wait (no actor round trips; a write to the page cache is fine).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tls/peer_policy.h"
#include "web/http_target.h"
#include "web/websocket.h"

namespace pchat::tls {
class server_tls;
}

namespace pchat::web {

// Takes a request body piece by piece as it arrives (uploads too big to hold in memory).
class body_sink {
 public:
  virtual ~body_sink() = default;
  // Called on an I/O thread for each piece, in order. Returns empty, or why the body cannot
  // be taken (the request is answered 503 with it and the connection closed).
  virtual std::string write(std::string_view piece) = 0;
};

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without query string, percent-decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;    // empty when a sink took the body
  std::shared_ptr<body_sink> sink;  // the head check's sink, if it set one
  uint64_t body_size = 0;           // bytes of body received (in `body` or the sink)
  std::string peer;                 // the client's IP address
  bool peer_loopback = false;       // it is a loopback address (127.0.0.0/8, ::1)
  bool tls = false;                 // it came over TLS (https)
};

// A response body streamed from an open file (downloads): never read whole into memory.
// Owns the descriptor.
class file_source {
 public:
  file_source(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~file_source();
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further header lines ("Name: value", no CR/LF), e.g. WWW-Authenticate.
  std::vector<std::string> extra_headers;
  // When set (with status 200), the body is this file instead of `body`, and a GET's
  // `Range: bytes=` is honoured (206 with Content-Range, 416 when unsatisfiable).
  std::shared_ptr<const file_source> file;
};

using http_handler = std::function<http_response(const http_request&)>;

// What the head check decided for a request it lets through.
struct head_decision {
  size_t max_body;                  // the body limit for this request (starts at the server's)
  std::shared_ptr<body_sink> sink;  // set: the body goes here, not into http_request::body
};

// Runs on an I/O thread once a request's head is read, before its body is (the request's
// `body` is empty): may change the decision, or refuse the request outright (the response
// is sent, the body never read, the connection closed). Lets a file upload be
// authenticated, sized and given a sink before 100 Continue and before megabytes are read.
// REQUIRES: does not wait (see the header comment).
using http_head_check = std::function<std::optional<http_response>(const http_request&, head_decision*)>;

struct http_limits {
  size_t max_connections = 4096;  // open connections; beyond, 503 and closed
  size_t max_head = 16 * 1024;    // request line and headers (431 beyond)
  size_t max_body = 1 << 20;      // body held in memory (413 beyond; see head_decision)
  std::chrono::milliseconds idle_timeout{30'000};  // for a request's first byte
  std::chrono::milliseconds head_timeout{10'000};  // first byte to the end of the head
  std::chrono::milliseconds body_timeout{20'000};  // plus 1 s per body_min_rate bytes
  size_t body_min_rate = 16 * 1024;                 // bytes per second
  std::chrono::milliseconds write_timeout{30'000};  // per response piece (64 KiB at most)
  size_t io_threads = 2;
  size_t handler_threads = 4;
  size_t handler_queue = 256;  // requests waiting for a handler thread (503 beyond)
  std::chrono::milliseconds queue_timeout{10'000};  // waited longer for a thread: 503
};

// What the server has done since start (for /metrics). Any thread.
struct http_stats {
  uint64_t connections = 0;                         // open now
  std::vector<std::pair<int, uint64_t>> responses;  // (status, responses sent), non-zero ones,
                                                    // status ascending
};

class http_server {
 public:
  http_server(std::string host, uint16_t port, http_handler handler, http_limits limits = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  // Binds and starts the threads. Returns empty on success, else what failed.
  std::string start();
  // REQUIRES: before start().
  void set_head_check(http_head_check check);
  // WebSocket upgrades of GET `path` go to `check` (web/websocket.h). REQUIRES: before start().
  void set_websocket(std::string path, ws_upgrade_check check, ws_limits limits = {});
  // Serves HTTPS on the same port: a connection whose first bytes are a TLS handshake is
  // TLS with `identity` (reloadable: new connections take its current context), any other
  // is plain HTTP, accepted only where `peers.plain_allowed` (403 naming https otherwise).
  // Without it the port is plain HTTP for everyone. REQUIRES: before start().
  void set_tls(std::shared_ptr<tls::server_tls> identity, tls::peer_policy peers);
  uint16_t port() const { return port_; }
  // Any thread, also before start() and after stop(). Relaxed counters: no lock.
  http_stats stats() const;
  // Closes the listener and every connection, waits for running handlers (queued requests
  // are dropped unanswered). Idempotent.
  void stop();

  struct impl;  // web/http_server.cpp (sessions reach it)

 private:
  std::string host_;
  uint16_t port_;
  std::unique_ptr<impl> impl_;
};

// Wraps `next` so that every request must carry `Authorization: Bearer <token>`;
// others get 401 with `hint` (where to find the token). Compared in constant time.
http_handler require_bearer_token(std::string token, std::string hint, http_handler next);

// Wraps `next` so that only a client on a loopback address (http_request::peer_loopback), or
// one carrying `Authorization: Bearer <token>`, reaches it; others get 401 naming both ways
// in (`what` names the resource). An empty token admits loopback clients only.
http_handler loopback_or_bearer_token(std::string token, std::string what, http_handler next);

// Wraps `next` so that only clients on a local address (peers.is_local: loopback, less the
// tests' stand-ins for remote) reach it; others get 403 naming `what`.
http_handler local_clients_only(tls::peer_policy peers, std::string what, http_handler next);

// Equal contents, in time that depends on the lengths only (for secrets).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace pchat::web
