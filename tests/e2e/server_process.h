// A pchatd child process for end-to-end tests: started on free loopback ports in a data
// folder, stopped with SIGTERM (or killed with SIGKILL to simulate a crash).
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pchat::testing {

class server_process {
 public:
  // REQUIRES: PCHATD_PATH names the pchatd binary (set by CMake).
  explicit server_process(std::string data_dir, std::vector<std::string> extra_args = {})
      : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {}
  ~server_process() { kill_now(); }

  // Starts pchatd and waits (deadline) for its port lines. Returns false on failure.
  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    out_path_ = data_dir_ + ".out";
    err_path_ = data_dir_ + ".err";
    std::remove(out_path_.c_str());  // never read the ports of a previous run
    std::fflush(nullptr);            // the child must not repeat our buffered output
    pid_ = fork();
    if (pid_ == 0) {
      if (open_files_limit_ > 0) {
        rlimit rl{open_files_limit_, open_files_limit_};
        setrlimit(RLIMIT_NOFILE, &rl);
      }
      std::freopen(out_path_.c_str(), "w", stdout);
      std::freopen(err_path_.c_str(), "a", stderr);
      std::string dd = "--data-dir=" + data_dir_;
      std::vector<std::string> args{"pchatd", dd, "--sip-port=0", "--http-port=0", "--auth=none"};
      args.insert(args.end(), extra_args_.begin(), extra_args_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(PCHATD_PATH, argv.data());
      _exit(127);
    }
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      std::ifstream in(out_path_);
      std::string line;
      sip_port_ = http_port_ = 0;
      while (std::getline(in, line)) {
        if (line.rfind("sip-port=", 0) == 0) sip_port_ = std::atoi(line.c_str() + 9);
        if (line.rfind("http-port=", 0) == 0) http_port_ = std::atoi(line.c_str() + 10);
      }
      if (sip_port_ && http_port_) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  // SIGTERM and wait for a clean exit; false if it did not stop in time.
  bool stop(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    if (pid_ <= 0) return true;
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_text_ = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                     : WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                           : "status " + std::to_string(status);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill_now();
    return false;
  }
  // The crash: SIGKILL, no chance to flush anything.
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // True while the child runs; if it has ended, reaps it and exit_text() says how
  // ("signal 11": the crash a hostile input test looks for).
  bool running() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    exit_text_ = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                 : WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                       : "status " + std::to_string(status);
    return false;
  }
  // Resident set size of the running child in KiB (VmRSS), 0 if unknown.
  long rss_kib() const {
    if (pid_ <= 0) return 0;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return 0;
  }
  // How the last stop() ended ("exit 0", "signal 11", ...).
  const std::string& exit_text() const { return exit_text_; }
  uint16_t sip_port() const { return static_cast<uint16_t>(sip_port_); }
  pid_t pid() const { return pid_; }
  // Soft and hard RLIMIT_NOFILE of the next start() (0: inherited): descriptor exhaustion tests.
  void set_open_files_limit(rlim_t n) { open_files_limit_ = n; }
  // The admin API bearer token pchatd created in its data folder.
  std::string admin_token() const {
    std::ifstream in(data_dir_ + "/admin.token");
    std::string t;
    std::getline(in, t);
    return t;
  }
  uint16_t http_port() const { return static_cast<uint16_t>(http_port_); }
  std::string stderr_text() const {
    std::ifstream in(err_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Runs pchatctl against this server; returns its stdout, sets *rc.
  std::string ctl(const std::string& args, int* rc) const {
    std::string cmd = std::string(PCHATCTL_PATH) + " --data-dir=" + data_dir_ + " --server=127.0.0.1:" +
                      std::to_string(http_port_) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = p ? pclose(p) : -1;
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;  // appended to pchatd's command line
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  rlim_t open_files_limit_ = 0;
  int sip_port_ = 0, http_port_ = 0;
  std::string exit_text_;
};

}  // namespace pchat::testing
