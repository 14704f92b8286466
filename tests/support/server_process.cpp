#include "tests/support/server_process.h"

#include "tests/support/http_client.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace pchat::testing {

namespace {
// Every server_process alive in this test process (tests are single-threaded, the lock is
// for helpers that run on other threads).
std::mutex live_mu;
std::set<const server_process*>& live() {
  static std::set<const server_process*> s;
  return s;
}
}  // namespace

server_process::server_process(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  std::lock_guard<std::mutex> l(live_mu);
  live().insert(this);
}

server_process::~server_process() {
  {
    std::lock_guard<std::mutex> l(live_mu);
    live().erase(this);
  }
  kill_now();
}

const server_process* server_process::on_sip_port(uint16_t port) {
  std::lock_guard<std::mutex> l(live_mu);
  for (auto* s : live())
    if (port != 0 && s->sip_port() == port) return s;
  return nullptr;
}

bool server_process::ensure_user(const std::string& user, std::string* error) const {
  std::string uri = user.rfind("sip:", 0) == 0 ? user : "sip:" + user;
  std::string body = "[{\"uri\":\"" + uri + "\"}]";
  auto r = http(http_port(), "POST", "/api/v1/users/batch",
                {"Authorization: Bearer " + admin_token(), "Content-Type: application/json"}, body);
  if (r.status == 200) return true;
  if (error) *error = "POST /api/v1/users/batch for " + uri + ": HTTP " + std::to_string(r.status) + " " + r.body;
  return false;
}

bool server_process::start(std::chrono::milliseconds deadline) {
  out_path_ = data_dir_ + ".out";
  err_path_ = data_dir_ + ".err";
  std::remove(out_path_.c_str());  // never read the ports of a previous run
  std::fflush(nullptr);            // the child must not repeat our buffered output
  exit_text_.clear();
  exit_code_ = -1;
  pid_ = fork();
  if (pid_ == 0) {
    if (open_files_limit_ > 0) {
      rlimit rl{open_files_limit_, open_files_limit_};
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (auto& [name, value] : env_) {
      if (value.empty())
        unsetenv(name.c_str());
      else
        setenv(name.c_str(), value.c_str(), 1);
    }
    std::freopen(out_path_.c_str(), "w", stdout);
    std::freopen(err_path_.c_str(), "a", stderr);
    std::string dd = "--data-dir=" + data_dir_;
    std::vector<std::string> args{"pchatd", dd, "--sip-port=0", "--http-port=0", "--auth=none"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    // PCHAT_TEST_LOG_LEVEL=info|debug: a failing test's servers say more (read with
    // PCHAT_KEEP_TEST_DIRS=1, temp_dir.h).
    if (const char* level = getenv("PCHAT_TEST_LOG_LEVEL"); level && *level)
      args.push_back(std::string("--log-level=") + level);
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
    sip_port_ = http_port_ = pool_port_ = sip_tls_port_ = 0;
    while (std::getline(in, line)) {
      if (line.rfind("sip-tls-port=", 0) == 0) sip_tls_port_ = std::atoi(line.c_str() + 13);
      if (line.rfind("tls-sha256=", 0) == 0) tls_fingerprint_ = line.substr(11);
      if (line.rfind("pool-port=", 0) == 0) pool_port_ = std::atoi(line.c_str() + 10);
      if (line.rfind("sip-port=", 0) == 0) sip_port_ = std::atoi(line.c_str() + 9);
      if (line.rfind("http-port=", 0) == 0) http_port_ = std::atoi(line.c_str() + 10);
    }
    if (sip_port_ && http_port_) return true;
    if (!running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool server_process::stop(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (!running()) return exit_code_ == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_now();
  return false;
}

void server_process::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool server_process::running() {
  if (pid_ <= 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
  reaped(status);
  return false;
}

void server_process::reaped(int status) {
  pid_ = -1;
  if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
    exit_text_ = "exit " + std::to_string(exit_code_);
  } else if (WIFSIGNALED(status)) {
    exit_code_ = 128 + WTERMSIG(status);
    exit_text_ = "signal " + std::to_string(WTERMSIG(status));
  } else {
    exit_code_ = -1;
    exit_text_ = "status " + std::to_string(status);
  }
}

long server_process::rss_kib() const {
  if (pid_ <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

std::string server_process::stderr_text() const {
  std::ifstream in(err_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string server_process::stdout_text() const {
  std::ifstream in(out_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string server_process::admin_token() const {
  std::ifstream in(data_dir_ + "/admin.token");
  std::string t;
  std::getline(in, t);
  return t;
}

std::string server_process::ctl(const std::string& args, int* rc) const {
  std::string cmd = std::string(PCHATCTL_PATH) + " --data-dir=" + data_dir_ +
                    " --server=127.0.0.1:" + std::to_string(http_port_) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = p ? pclose(p) : -1;
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace pchat::testing
