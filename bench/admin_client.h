// The bench's client of pchatd's admin API (app/admin_api.h): creates the category and rooms
// a profile needs and removes them afterwards.
//
// One blocking HTTP/1.1 connection with keep-alive to a loopback address (the admin API is
// bound to loopback); a dropped connection is reopened once per request. Bodies are JSON.
//
// Users: pchat admits only users its directory knows; ensure_users() makes the bench's users
// through POST /api/v1/users/batch, with the run's password (browsers sign in with it).
//
// Threading: one thread. Errors are values: every call returns false / nullopt and sets
// last_error(); nothing throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pchat::bench {

struct created_room {
  std::string id;
  std::string uri;  // ma-chan://domain/id
  std::string name;
};

class admin_client {
 public:
  // `host_port` is "127.0.0.1:8011".
  explicit admin_client(std::string host_port);
  // The admin API's bearer token (pchatd keeps it in <data-dir>/admin.token).
  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }
  ~admin_client();
  admin_client(const admin_client&) = delete;
  admin_client& operator=(const admin_client&) = delete;

  struct response {
    int status = 0;  // 0: no HTTP response (transport error, see last_error())
    nlohmann::json body;
    std::string text;  // the body as received (e.g. /metrics' text format)
  };
  // One request; `body` empty means no body.
  response request(const std::string& method, const std::string& path,
                   const std::string& body = {});

  // GET /api/v1/status.
  std::optional<nlohmann::json> status();
  // POST /api/v1/categories; returns the category id.
  std::optional<std::string> create_category(const std::string& name,
                                             const std::string& description);
  // POST /api/v1/rooms, an open room (anyone in the category's scope joins).
  std::optional<created_room> create_room(const std::string& name, const std::string& category,
                                          const std::string& description);
  // DELETE /api/v1/rooms/{id}. Returns the HTTP status (0 on transport error); 404/405 mean
  // the server has no such endpoint yet or the room is gone.
  int delete_room(const std::string& id);
  // Makes every user in `users` ("name@domain") that does not exist (see the file comment),
  // with `password` unless empty (an existing user keeps the one it has).
  bool ensure_users(const std::vector<std::string>& users, const std::string& password = {});

  const std::string& last_error() const { return error_; }
  // Closes the keep-alive connection (pchatd's HTTP server waits for an idle keep-alive
  // connection before it stops, so close it before SIGTERM). The next request reconnects.
  void disconnect();

 private:
  bool connect_once();
  bool send_all(const std::string& bytes);
  // Reads one response (Content-Length framing); false on transport error.
  bool read_response(response& out);

  std::string host_;
  uint16_t port_ = 0;
  int fd_ = -1;
  std::string buf_;
  std::string error_;
  std::string token_;
};

}  // namespace pchat::bench
