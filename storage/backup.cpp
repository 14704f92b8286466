#include "storage/backup.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/database.h"
#include "storage/db.h"
#include "text/utc_time.h"

namespace pchat::storage {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormatName = "pchat-backup";
constexpr size_t kChunk = 1 << 20;

struct listed_file {
  std::string path;  // relative to the backup folder, '/'-separated
  uint64_t size = 0;
  uint32_t crc = 0;
};

std::string errno_text(int e) { return std::strerror(e); }

// Closes a descriptor on every path out.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

status crc_of(const std::string& path, uint32_t* crc, uint64_t* size) {
  fd_guard in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) {
    int e = errno;
    if (e == ENOENT) return status::not_found(path + ": missing");
    return status::io_error("open " + path + ": " + errno_text(e));
  }
  std::vector<char> buf(kChunk);
  uLong c = crc32(0L, Z_NULL, 0);
  uint64_t n = 0;
  for (;;) {
    ssize_t r = ::read(in.fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return status::io_error("read " + path + ": " + errno_text(errno));
    }
    if (r == 0) break;
    c = crc32(c, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(r));
    n += static_cast<uint64_t>(r);
  }
  *crc = static_cast<uint32_t>(c);
  *size = n;
  return status::ok();
}

status fsync_path(const std::string& path) {
  fd_guard d{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (d.fd < 0) return status::io_error("open " + path + ": " + errno_text(errno));
  if (::fsync(d.fd) != 0) return status::io_error("fsync " + path + ": " + errno_text(errno));
  return status::ok();
}

// Copies src to dst (which must not exist), durably, computing the CRC-32 of what it wrote.
status copy_file(const std::string& src, const std::string& dst, const std::atomic<bool>* cancel, uint32_t* crc,
                 uint64_t* size) {
  fd_guard in{::open(src.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) {
    int e = errno;
    if (e == ENOENT) return status::not_found(src + ": missing");
    return status::io_error("open " + src + ": " + errno_text(e));
  }
  fd_guard out{::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)};
  if (out.fd < 0) return status::io_error("create " + dst + ": " + errno_text(errno));
  std::vector<char> buf(kChunk);
  uLong c = crc32(0L, Z_NULL, 0);
  uint64_t n = 0;
  for (;;) {
    if (cancel != nullptr && cancel->load()) return status::io_error("cancelled");
    ssize_t r = ::read(in.fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return status::io_error("read " + src + ": " + errno_text(errno));
    }
    if (r == 0) break;
    c = crc32(c, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(r));
    for (ssize_t done = 0; done < r;) {
      ssize_t w = ::write(out.fd, buf.data() + done, static_cast<size_t>(r - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return status::io_error("write " + dst + ": " + errno_text(errno));
      }
      done += w;
    }
    n += static_cast<uint64_t>(r);
  }
  if (::fsync(out.fd) != 0) return status::io_error("fsync " + dst + ": " + errno_text(errno));
  *crc = static_cast<uint32_t>(c);
  *size = n;
  return status::ok();
}

// Every regular file under root/sub, as paths relative to root, sorted.
status list_files(const fs::path& root, const std::string& sub, std::vector<std::string>* out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root / sub, ec), end;
  if (ec) return status::io_error("list " + (root / sub).string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return status::io_error("list " + (root / sub).string() + ": " + ec.message());
    if (it->is_regular_file(ec)) out->push_back(fs::relative(it->path(), root, ec).generic_string());
  }
  std::sort(out->begin(), out->end());
  return status::ok();
}

// Empties what a failed backup or restore wrote: the folder itself if we created it,
// else its contents (it was empty before).
void remove_written(const fs::path& dir, bool created) {
  std::error_code ec;
  if (created) {
    fs::remove_all(dir, ec);
    return;
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) fs::remove_all(it->path(), ec);
}

// `dir` missing (created, *created = true) or an empty folder. `what` names the folder
// in errors ("backup folder", "data folder").
status prepare_empty_dir(const fs::path& dir, const std::string& what, bool* created) {
  std::error_code ec;
  *created = false;
  auto st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) return status::already_exists(what + " " + dir.string() + " exists and is not a folder");
    if (!fs::is_empty(dir, ec))
      return status::already_exists(what + " " + dir.string() +
                                    " exists and is not empty: choose a new or empty folder (nothing was changed)");
    if (ec) return status::io_error("read " + dir.string() + ": " + ec.message());
    if (::access(dir.c_str(), W_OK) != 0)
      return status::io_error("cannot write into " + what + " " + dir.string() + ": " + errno_text(errno));
    return status::ok();
  }
  fs::create_directories(dir, ec);
  if (ec)
    return status::io_error("cannot create " + what + " " + dir.string() + ": " + ec.message() +
                            ": choose a folder the server can write");
  *created = true;
  return status::ok();
}

