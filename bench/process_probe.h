// Processes the bench runs or watches: pchatd (spawned with --spawn-server, or found by its
// SIP port), the sofia-sip responder and the RocksDB ceiling probe; and what /proc says
// about them (CPU time, RSS).
//
// Threading: one thread. Errors are values (false / 0 / empty with error text).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pchat::bench {

// One reading of /proc/<pid>/stat and /proc/<pid>/status.
struct process_sample {
  bool ok = false;
  std::chrono::steady_clock::time_point at{};
  double cpu_seconds = 0;  // utime + stime
  uint64_t rss_kb = 0;     // VmRSS
  uint64_t hwm_kb = 0;     // VmHWM (peak RSS)
};
process_sample sample_process(pid_t pid);
// CPU use between two samples of one process, in percent of one core.
double cpu_percent(const process_sample& from, const process_sample& to);

// pid of the process listening on TCP `port` on this machine (via `ss -ltnp`), 0 if unknown
// (not ours, or ss missing).
pid_t find_listener_pid(uint16_t port);
// A TCP port on 127.0.0.1 that was free a moment ago (for children that need an explicit
// port, like pchat-sip-responder). 0 on failure.
uint16_t pick_free_port();

// A child process with stdout and stderr redirected to files.
class child_process {
 public:
  child_process() = default;
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // Starts argv[0] with arguments; output goes to `out_path` / `err_path`.
  bool start(const std::vector<std::string>& argv, const std::string& out_path,
             const std::string& err_path);
  // Waits until stdout has a "key=value" line for every key (e.g. "sip-port"), the child
  // exits, or the deadline passes. Returns the values found, empty on failure.
  std::map<std::string, std::string> wait_for_keys(const std::vector<std::string>& keys,
                                                   std::chrono::milliseconds deadline);
  // Waits for the child to exit on its own; returns its stdout. Kills it at the deadline.
  std::string wait_output(std::chrono::milliseconds deadline, int* exit_code);
  // SIGTERM, then SIGKILL at the deadline. Returns true on a clean exit (status 0); else
  // error() says how it ended (exit status, signal, killed at the deadline).
  bool stop(std::chrono::milliseconds deadline);
  // SIGKILL (kill -9) and reap: the child gets no chance to clean up.
  void kill_now();
  // SIGSTOP / SIGCONT.
  void pause();
  void resume();
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  std::string stderr_tail(size_t max_bytes = 2000) const;
  const std::string& error() const { return error_; }

 private:
  bool reap(bool block, int* status);

  pid_t pid_ = -1;
  std::string out_path_, err_path_;
  std::string error_;
};

// Text of a whole file ("" if unreadable).
std::string read_text_file(const std::string& path);

}  // namespace pchat::bench
