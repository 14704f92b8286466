// The bench's browsers (--route=web): WebSocket clients speaking the web client's protocol
// (docs/WEB.md) to pchatd's HTTP port, as app.js does: POST /api/web/session with
// {address, password} for the session cookie, then GET /ws with that cookie and an Origin
// naming the server (on the same TCP connection when the sign-in answer keeps it alive),
// then JSON messages: join (with back-chat) -> joined, post -> ack | failed, live message.
//
// Every socket lives on one I/O thread of its own (Boost.Asio/Beast, async), so thousands
// of browsers cost the bench one core at most. The caller's thread (the load driver's
// client_loop) asks through the thread-safe calls below and gets what happened as events:
// each carries the steady-clock time (load_driver::now_ns) it was read at on the I/O
// thread, so handing it over adds nothing to a measured latency. notify_fd() becomes
// readable when events wait; take_events() empties the queue.
//
// Users are numbered by the caller (its user index); a user has at most one socket.
// Bounded: a sign-in (connect, HTTP answer, handshake) has `signin_timeout`; a message
// read is at most 1 MiB (the server sends at most its 64 KiB post plus the envelope; a
// joined with back-chat of 200 stays far below).
//
// Threads: every public call from any one thread (the owner's); events are produced on the
// I/O thread. The destructor closes everything and joins the I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pchat::bench {

struct web_event {
  enum class kind {
    signed_in,  // ok: the socket is open and said hello; else `text` says why not
    joined,     // `room` opened (back-chat included)
    parted,     // `room` left
    message,    // a live message in `room`: ours when `post` parsed (post, send_ns)
    ack,        // post `post_id` stored (ok) or failed (`text` says why)
    error,      // the server refused a request: `text`, and `room` when it named one
    removed,    // access to `room` ended
    closed,     // the socket closed (not by close_all): `text` says why
  };
  kind what = kind::error;
  uint32_t user = 0;
  bool ok = true;
  bool ours = false;    // message: the text is a bench post (delivery_ledger::post_text)
  uint32_t post = 0;    // message: the ledger id from the text; ack: from the post id
  int64_t send_ns = 0;  // message: the send time from the text
  int64_t at_ns = 0;    // when the I/O thread read it
  std::string room;
  std::string text;
};

struct web_clients_config {
  std::string host = "127.0.0.1";  // pchatd's HTTP address (also Host and Origin)
  uint16_t port = 0;
  std::chrono::milliseconds signin_timeout{15000};
};

class web_clients {
 public:
  explicit web_clients(web_clients_config cfg);
  ~web_clients();
  web_clients(const web_clients&) = delete;
  web_clients& operator=(const web_clients&) = delete;

  // False (with error()) if the I/O thread or the event descriptor could not be made.
  bool ok() const { return notify_fd_ >= 0; }
  const std::string& error() const { return error_; }

  // Signs `user` in as `address` (user@domain) with `password` from `source` (a loopback
  // address to bind, for port space), opens its socket: one signed_in event.
  void sign_in(uint32_t user, std::string address, std::string password, std::string source);
  // One JSON request each; the answer comes as an event. Nothing happens for a user with
  // no open socket (its closed event was or will be sent).
  void join(uint32_t user, std::string room, int history);
  void part(uint32_t user, std::string room);
  // Post `text` to `room` with the browser's id "p<post>": ack event with `post`.
  void post(uint32_t user, std::string room, uint32_t post, std::string text);
  // Closes every socket (no events after it) and stops the I/O thread.
  void close_all();

  int notify_fd() const { return notify_fd_; }
  // Moves every waiting event into `out` (appended) and clears the notification.
  void take_events(std::vector<web_event>& out);
  // Sockets open now (handshake done, not closed).
  size_t open_sockets() const { return open_.load(); }

 private:
  struct conn;
  struct io;
  void push(web_event e);

  web_clients_config cfg_;
  std::unique_ptr<io> io_;
  std::thread thread_;
  int notify_fd_ = -1;
  std::string error_;
  std::mutex mu_;
  std::vector<web_event> events_;
  std::atomic<size_t> open_{0};
  std::atomic<bool> closing_{false};
};

}  // namespace pchat::bench
