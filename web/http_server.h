// A small HTTP/1.1 server for the admin API and the file service: one thread, sequential
// requests, bodies by Content-Length only (no chunked uploads; `Expect: 100-continue` is
// answered), keep-alive honoured. Bound to loopback by default.
//
// Limits: request head 16 KiB, body max_body bytes (413 beyond; a head check may change it
// per request), 30 s per request counted from when the server starts waiting for it (so an
// idle keep-alive connection is closed after 30 s, and a trickling client cut off).
// Threading: start()/stop() from the owning thread; the handler runs on the server's
// thread, one request at a time, and may block (it talks to actors synchronously).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pchat::web {

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without query string, percent-decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further header lines ("Name: value", no CR/LF), e.g. WWW-Authenticate.
  std::vector<std::string> extra_headers;
};

using http_handler = std::function<http_response(const http_request&)>;

// Runs once a request's head is read, before its body is (the request's `body` is empty):
// may raise or lower *max_body for this request, or refuse it outright (the response is
// sent, the body never read, the connection closed). Lets a file upload be authenticated
// and sized before 100 Continue and before megabytes are read.
using http_head_check = std::function<std::optional<http_response>(const http_request&, size_t* max_body)>;

class http_server {
 public:
  http_server(std::string host, uint16_t port, http_handler handler, size_t max_body = 1 << 20);
  ~http_server();
  // Binds and starts the thread. Returns empty on success, else what failed.
  std::string start();
  // REQUIRES: before start().
  void set_head_check(http_head_check check) { head_check_ = std::move(check); }
  uint16_t port() const { return port_; }
  void stop();

 private:
  void run();
  void serve(int fd);

  std::string host_;
  uint16_t port_;
  http_handler handler_;
  http_head_check head_check_;
  size_t max_body_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Wraps `next` so that every request must carry `Authorization: Bearer <token>`;
// others get 401 with `hint` (where to find the token). Compared in constant time.
http_handler require_bearer_token(std::string token, std::string hint, http_handler next);

// Equal contents, in time that depends on the lengths only (for secrets).
bool constant_time_equal(std::string_view a, std::string_view b);

// Percent-decoding for paths and query values ('+' is a space in query values).
std::string url_decode(const std::string& s, bool plus_is_space);

}  // namespace pchat::web
