// WebSocket on the HTTP port (RFC 6455, Boost.Beast): a GET with `Upgrade: websocket` to a
// path the owner registered (http_server::set_websocket) is handed, on its I/O thread, to
// an upgrade check that refuses it (an HTTP answer: the handshake is never made) or accepts
// it with an opener; the connection then leaves HTTP for good and carries text messages
// both ways.
//
// Limits (ws_limits): a message larger than max_message closes the connection (1009); the
// handshake has handshake_timeout; a silent peer is pinged after idle_timeout / 2 and
// closed after idle_timeout; outgoing messages queued for a peer that does not read beyond
// max_queued bytes close it (a slow reader never holds the server's memory). Binary
// messages are refused (1003: the protocol is text).
//
// Threads: the check and the opener run on an I/O thread and must not wait (no actor round
// trip); ws_handler's calls come from that connection's strand, one at a time, never after
// on_closed(). ws_connection's methods may be called from any thread, also after the
// connection closed (then they do nothing).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <variant>

namespace pchat::web {

struct http_request;
struct http_response;

// The server's side of one open WebSocket, as its owner (the handler) holds it.
class ws_connection {
 public:
  virtual ~ws_connection() = default;
  // Queues one text message (valid UTF-8 is the sender's duty). Over max_queued bytes
  // waiting: the connection is closed instead (1008 "too slow").
  virtual void send_text(std::string message) = 0;
  // Sends a close frame with `reason` (at most 120 bytes kept) after what is queued, then
  // closes. `code`: 1000 normal, 1008 policy (signed out, revoked).
  virtual void close(int code, std::string reason) = 0;
};

// What the owner does with a connection's events.
class ws_handler {
 public:
  virtual ~ws_handler() = default;
  // One complete text message (at most max_message bytes).
  virtual void on_text(std::string message) = 0;
  // The connection is gone (closed by either side, timed out, or the server stopping).
  // Called exactly once, last.
  virtual void on_closed() = 0;
};

// Called once the handshake is done: the handler for this connection (null closes it).
using ws_opener = std::function<std::shared_ptr<ws_handler>(std::shared_ptr<ws_connection>)>;

// Decides about an upgrade request (its head; no body): the refusal, or the opener.
using ws_upgrade_check = std::function<std::variant<http_response, ws_opener>(const http_request&)>;

struct ws_limits {
  size_t max_message = 64 * 1024;       // one incoming message (frames together); 1009 beyond
  size_t max_queued = 1 << 20;          // outgoing bytes waiting for a slow reader; closed beyond
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};  // pinged at half, closed at the end
};

}  // namespace pchat::web
