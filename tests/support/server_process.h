// A pchatd child process for end-to-end tests: started on free loopback ports (pchatd binds
// port 0 and prints the ports it got) in a data folder, stopped with SIGTERM, or killed with
// SIGKILL to simulate a crash. Its stdout and stderr go to <data folder>.out / .err beside
// the data folder (so a full data disk cannot swallow the log lines a test reads).
//
// One test thread owns it. The destructor kills the child if it still runs. The pchatd and
// pchatctl paths are the build tree's (set by CMake on the support library).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pchat::testing {

class server_process {
 public:
  // `extra_args` are appended to pchatd's command line (after --data-dir, --sip-port=0,
  // --http-port=0 and --auth=none, so that a later flag wins).
  explicit server_process(std::string data_dir, std::vector<std::string> extra_args = {});
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // Starts pchatd and waits (deadline) for its port lines. False if it exited or the
  // deadline passed (stderr_text() says why).
  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  // SIGTERM and wait for the exit; true on a clean exit (status 0). At the deadline the
  // child is killed and false returned.
  bool stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // The crash: SIGKILL, no chance to flush anything; waits for the child to go.
  void kill_now();
  // True while the child runs; if it has ended, reaps it and exit_text() / exit_code() say how.
  bool running();

  // How the child last ended: "exit 0", "signal 11" (the crash a hostile input test looks
  // for), ...; empty while it runs or after kill_now().
  const std::string& exit_text() const { return exit_text_; }
  // The same as a shell reports it: the exit status, or 128 + the signal; -1 if unknown.
  int exit_code() const { return exit_code_; }

  uint16_t sip_port() const { return static_cast<uint16_t>(sip_port_); }
  uint16_t http_port() const { return static_cast<uint16_t>(http_port_); }
  // SIP over TLS (pchatd's sip-tls-port line) and the SHA-256 fingerprint of the certificate
  // it serves (tls-sha256), as printed at the last start.
  uint16_t sip_tls_port() const { return static_cast<uint16_t>(sip_tls_port_); }
  const std::string& tls_fingerprint() const { return tls_fingerprint_; }
  // The pool (BASP) port of a node started with --etcd (printed before the others); 0 when
  // standalone.
  uint16_t pool_port() const { return static_cast<uint16_t>(pool_port_); }
  pid_t pid() const { return pid_; }
  // Resident set size of the running child in KiB (VmRSS), 0 if unknown.
  long rss_kib() const;
  // Everything the child (every start so far) wrote to stderr.
  std::string stderr_text() const;
  // What pchatd printed on stdout (ports, first start's demo passwords) since start().
  std::string stdout_text() const;
  // The admin API bearer token pchatd created in its data folder.
  std::string admin_token() const;

  // Soft and hard RLIMIT_NOFILE of the next start() (0: inherited): descriptor exhaustion tests.
  void set_open_files_limit(rlim_t n) { open_files_limit_ = n; }
  // An environment variable of the next start()s (PCHAT_CRASH_AT=...); "" removes it there.
  void set_env(const std::string& name, const std::string& value) { env_[name] = value; }

  // Runs `pchatctl --data-dir=<data> --server=127.0.0.1:<http port> <args>` (args are
  // passed through a shell: quote them as on a command line); returns its stdout and
  // stderr, *rc gets its exit status (-1 if it did not exit normally).
  std::string ctl(const std::string& args, int* rc) const;

  // pchatd admits only users its directory knows (no fallback to the global policy): makes
  // `user` ("alice@example.com") through the admin API unless it exists (an existing user is
  // left as it is). False (and why in *error) if the server did not do it.
  bool ensure_user(const std::string& user, std::string* error = nullptr) const;
  // The live server_process of this test process whose SIP port is `port`, or nullptr
  // (chat_clients provisions the users it signs in through it).
  static const server_process* on_sip_port(uint16_t port);

 private:
  void reaped(int status);

  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::map<std::string, std::string> env_;
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  rlim_t open_files_limit_ = 0;
  int sip_port_ = 0, http_port_ = 0, pool_port_ = 0, sip_tls_port_ = 0;
  std::string tls_fingerprint_;
  std::string exit_text_;
  int exit_code_ = -1;
};

}  // namespace pchat::testing
