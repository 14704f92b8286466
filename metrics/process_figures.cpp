#include "metrics/process_figures.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace pchat::metrics {
namespace {

std::string read_small_file(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/stat's btime: the boot time, seconds since the epoch (0 if unknown).
uint64_t boot_time() {
  std::string s = read_small_file("/proc/stat");
  size_t p = s.find("\nbtime ");
  if (p == std::string::npos) return 0;
  return std::strtoull(s.c_str() + p + 7, nullptr, 10);
}

}  // namespace

process_figures read_process_figures() {
  process_figures f;
  std::string stat = read_small_file("/proc/self/stat");
  // The command name (field 2) is in parentheses and may hold spaces: fields after the
  // last ')' are at fixed positions (proc(5)): state is field 3.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return f;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0, threads = 0, start = 0, vsize = 0;
  long long rss_pages = 0;
  for (int n = 3; n <= 24 && (in >> field); ++n) {
    if (n == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 20) threads = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 22) start = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 23) vsize = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 24) rss_pages = std::strtoll(field.c_str(), nullptr, 10);
  }
  long ticks = ::sysconf(_SC_CLK_TCK);
  long page = ::sysconf(_SC_PAGESIZE);
  if (ticks <= 0 || page <= 0) return f;
  f.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks);
  f.threads = threads;
  f.virtual_bytes = vsize;
  f.resident_bytes = rss_pages > 0 ? static_cast<uint64_t>(rss_pages) * static_cast<uint64_t>(page) : 0;
  f.start_time_seconds = static_cast<double>(boot_time()) + static_cast<double>(start) / static_cast<double>(ticks);
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++f.open_fds;
    ::closedir(d);
    if (f.open_fds > 0) --f.open_fds;  // the directory stream's own descriptor
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) f.max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur;
  f.ok = true;
  return f;
}

}  // namespace pchat::metrics