// A manifest path must stay inside the backup folder.
bool safe_relative(const std::string& p) {
  if (p.empty() || p.front() == '/') return false;
  for (const auto& part : fs::path(p))
    if (part == ".." || part == ".") return false;
  return p.rfind("store/", 0) == 0 || p.rfind("files/", 0) == 0;
}

status read_manifest(const fs::path& source, json* m) {
  std::error_code ec;
  if (!fs::is_directory(source, ec)) return status::not_found("backup folder " + source.string() + " does not exist");
  fs::path mp = source / kBackupManifest;
  if (!fs::exists(mp, ec))
    return status::not_found("no " + std::string(kBackupManifest) + " in " + source.string() +
                             ": not a pchat backup, or a backup that did not finish");
  uint32_t crc = 0;
  uint64_t size = 0;
  if (auto s = crc_of(mp.string(), &crc, &size); !s.is_ok()) return s;
  if (size > (uint64_t{256} << 20)) return status::corruption(mp.string() + " is too large to be a manifest");
  std::string text;
  {
    fd_guard in{::open(mp.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) return status::io_error("open " + mp.string() + ": " + errno_text(errno));
    text.resize(size);
    size_t got = 0;
    while (got < size) {
      ssize_t r = ::read(in.fd, text.data() + got, size - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return status::io_error("read " + mp.string() + ": " + errno_text(errno));
      got += static_cast<size_t>(r);
    }
  }
  *m = json::parse(text, nullptr, false);
  if (m->is_discarded() || !m->is_object()) return status::corruption(mp.string() + " is damaged: not JSON");
  if (m->value("format", "") != kFormatName)
    return status::corruption(mp.string() + " is not a pchat backup manifest");
  if (m->value("format_version", 0) != kBackupFormat)
    return status::corruption(mp.string() + ": backup format " + std::to_string(m->value("format_version", 0)) +
                              " is not supported by this pchat (format " + std::to_string(kBackupFormat) + ")");
  if (!m->contains("files") || !(*m)["files"].is_array())
    return status::corruption(mp.string() + " is damaged: no file list");
  for (const auto& f : (*m)["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("size") ||
        !f["size"].is_number_unsigned() || !f.contains("crc32") || !f["crc32"].is_number_unsigned() ||
        !safe_relative(f["path"].get<std::string>()))
      return status::corruption(mp.string() + " is damaged: bad file entry " + f.dump());
  }
  return status::ok();
}

void fill_totals(const json& m, backup_totals* t) {
  if (t == nullptr) return;
  t->created_micros = m.value("created_micros", int64_t{0});
  t->store_sequence = m.value("store_sequence", uint64_t{0});
  const json& tot = m.contains("totals") && m["totals"].is_object() ? m["totals"] : json::object();
  t->store_files = tot.value("store_files", uint64_t{0});
  t->store_bytes = tot.value("store_bytes", uint64_t{0});
  t->blobs = tot.value("blobs", uint64_t{0});
  t->blob_bytes = tot.value("blob_bytes", uint64_t{0});
}

std::string hex32(uint32_t v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

status check_entry(const json& f, uint32_t crc, uint64_t size) {
  const std::string p = f["path"].get<std::string>();
  if (size != f["size"].get<uint64_t>())
    return status::corruption("backup damaged: " + p + " has " + std::to_string(size) + " bytes, the manifest says " +
                              std::to_string(f["size"].get<uint64_t>()));
  if (crc != f["crc32"].get<uint32_t>())
    return status::corruption("backup damaged: " + p + " has CRC-32 " + hex32(crc) + ", the manifest says " +
                              hex32(f["crc32"].get<uint32_t>()));
  return status::ok();
}

status write_backup_into(const database& store, const fs::path& files_root, const fs::path& target,
                         const backup_origin& origin, const std::atomic<bool>& cancel, backup_totals* t,
                         std::string* manifest_json) {
  auto began = std::chrono::steady_clock::now();
  t->created_micros = utc::now_micros();
  // 1. The store, as of now: every post acknowledged before this point is in it.
  const fs::path store_dir = target / "store";
  if (auto s = store.db().checkpoint(store_dir.string(), &t->store_sequence); !s.is_ok())
    return status::io_error("cannot write the store's checkpoint into " + store_dir.string() + ": " + s.reason());
  std::vector<listed_file> listed;
  std::vector<std::string> store_files;
  if (auto s = list_files(target, "store", &store_files); !s.is_ok()) return s;
  for (const auto& p : store_files) {
    if (cancel.load()) return status::io_error("cancelled");
    listed_file f{p};
    if (auto s = crc_of((target / p).string(), &f.crc, &f.size); !s.is_ok()) return s;
    t->store_files++;
    t->store_bytes += f.size;
    listed.push_back(std::move(f));
  }
  if (auto s = fsync_path(store_dir.string()); !s.is_ok()) return s;

  // 2. The blobs the checkpoint's records name (and any stored before it): hard links
  // when possible (a blob never changes once stored), copies across filesystems.
  std::error_code ec;
  const fs::path files_dir = target / "files";
  fs::create_directories(files_dir, ec);
  if (ec) return status::io_error("create " + files_dir.string() + ": " + ec.message());
  if (fs::is_directory(files_root, ec)) {
    for (fs::directory_iterator rooms(files_root, ec), end; !ec && rooms != end; rooms.increment(ec)) {
      const std::string room = rooms->path().filename().string();
      if (room.empty() || room.front() == '.' || !rooms->is_directory(ec)) continue;  // .incoming: unfinished
      const fs::path room_out = files_dir / room;
      bool room_made = false;
      for (fs::directory_iterator blobs(rooms->path(), ec), bend; !ec && blobs != bend; blobs.increment(ec)) {
        if (cancel.load()) return status::io_error("cancelled");
        if (!blobs->is_regular_file(ec)) continue;
        if (!room_made) {
          fs::create_directories(room_out, ec);
          if (ec) return status::io_error("create " + room_out.string() + ": " + ec.message());
          room_made = true;
        }
        const std::string name = blobs->path().filename().string();
        const fs::path dst = room_out / name;
        listed_file f{"files/" + room + "/" + name};
        if (::link(blobs->path().c_str(), dst.c_str()) == 0) {
          if (auto s = crc_of(dst.string(), &f.crc, &f.size); !s.is_ok()) return s;
          t->linked++;
        } else {
          int e = errno;
          if (e == ENOENT) continue;  // removed since it was listed (a takedown)
          if (e != EXDEV && e != EPERM && e != EMLINK && e != ENOTSUP)
            return status::io_error("link " + dst.string() + ": " + errno_text(e));
          auto s = copy_file(blobs->path().string(), dst.string(), &cancel, &f.crc, &f.size);
          if (s.is_not_found()) continue;
          if (!s.is_ok()) return s;
          t->copied++;
        }
        t->blobs++;
        t->blob_bytes += f.size;
        listed.push_back(std::move(f));
      }
      if (ec) return status::io_error("list " + rooms->path().string() + ": " + ec.message());
      if (room_made)
        if (auto s = fsync_path(room_out.string()); !s.is_ok()) return s;
    }
    if (ec) return status::io_error("list " + files_root.string() + ": " + ec.message());
  }
  if (auto s = fsync_path(files_dir.string()); !s.is_ok()) return s;

  // 3. The manifest, last: its presence says the backup is complete.
  t->took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count();
  json files = json::array();
  for (const auto& f : listed) files.push_back({{"path", f.path}, {"size", f.size}, {"crc32", f.crc}});
  json m = {
      {"format", kFormatName},
      {"format_version", kBackupFormat},
      {"pchat_version", origin.pchat_version},
      {"created", utc::json_timestamp(t->created_micros)},
      {"created_micros", t->created_micros},
      {"node", {{"host", origin.host}, {"domain", origin.domain}, {"data_dir", origin.data_dir}}},
      {"store_sequence", t->store_sequence},
      {"contains",
       {"store/: RocksDB checkpoint of the Persistent Chat Store (rooms, categories, messages, users, groups, "
        "policies, add-ins, invitations, file records, preferences, settings, compliance events not yet delivered)",
        "files/: the uploaded files"}},
      {"not_contained",
       {"search index: rebuilt from the store at the first start after a restore",
        "admin.token: a new one is made at the first start", "compliance output already delivered",
        "command-line options and config file"}},
      {"totals",
       {{"store_files", t->store_files},
        {"store_bytes", t->store_bytes},
        {"blobs", t->blobs},
        {"blob_bytes", t->blob_bytes},
        {"blobs_linked", t->linked},
        {"blobs_copied", t->copied}}},
      {"took_ms", t->took_ms},
      {"files", std::move(files)},
  };
  const std::string text = m.dump(1);
  const fs::path tmp = target / (std::string(kBackupManifest) + ".tmp");
  {
    fd_guard out{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)};
    if (out.fd < 0) return status::io_error("create " + tmp.string() + ": " + errno_text(errno));
    for (size_t done = 0; done < text.size();) {
      ssize_t w = ::write(out.fd, text.data() + done, text.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return status::io_error("write " + tmp.string() + ": " + errno_text(errno));
      done += static_cast<size_t>(w);
    }
    if (::fsync(out.fd) != 0) return status::io_error("fsync " + tmp.string() + ": " + errno_text(errno));
  }
  if (::rename(tmp.c_str(), (target / kBackupManifest).c_str()) != 0)
    return status::io_error("rename " + tmp.string() + ": " + errno_text(errno));
  if (auto s = fsync_path(target.string()); !s.is_ok()) return s;
  if (manifest_json != nullptr) {
    json summary = m;
    summary.erase("files");
    summary["dir"] = target.string();
    *manifest_json = summary.dump();
  }
  return status::ok();
}

}  // namespace

status write_backup(const database& store, const std::string& files_root, const std::string& target,
                    const backup_origin& origin, const std::atomic<bool>& cancel, backup_totals* totals,
                    std::string* manifest_json) {
  if (target.empty()) return status::invalid_argument("the backup folder is empty: name a folder");
  fs::path dir(target);
  if (!dir.is_absolute())
    return status::invalid_argument("the backup folder " + target + " must be an absolute path");
  std::error_code ec;
  dir = fs::weakly_canonical(dir, ec);
  if (ec) return status::io_error("resolve " + target + ": " + ec.message());
  if (!origin.data_dir.empty()) {
    fs::path data = fs::weakly_canonical(fs::absolute(origin.data_dir, ec), ec);
    auto [d, t] = std::mismatch(data.begin(), data.end(), dir.begin(), dir.end());
    if (!ec && d == data.end())
      return status::invalid_argument("the backup folder " + target + " is inside the data folder " +
                                      origin.data_dir + ": choose a folder outside it");
  }
  bool created = false;
  if (auto s = prepare_empty_dir(dir, "backup folder", &created); !s.is_ok()) return s;
  backup_totals local;
  backup_totals* t = totals != nullptr ? totals : &local;
  *t = {};
  auto s = write_backup_into(store, files_root, dir, origin, cancel, t, manifest_json);
  if (!s.is_ok()) remove_written(dir, created);
  return s;
}

status verify_backup(const std::string& source, backup_totals* totals) {
  json m;
  if (auto s = read_manifest(source, &m); !s.is_ok()) return s;
  for (const auto& f : m["files"]) {
    uint32_t crc = 0;
    uint64_t size = 0;
    auto s = crc_of((fs::path(source) / f["path"].get<std::string>()).string(), &crc, &size);
    if (s.is_not_found()) return status::corruption("backup damaged: " + s.reason());
    if (!s.is_ok()) return s;
    if (auto c = check_entry(f, crc, size); !c.is_ok()) return c;
  }
  fill_totals(m, totals);
  return status::ok();
}

status restore_backup(const std::string& source, const std::string& data_dir, backup_totals* totals) {
  if (data_dir.empty()) return status::invalid_argument("the data folder to restore into is empty: name a folder");
  json m;
  if (auto s = read_manifest(source, &m); !s.is_ok()) return s;
  const fs::path dir(data_dir);
  bool created = false;
  if (auto s = prepare_empty_dir(dir, "data folder", &created); !s.is_ok()) return s;
  auto restore = [&]() -> status {
    std::error_code ec;
    for (const auto& f : m["files"]) {
      const std::string p = f["path"].get<std::string>();
      const fs::path dst = dir / p;
      fs::create_directories(dst.parent_path(), ec);
      if (ec) return status::io_error("create " + dst.parent_path().string() + ": " + ec.message());
      uint32_t crc = 0;
      uint64_t size = 0;
      auto s = copy_file((fs::path(source) / p).string(), dst.string(), nullptr, &crc, &size);
      if (s.is_not_found()) return status::corruption("backup damaged: " + s.reason());
      if (!s.is_ok()) return s;
      if (auto c = check_entry(f, crc, size); !c.is_ok()) return c;
    }
    fs::create_directories(dir / "files", ec);
    if (ec) return status::io_error("create " + (dir / "files").string() + ": " + ec.message());
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec))
        if (auto s = fsync_path(it->path().string()); !s.is_ok()) return s;
    if (auto s = fsync_path(dir.string()); !s.is_ok()) return s;
    // The restored store opens and every block's checksum holds.
    std::unique_ptr<db> restored;
    db_options o;
    o.path = (dir / "store").string();
    o.create_if_missing = false;
    if (auto s = db::open(o, &restored); !s.is_ok())
      return status::corruption("backup damaged: the restored store does not open: " + s.to_string());
    if (auto s = restored->verify_checksums(); !s.is_ok())
      return status::corruption("backup damaged: the restored store fails its checksums: " + s.to_string());
    return status::ok();
  };
  auto s = restore();
  if (!s.is_ok()) {
    remove_written(dir, created);
    return s;
  }
  fill_totals(m, totals);
  return status::ok();
}

}  // namespace pchat::storage
