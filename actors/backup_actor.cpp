#include "actors/backup_actor.h"

#include <caf/all.hpp>

#include "actors/messages.h"
#include "log/log.h"
#include "storage/database.h"

namespace pchat::actors {

namespace {

caf::behavior backup_actor(caf::event_based_actor* self, storage::database* store, std::string files_root,
                           storage::backup_origin origin, std::shared_ptr<backup_job> job) {
  return {
      [=](backup_atom, const std::string& dir) -> backup_result {
        backup_result r;
        storage::backup_totals t;
        status s = storage::write_backup(*store, files_root, dir, origin, job->cancel, &t, &r.summary);
        r.code = static_cast<uint8_t>(s.kind());
        r.reason = s.reason();
        // ENOSPC, as the C library and RocksDB word it.
        r.no_space = r.reason.find("No space left on device") != std::string::npos;
        if (s.is_ok()) {
          log::write(log::level::info, "backup", "written",
                     "dir=" + log::quote(dir) + " store_bytes=" + std::to_string(t.store_bytes) +
                         " blobs=" + std::to_string(t.blobs) + " took_ms=" + std::to_string(t.took_ms));
        } else {
          log::write(log::level::warn, "backup", "failed", "dir=" + log::quote(dir) + " reason=" + log::quote(r.reason));
        }
        job->busy->store(false);
        self->quit();
        return r;
      },
  };
}

}  // namespace

caf::actor spawn_backup_actor(caf::actor_system& sys, storage::database* store, std::string files_root,
                              storage::backup_origin origin, std::shared_ptr<backup_job> job) {
  return sys.spawn<caf::detached>(backup_actor, store, std::move(files_root), std::move(origin), std::move(job));
}

}  // namespace pchat::actors
