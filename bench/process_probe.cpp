#include "bench/process_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace pchat::bench {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

process_sample sample_process(pid_t pid) {
  process_sample s;
  s.at = std::chrono::steady_clock::now();
  if (pid <= 0) return s;
  std::string stat = read_text_file("/proc/" + std::to_string(pid) + "/stat");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  size_t rp = stat.rfind(')');
  if (rp == std::string::npos) return s;
  std::istringstream in(stat.substr(rp + 2));
  std::string field;
  // Field 3 is the state; utime and stime are fields 14 and 15 (1-based, proc(5)).
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  std::string status = read_text_file("/proc/" + std::to_string(pid) + "/status");
  auto kb = [&](const char* key) -> uint64_t {
    size_t p = status.find(key);
    return p == std::string::npos
               ? 0
               : std::strtoull(status.c_str() + p + std::strlen(key), nullptr, 10);
  };
  s.rss_kb = kb("VmRSS:");
  s.hwm_kb = kb("VmHWM:");
  s.ok = !status.empty();
  return s;
}

double cpu_percent(const process_sample& from, const process_sample& to) {
  double wall = std::chrono::duration<double>(to.at - from.at).count();
  if (!from.ok || !to.ok || wall <= 0) return 0;
  return 100.0 * (to.cpu_seconds - from.cpu_seconds) / wall;
}

pid_t find_listener_pid(uint16_t port) {
  std::string cmd = "ss -Hltnp 'sport = :" + std::to_string(port) + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  std::string out;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  size_t at = out.find("pid=");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(out.c_str() + at + 4));
}

uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

child_process::~child_process() {
  stop(std::chrono::seconds(5));
}

bool child_process::start(const std::vector<std::string>& argv, const std::string& out_path,
                          const std::string& err_path) {
  out_path_ = out_path;
  err_path_ = err_path;
  std::remove(out_path_.c_str());
  std::fflush(nullptr);  // the child must not repeat our buffered output
  pid_ = fork();
  if (pid_ < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid_ == 0) {
    // A bench killed mid-run must not leave its server behind.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (!std::freopen(out_path_.c_str(), "w", stdout) ||
        !std::freopen(err_path_.c_str(), "w", stderr))
      _exit(126);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  return true;
}

bool child_process::reap(bool block, int* status) {
  if (pid_ <= 0) return true;
  int st = 0;
  pid_t r = waitpid(pid_, &st, block ? 0 : WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    if (status) *status = st;
    return true;
  }
  return false;
}

std::map<std::string, std::string> child_process::wait_for_keys(
    const std::vector<std::string>& keys, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    std::map<std::string, std::string> found;
    std::istringstream in(read_text_file(out_path_));
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) found[line.substr(0, eq)] = line.substr(eq + 1);
    }
    bool all = true;
    for (auto& k : keys) all = all && found.count(k);
    if (all) return found;
    if (reap(false, nullptr)) {
      error_ = "exited before printing its ports: " + stderr_tail();
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ = "did not print its ports in time";
  return {};
}

std::string child_process::wait_output(std::chrono::milliseconds deadline, int* exit_code) {
  auto until = std::chrono::steady_clock::now() + deadline;
  int st = 0;
  *exit_code = -1;
  while (pid_ > 0) {
    if (reap(false, &st)) {
      *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid_, SIGKILL);
      reap(true, nullptr);
      error_ = "timed out";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return read_text_file(out_path_);
}

bool child_process::stop(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  auto until = std::chrono::steady_clock::now() + deadline;
  int st = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (reap(false, &st)) {
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return true;
      error_ = WIFSIGNALED(st) ? "died of signal " + std::to_string(WTERMSIG(st))
                               : "exit status " + std::to_string(WEXITSTATUS(st));
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  reap(true, nullptr);
  error_ = "did not stop on SIGTERM in time; killed";
  return false;
}

void child_process::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);  // a paused child dies as well
  ::kill(pid_, SIGKILL);
  reap(true, nullptr);
}

void child_process::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void child_process::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string child_process::stderr_tail(size_t max_bytes) const {
  std::string t = read_text_file(err_path_);
  return t.size() > max_bytes ? t.substr(t.size() - max_bytes) : t;
}

}  // namespace pchat::bench
