// This process's own figures, as Prometheus's process_* metrics name them, read from /proc
// (Linux). Each read opens a few small /proc files: for a scrape, not for a hot path.
//
// Thread safety: read_process_figures may be called from any thread.
#pragma once

#include <cstdint>

namespace pchat::metrics {

struct process_figures {
  bool ok = false;               // false: /proc could not be read (the rest is 0)
  double cpu_seconds = 0;        // user + system CPU time
  uint64_t resident_bytes = 0;   // RSS
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;         // entries of /proc/self/fd
  uint64_t max_fds = 0;          // RLIMIT_NOFILE soft limit
  double start_time_seconds = 0; // since the Unix epoch
  uint64_t threads = 0;
};

process_figures read_process_figures();

}  // namespace pchat::metrics
