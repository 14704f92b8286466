#include "tests/support/etcd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/read_file.h"

namespace pchat::testing {

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

etcd_server::etcd_server(std::string data_dir)
    : data_dir_(std::move(data_dir)), log_path_(data_dir_ + ".log") {}

etcd_server::~etcd_server() { kill_now(); }

std::string etcd_server::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(client_port_);
}

std::string etcd_server::log_text() const { return read_file(log_path_); }

bool etcd_server::spawn() {
  std::string client = endpoint();
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args{"etcd",
                                "--name=test",
                                "--data-dir=" + data_dir_,
                                "--listen-client-urls=" + client,
                                "--advertise-client-urls=" + client,
                                "--listen-peer-urls=" + peer,
                                "--initial-advertise-peer-urls=" + peer,
                                "--initial-cluster=test=" + peer,
                                "--logger=zap",
                                "--log-level=error",
                                "--log-outputs=stderr"};
  std::fflush(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    std::freopen(log_path_.c_str(), "a", stderr);
    std::freopen("/dev/null", "w", stdout);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv("/usr/bin/etcd", argv.data());
    _exit(127);
  }
  return pid_ > 0;
}

bool etcd_server::start(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  bool fixed_ports = client_port_ != 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!fixed_ports) {
      client_port_ = free_loopback_port();
      peer_port_ = free_loopback_port();
      if (client_port_ == 0 || peer_port_ == 0 || client_port_ == peer_port_) continue;
    }
    paused_ = false;
    if (!spawn()) return false;
    while (std::chrono::steady_clock::now() < until) {
      if (!running()) break;
      auto r = http(client_port_, "GET", "/health");
      if (r.status == 200 && r.body.find("true") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (running()) {  // up but not answering by the deadline
      kill_now();
      return false;
    }
    if (fixed_ports) return false;  // same ports on restart: a taken port is a failure
  }
  return false;
}

bool etcd_server::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
  pid_ = -1;
  return false;
}

bool etcd_server::stop(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return false;
  if (paused_) resume();
  ::kill(pid_, SIGTERM);
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      // etcd ends on SIGTERM by raising it again after its clean-up.
      return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
             (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill_now();
  return false;
}

void etcd_server::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  paused_ = false;
}

void etcd_server::pause() {
  if (pid_ > 0 && ::kill(pid_, SIGSTOP) == 0) paused_ = true;
}

void etcd_server::resume() {
  if (pid_ > 0 && ::kill(pid_, SIGCONT) == 0) paused_ = false;
}

}  // namespace pchat::testing
