#include "storage/file_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <random>

namespace pchat::storage {
namespace {

status sys_error(const std::string& what, const std::string& path) {
  return status::io_error(what + " " + path + ": " + std::strerror(errno));
}

// Creates `path` (one level) if missing; *created tells whether it did.
status ensure_dir(const std::string& path, bool* created) {
  *created = ::mkdir(path.c_str(), 0750) == 0;
  if (*created || errno == EEXIST) return status::ok();
  return sys_error("mkdir", path);
}

status fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return sys_error("open", path);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0 ? status::ok() : sys_error("fsync", path);
}

// A random GUID in its usual 8-4-4-4-12 form, then `extension` if it is plain.
std::string random_name(std::string_view extension) {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) {
      if (out.size() == 8 || out.size() == 13 || out.size() == 18 || out.size() == 23) out.push_back('-');
      out.push_back(hex[v & 15]);
    }
  }
  bool plain = extension.size() >= 2 && extension.size() <= 17 && extension[0] == '.';
  for (size_t i = 1; plain && i < extension.size(); ++i)
    plain = std::isalnum(static_cast<unsigned char>(extension[i])) != 0;
  // ".tmp" marks our own unfinished writes; an upload never gets it.
  if (plain && extension.size() == 4 && std::tolower(static_cast<unsigned char>(extension[1])) == 't' &&
      std::tolower(static_cast<unsigned char>(extension[2])) == 'm' &&
      std::tolower(static_cast<unsigned char>(extension[3])) == 'p')
    plain = false;
  if (plain) out.append(extension);
  return out;
}

bool safe_component(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

// A room's folder: never the uploads' own ".incoming" (room ids never start with '.').
bool safe_room_id(const std::string& s) { return safe_component(s) && s[0] != '.'; }

}  // namespace

file_store::writer::~writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

status file_store::writer::append(std::string_view bytes) {
  if (failed_ || fd_ < 0) return status::io_error("write " + tmp_ + ": the upload already failed or ended");
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed_ = true;
      return sys_error("write", tmp_);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  size_ += bytes.size();
  return status::ok();
}

status file_store::writer::commit(const std::string& room_id, std::string_view extension, std::string* blob) {
  if (!safe_room_id(room_id)) return status::invalid_argument("bad room id for the file store");
  if (failed_ || fd_ < 0) return status::io_error("commit " + tmp_ + ": the upload already failed or ended");
  int rc = ::fsync(fd_);
  int saved = errno;
  ::close(fd_);
  fd_ = -1;
  errno = saved;
  if (rc != 0) return sys_error("fsync", tmp_);
  bool new_dir = false;
  std::string dir = store_->room_dir(room_id);
  if (status s = ensure_dir(dir, &new_dir); !s.is_ok()) return s;
  std::string name = random_name(extension);
  std::string final_path = dir + "/" + name;
  if (::rename(tmp_.c_str(), final_path.c_str()) != 0) return sys_error("rename", tmp_);
  tmp_.clear();  // it is the blob now
  // The rename is durable only once the directory is (and a new room folder's entry).
  if (status s = fsync_path(dir, O_RDONLY | O_DIRECTORY); !s.is_ok()) return s;
  if (new_dir)
    if (status s = fsync_path(store_->root_, O_RDONLY | O_DIRECTORY); !s.is_ok()) return s;
  *blob = std::move(name);
  return status::ok();
}

status file_store::begin(std::unique_ptr<writer>* out) const {
  bool new_root = false, new_incoming = false;
  if (status s = ensure_dir(root_, &new_root); !s.is_ok()) return s;
  if (new_root) {  // its entry in the data folder must be durable too
    std::string parent = std::filesystem::path(root_).parent_path().string();
    if (status s = fsync_path(parent.empty() ? "." : parent, O_RDONLY | O_DIRECTORY); !s.is_ok()) return s;
  }
  if (status s = ensure_dir(incoming_dir(), &new_incoming); !s.is_ok()) return s;
  std::string tmp = incoming_dir() + "/" + random_name("") + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return sys_error("create", tmp);
  out->reset(new writer(this, fd, std::move(tmp)));
  return status::ok();
}

status file_store::discard_unfinished() const {
  std::error_code ec;
  std::filesystem::remove_all(incoming_dir(), ec);
  if (ec) return status::io_error("remove " + incoming_dir() + ": " + ec.message());
  return status::ok();
}

status file_store::put(const std::string& room_id, std::string_view bytes,
                       std::string_view extension, std::string* blob) const {
  if (!safe_room_id(room_id)) return status::invalid_argument("bad room id for the file store");
  std::unique_ptr<writer> w;
  if (status s = begin(&w); !s.is_ok()) return s;
  if (status s = w->append(bytes); !s.is_ok()) return s;
  return w->commit(room_id, extension, blob);
}

status file_store::open(const std::string& room_id, const std::string& blob, int* fd, uint64_t* size) const {
  if (!safe_room_id(room_id) || !safe_component(blob))
    return status::invalid_argument("bad file name for the file store");
  std::string path = room_dir(room_id) + "/" + blob;
  int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f < 0) {
    if (errno == ENOENT) return status::not_found("file " + path + " is missing");
    return sys_error("open", path);
  }
  struct stat st {};
  if (::fstat(f, &st) != 0) {
    status s = sys_error("fstat", path);
    ::close(f);
    return s;
  }
  *fd = f;
  *size = static_cast<uint64_t>(st.st_size);
  return status::ok();
}

status file_store::get(const std::string& room_id, const std::string& blob,
                       std::string* bytes) const {
  if (!safe_room_id(room_id) || !safe_component(blob))
    return status::invalid_argument("bad file name for the file store");
  std::string path = room_dir(room_id) + "/" + blob;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return status::not_found("file " + path + " is missing");
    return sys_error("open", path);
  }
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status s = sys_error("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  *bytes = std::move(out);
  return status::ok();
}

status file_store::remove(const std::string& room_id, const std::string& blob) const {
  if (!safe_room_id(room_id) || !safe_component(blob))
    return status::invalid_argument("bad file name for the file store");
  std::string path = room_dir(room_id) + "/" + blob;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("unlink", path);
  return status::ok();
}

status file_store::remove_room(const std::string& room_id) const {
  if (!safe_room_id(room_id)) return status::invalid_argument("bad room id for the file store");
  std::error_code ec;
  std::filesystem::remove_all(room_dir(room_id), ec);
  if (ec) return status::io_error("remove " + room_dir(room_id) + ": " + ec.message());
  return status::ok();
}

}  // namespace pchat::storage
