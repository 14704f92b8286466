#include "actors/file_replica_actor.h"

#include <caf/all.hpp>

#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>

#include "actors/messages.h"
#include "log/log.h"
#include "storage/database.h"
#include "storage/file_store.h"

namespace pchat::actors {
namespace {

struct intake {
  std::unique_ptr<storage::file_store::writer> writer;
  std::chrono::steady_clock::time_point touched;
};

struct file_replica_state {
  storage::database* store = nullptr;
  std::unique_ptr<storage::file_store> files;
  caf::actor commit;
  std::chrono::milliseconds timeout{};
  std::map<std::pair<std::string, uint64_t>, intake> intakes;  // (room, file id)
  static inline const char* name = "file-replica";

  // Drops idle intakes, and the oldest while there are too many.
  void prune() {
    auto now = std::chrono::steady_clock::now();
    for (auto it = intakes.begin(); it != intakes.end();)
      it = now - it->second.touched > kIntakeIdle ? intakes.erase(it) : std::next(it);
    while (intakes.size() >= kMaxIntakes) {
      auto oldest = intakes.begin();
      for (auto it = intakes.begin(); it != intakes.end(); ++it)
        if (it->second.touched < oldest->second.touched) oldest = it;
      intakes.erase(oldest);
    }
  }
};

using file_replica_ptr = caf::stateful_actor<file_replica_state>*;

// One upload's record as shipped and as held (the blob's name is each node's own).
bool same_upload(const storage::file_record& a, const storage::file_record& b) {
  return a.id == b.id && a.room_id == b.room_id && a.name == b.name && a.size == b.size &&
         a.uploader == b.uploader && a.ts_micros == b.ts_micros;
}

// Answers through `rp` in every outcome.
void take_chunk(file_replica_ptr self, caf::response_promise rp, storage::file_record& f, uint64_t offset,
                const std::string& bytes, bool last) {
  auto& st = self->state;
  storage::file_record held;
  if (st.store->files().get(f.room_id, f.id, &held).is_ok()) {
    if (same_upload(held, f)) return void(rp.deliver(held.size));  // shipped before
    // Another upload with this id (ids are per node: only an old clock id can meet one).
    return void(rp.deliver(make_error(errc::forbidden, "file id " + std::to_string(f.id) +
                                                           " of room " + f.room_id +
                                                           " is another upload's on this node")));
  }
  if (bytes.size() > kFileChunk || offset + bytes.size() > f.size)
    return void(rp.deliver(make_error(errc::bad_request, "file chunk beyond the file's size or over " + std::to_string(kFileChunk) + " bytes")));
  auto key = std::make_pair(f.room_id, f.id);
  if (offset == 0) {
    st.intakes.erase(key);
    st.prune();
    intake in;
    if (auto s = st.files->begin(&in.writer); !s.is_ok()) return void(rp.deliver(make_error(errc::storage_failure, s.to_string())));
    st.intakes.emplace(key, std::move(in));
  }
  auto it = st.intakes.find(key);
  if (it == st.intakes.end() || it->second.writer->size() != offset)
    return void(rp.deliver(make_error(errc::bad_request, "file chunk at " + std::to_string(offset) + " does not follow what is held")));
  it->second.touched = std::chrono::steady_clock::now();
  if (auto s = it->second.writer->append(bytes); !s.is_ok()) {
    st.intakes.erase(it);
    return void(rp.deliver(make_error(errc::storage_failure, s.to_string())));
  }
  if (!last) return void(rp.deliver(it->second.writer->size()));
  if (it->second.writer->size() != f.size) {
    st.intakes.erase(it);
    return void(rp.deliver(make_error(errc::bad_request, "file ended at " + std::to_string(offset + bytes.size()) + " of " + std::to_string(f.size) + " bytes")));
  }
  std::string_view extension;
  if (auto dot = f.name.rfind('.'); dot != std::string::npos && dot > 0) extension = std::string_view(f.name).substr(dot);
  auto writer = std::move(it->second.writer);
  st.intakes.erase(it);
  if (auto s = writer->commit(f.room_id, extension, &f.blob); !s.is_ok())
    return void(rp.deliver(make_error(errc::storage_failure, s.to_string())));
  self->request(st.commit, st.timeout, file_put_atom::value, f, std::vector<storage::compliance_record>{})
      .then([rp, size = f.size](uint64_t) mutable { rp.deliver(size); },
            [self, rp, f](caf::error& err) mutable {
              self->state.files->remove(f.room_id, f.blob);
              rp.deliver(std::move(err));
            });
}

caf::result<storage::file_record, std::string> give_chunk(file_replica_ptr self, const std::string& room_id,
                                                          uint64_t id, uint64_t offset) {
  auto& st = self->state;
  storage::file_record f;
  if (auto s = st.store->files().get(room_id, id, &f); s.is_not_found())
    return make_error(errc::not_found, "no file " + std::to_string(id) + " in room " + room_id + " on this node");
  else if (!s.is_ok())
    return make_error(errc::storage_failure, s.to_string());
  int fd = -1;
  uint64_t size = 0;
  if (auto s = st.files->open(f.room_id, f.blob, &fd, &size); !s.is_ok())
    return make_error(errc::storage_failure, s.to_string());
  std::string bytes(offset >= size ? 0 : std::min<uint64_t>(kFileChunk, size - offset), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(offset + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != bytes.size()) return make_error(errc::storage_failure, "short read of file " + std::to_string(id));
  f.size = size;
  return {std::move(f), std::move(bytes)};
}

caf::behavior file_replica(file_replica_ptr self, storage::database* store, std::string files_dir, caf::actor commit,
                           std::chrono::milliseconds timeout) {
  auto& st = self->state;
  st.store = store;
  st.files = std::make_unique<storage::file_store>(std::move(files_dir));
  st.commit = std::move(commit);
  st.timeout = timeout;
  return {
      [=](fship_atom, storage::file_record& f, uint64_t offset, const std::string& bytes,
          bool last) {
        auto rp = self->make_response_promise();
        take_chunk(self, rp, f, offset, bytes, last);
        return rp;
      },
      [=](fget_atom, const std::string& room_id, uint64_t id, uint64_t offset) {
        return give_chunk(self, room_id, id, offset);
      },
      [=](fdel_atom, const std::string& room_id,
          uint64_t id) -> caf::result<std::vector<storage::file_record>> {
        // Record first: once it is gone nobody is handed the bytes; then the bytes.
        auto& st = self->state;
        std::vector<storage::file_record> removed(1);
        if (auto s = st.store->files().get(room_id, id, &removed[0]); s.is_not_found())
          return std::vector<storage::file_record>{};
        else if (!s.is_ok())
          return make_error(s.is_invalid_argument() ? errc::bad_request : errc::storage_failure,
                            s.to_string());
        if (auto s = st.store->files().remove(room_id, id); !s.is_ok())
          return make_error(errc::storage_failure, s.to_string());
        if (auto s = st.files->remove(room_id, removed[0].blob); !s.is_ok())
          PCHAT_LOG(warn, "files", "file record removed but its bytes stay",
                    "room=" + room_id + " blob=" + log::quote(removed[0].blob) + " error=" +
                        log::quote(s.to_string()) + " action=" + log::quote("delete it by hand"));
        return removed;
      },
      [=](flist_atom,
          const std::string& room_id) -> caf::result<std::vector<storage::file_record>> {
        std::vector<storage::file_record> out;
        if (auto s = self->state.store->files().list(room_id, &out); !s.is_ok())
          return make_error(s.is_invalid_argument() ? errc::bad_request : errc::storage_failure,
                            s.to_string());
        return out;
      },
  };
}

}  // namespace

caf::actor spawn_file_replica(caf::actor_system& sys, storage::database* store, std::string files_dir,
                              caf::actor commit, std::chrono::milliseconds request_timeout) {
  return sys.spawn<caf::detached>(file_replica, store, std::move(files_dir), std::move(commit), request_timeout);
}

}  // namespace pchat::actors
