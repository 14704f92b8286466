#include "storage/rocksdb_log.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

#include <rocksdb/env.h>

#include "log/log.h"

namespace pchat::storage {
namespace {

class forwarding_logger final : public rocksdb::Logger {
 public:
  // DEBUG: let every line reach Logv; the level filter is ours (log::enabled).
  forwarding_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::DEBUG_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    write(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    write(level, format, ap);
  }

 private:
  static void write(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
    log::level ours =
        level >= rocksdb::InfoLogLevel::WARN_LEVEL ? log::level::info : log::level::debug;
    if (!log::enabled(ours)) return;
    char buf[1024];
    va_list copy;
    va_copy(copy, ap);
    int n = std::vsnprintf(buf, sizeof buf, format, copy);
    va_end(copy);
    if (n < 0) return;
    std::string line(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    log::write(ours, "rocksdb", "rocksdb", "line=" + log::quote(line));
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> make_rocksdb_logger() {
  return std::make_shared<forwarding_logger>();
}

}  // namespace pchat::storage
