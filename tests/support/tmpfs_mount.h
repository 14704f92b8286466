// A small tmpfs mounted on a fresh directory, for disk-full tests: mounted in the
// constructor, unmounted (lazily, so it goes even while a crashed child holds files) and
// removed in the destructor. Mounting needs root (CAP_SYS_ADMIN); where it is not allowed,
// mounted() is false and reason() says why, for GTEST_SKIP.
//
// fill() takes the free space with a filler file so that about `leave` bytes stay free;
// release() deletes it. Not thread-safe: one test thread.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace pchat::testing {

class tmpfs_mount {
 public:
  explicit tmpfs_mount(uint64_t size_bytes) {
    char tmpl[] = "/tmp/pchat-tmpfs-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      reason_ = std::string("mkdtemp: ") + strerror(errno);
      return;
    }
    path_ = tmpl;
    std::string opts = "size=" + std::to_string(size_bytes) + ",mode=0755";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      reason_ =
          std::string("mount -t tmpfs: ") + strerror(errno) + " (needs root or CAP_SYS_ADMIN)";
      return;
    }
    mounted_ = true;
  }
  ~tmpfs_mount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  tmpfs_mount(const tmpfs_mount&) = delete;
  tmpfs_mount& operator=(const tmpfs_mount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  const std::string& path() const { return path_; }

  uint64_t free_bytes() const {
    struct statvfs v {};
    if (::statvfs(path_.c_str(), &v) != 0) return 0;
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  }

  // Writes the filler until the file system is full, then gives back `leave` bytes (whole
  // pages). Returns the filler's size, 0 on an unexpected error.
  uint64_t fill(uint64_t leave) {
    std::string name = filler_path();
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) return 0;
    static const std::string chunk(64 * 1024, 'f');
    uint64_t size = std::filesystem::file_size(name);
    for (int i = 0; i < 1'000'000; ++i) {  // bounded: a tmpfs fills long before
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n > 0) size += static_cast<uint64_t>(n);
      if (n < static_cast<ssize_t>(chunk.size())) break;
    }
    uint64_t give = std::min(leave, size);
    if (::ftruncate(fd, static_cast<off_t>(size - give)) != 0) give = 0;
    ::close(fd);
    return size - give;
  }
  // Deletes the filler: the space is back.
  void release() { ::unlink(filler_path().c_str()); }

 private:
  std::string filler_path() const { return path_ + "/filler"; }
  std::string path_;
  std::string reason_;
  bool mounted_ = false;
};

}  // namespace pchat::testing
