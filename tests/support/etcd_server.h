// A single-member etcd (/usr/bin/etcd, Debian etcd-server 3.4) for tests: started on
// 127.0.0.1 with free client and peer ports and its own data folder, answering before
// start() returns. Its log (--log-level=error) goes to <data folder>.log beside the data
// folder. Faults: stop (SIGTERM), kill_now (SIGKILL), pause/resume (SIGSTOP/SIGCONT), and
// start again on the same data and ports.
//
// One test thread owns it. The destructor kills the child if it still runs (a paused one
// too). Ports are chosen by binding port 0 and closing it; when another process takes one
// before etcd binds it, start() tries again with new ports (3 times).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace pchat::testing {

class etcd_server {
 public:
  // `data_dir` (not created yet or empty) holds etcd's data; its log goes to data_dir + ".log".
  explicit etcd_server(std::string data_dir);
  ~etcd_server();
  etcd_server(const etcd_server&) = delete;
  etcd_server& operator=(const etcd_server&) = delete;

  // Starts etcd (same ports as before after the first start) and waits (deadline) until it
  // answers GET /health. False if it exited or did not answer in time (log_text() says why).
  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  // SIGTERM and wait for the exit (SIGKILL at the deadline); true on a clean exit.
  bool stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // SIGKILL and reap.
  void kill_now();
  // SIGSTOP / SIGCONT: a paused etcd accepts connections (the kernel does) but never answers.
  void pause();
  void resume();
  bool running();

  // "http://127.0.0.1:<client port>" (valid after the first start()).
  std::string endpoint() const;
  uint16_t client_port() const { return client_port_; }
  std::string log_text() const;

 private:
  bool spawn();
  std::string data_dir_, log_path_;
  pid_t pid_ = -1;
  bool paused_ = false;
  uint16_t client_port_ = 0, peer_port_ = 0;
};

// A loopback port nobody listens on at the moment of the call (bound to port 0, closed).
uint16_t free_loopback_port();

}  // namespace pchat::testing
