#include "compliance/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "protocol/xccos/chat_uri.h"
#include "storage/crash_point.h"

namespace pchat::compliance {
namespace {

constexpr const char* kPrefix = "pchat-compliance-";
constexpr size_t kSeqDigits = 20;  // UINT64_MAX has 20 decimal digits
constexpr const char* kTempSuffix = ".tmp";
constexpr const char* kRoomPrefix = "pchat-compliance-room-";
constexpr std::string_view kPendingSuffix = ".pending";

std::string padded(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(v));
  return buf;
}

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

namespace {
std::string name_safe(const std::string& room_id) {
  std::string out;
  for (char c : room_id) {
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += keep ? c : '_';
  }
  return out;
}

status sync_directory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return status::io_error(errno_text("open directory", dir));
  bool ok = ::fsync(dfd) == 0;
  std::string err = ok ? "" : errno_text("fsync directory", dir);
  ::close(dfd);
  return ok ? status::ok() : status::io_error(err);
}
}  // namespace

std::string output_name(uint64_t first, uint64_t last, const std::string& room_id,
                        const std::string& ext) {
  std::string name = kPrefix + padded(first) + "-" + padded(last);
  if (!room_id.empty()) name += '-' + name_safe(room_id);
  return name + "." + ext;
}

std::string room_range_name(const std::string& room_id, uint64_t first, uint64_t last,
                            const std::string& ext) {
  return kRoomPrefix + name_safe(room_id) + "-" + padded(first) + "-" + padded(last) + "." + ext;
}

status write_pending(const std::string& dir, const std::string& name, const std::string& content) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return status::io_error("create directory " + dir + ": " + ec.message());
  std::string path = (std::filesystem::path(dir) / name).string() + std::string(kPendingSuffix);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return status::io_error(errno_text("open", path));
  bool ok = write_all(fd, content) && ::fsync(fd) == 0;
  std::string err = ok ? "" : errno_text("write", path);
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return status::io_error(err);
  }
  return sync_directory(dir);
}

status publish_pending(const std::string& dir, const std::string& name) {
  std::string final_path = (std::filesystem::path(dir) / name).string();
  std::string pending = final_path + std::string(kPendingSuffix);
  if (::rename(pending.c_str(), final_path.c_str()) != 0) return status::io_error(errno_text("rename", pending));
  return sync_directory(dir);
}

void remove_pending(const std::string& dir, const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(dir) / (name + std::string(kPendingSuffix)), ec);
}

std::vector<std::string> pending_names(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(kRoomPrefix, 0) != 0 || name.size() <= kPendingSuffix.size() ||
        name.compare(name.size() - kPendingSuffix.size(), kPendingSuffix.size(), kPendingSuffix) != 0)
      continue;
    out.push_back(name.substr(0, name.size() - kPendingSuffix.size()));
  }
  return out;
}

std::string room_id_of(const std::string& room_uri) {
  std::optional<xccos::uri_parts> room = xccos::parse_room_uri(room_uri);
  return room ? room->id : room_uri;
}

bool output_exists(const std::string& dir, const std::string& name) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(dir) / name, ec);
}

status write_atomically(const std::string& dir, const std::string& name,
                        const std::string& content) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return status::io_error("create directory " + dir + ": " + ec.message());
  std::string final_path = (std::filesystem::path(dir) / name).string();
  std::string tmp_path = final_path + kTempSuffix;
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return status::io_error(errno_text("open", tmp_path));
  bool ok = write_all(fd, content) && ::fsync(fd) == 0;
  std::string err = ok ? "" : errno_text("write", tmp_path);
  ::close(fd);
  if (!ok) {
    ::unlink(tmp_path.c_str());
    return status::io_error(err);
  }
  storage::crash_point("during_batch");
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    err = errno_text("rename", tmp_path);
    ::unlink(tmp_path.c_str());
    return status::io_error(err);
  }
  // The rename is durable only once the directory entry is: without this a crash could
  // bring back the batch's events (never deleted) *and* lose the file, which is safe, but
  // also let the delete survive while the file does not, which loses events.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return status::io_error(errno_text("open directory", dir));
  ok = ::fsync(dfd) == 0;
  err = ok ? "" : errno_text("fsync directory", dir);
  ::close(dfd);
  return ok ? status::ok() : status::io_error(err);
}

uint64_t find_range_end(const std::string& dir, uint64_t first) {
  std::string want = kPrefix + padded(first) + "-";
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.compare(0, want.size(), want) != 0) continue;
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, kTempSuffix) == 0) continue;
    std::string last = name.substr(want.size(), kSeqDigits);
    if (last.size() != kSeqDigits) continue;
    uint64_t v = 0;
    bool digits = true;
    for (char c : last) {
      if (c < '0' || c > '9') digits = false;
      else v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (digits && v >= first) return v;
  }
  return 0;
}

int remove_temporaries(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() < 4 ||
        name.compare(name.size() - 4, 4, kTempSuffix) != 0)
      continue;
    std::error_code rm;
    if (std::filesystem::remove(it->path(), rm)) ++n;
  }
  return n;
}

}  // namespace pchat::compliance
