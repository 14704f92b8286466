// The misbehaving clients of pchat-bench's `overload` profile (issue 10, point 3), run on
// the bench's client_loop next to the normal population:
//
//   flooder     one user on its own TCP connection keeping `flood_inflight` posts of
//               `flood_post_bytes` unanswered at all times in its room (posts again as
//               each completes);
//   slow reader a member of the flooder's room and of `slow_reader_rooms` whose socket
//               stops being read (small SO_RCVBUF) once it has joined: the server must
//               drop it at its output limit;
//   slowloris   `slowloris` TCP connections to the SIP port, each holding a half-sent
//               request and adding one byte a second so it never looks idle, and
//               `http_slowloris` doing the same to the HTTP port with a request head.
//
// Lifetime: start() signs the users in (blocking, bounded); begin() lets them misbehave;
// stop() ends it all and closes every socket. The client_loop must outlive this object.
// Threading: the caller's thread, through the client_loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/client/xccos_client.h"

namespace pchat::bench {

struct bad_clients_config {
  std::string host = "127.0.0.1";
  uint16_t sip_port = 0;
  uint16_t http_port = 0;  // 0: no HTTP slowloris
  std::string domain = "example.com";
  std::string user_prefix = "bad";  // users <prefix>flood@, <prefix>slow@
  std::string room_uri;             // the flooder's and the slow reader's room
  std::vector<std::string> slow_reader_rooms;  // more rooms the slow reader is a member of
  int flood_inflight = 200;
  size_t flood_post_bytes = 16000;  // the 16 kB posts: the slow reader falls behind fast
  int slowloris = 100;
  int http_slowloris = 20;
};

struct bad_clients_counts {
  uint64_t flood_sent = 0;
  uint64_t flood_ok = 0;
  uint64_t flood_503 = 0;
  uint64_t flood_failed = 0;  // any other outcome
  bool slow_reader_closed = false;  // seen closed once it read again (stop())
  int slowloris_open = 0;           // still open at stop()
  int slowloris_closed = 0;         // closed by the server
  int http_slowloris_open = 0;
  int http_slowloris_closed = 0;
};

class bad_clients {
 public:
  bad_clients(client::client_loop& loop, bad_clients_config cfg);
  ~bad_clients();
  bad_clients(const bad_clients&) = delete;
  bad_clients& operator=(const bad_clients&) = delete;

  // Signs in the flooder and the slow reader and joins them to the room. False (with
  // error()) if that did not happen before `deadline`.
  bool start(std::chrono::steady_clock::time_point deadline);
  void begin();
  // Stops flooding and trickling, lets the slow reader read again to see whether the server
  // closed it, closes every socket. Returns the counts.
  bad_clients_counts stop(std::chrono::steady_clock::time_point deadline);
  const bad_clients_counts& counts() const { return counts_; }
  const std::string& error() const { return error_; }

 private:
  struct held_socket {
    int fd = -1;
    bool http = false;
    bool closed = false;
  };
  void flood_one();
  void open_slowloris(bool http, int n);
  void trickle();

  client::client_loop& loop_;
  bad_clients_config cfg_;
  std::unique_ptr<client::chat_client> flooder_, slow_;
  std::vector<held_socket> held_;
  client::client_loop::timer_id trickle_timer_ = 0;
  bool flooding_ = false;
  bad_clients_counts counts_;
  std::string filler_;
  std::string error_;
};

}  // namespace pchat::bench
