// backup_actor: makes one online backup (storage/backup.h) on its own thread (detached:
// the checkpoint and the copies block on disk I/O), so the post path and the CAF workers
// never wait for it. Posts keep being written meanwhile; everything acknowledged before the
// backup began is in it.
//
// Consumes: (backup, dir)  | admin API -> backup actor | backup_result (messages.h): every
//           outcome is answered, then the actor quits. One request per actor.
// The requester's timeout: it sets job->cancel, which stops the copy at the next file and
// removes what it wrote. job->busy is true from spawn until the work has ended (answered
// or cancelled): the admin API refuses a second backup while it is set.
#pragma once

#include <caf/fwd.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "storage/backup.h"

namespace pchat::storage {
class database;
}

namespace pchat::actors {

struct backup_job {
  std::atomic<bool> cancel{false};
  std::shared_ptr<std::atomic<bool>> busy;  // the node's "a backup is running"; cleared at the end
};

// REQUIRES: *store outlives the actor (the node's stop awaits every actor); job->busy set.
caf::actor spawn_backup_actor(caf::actor_system& sys, storage::database* store, std::string files_root,
                              storage::backup_origin origin, std::shared_ptr<backup_job> job);

}  // namespace pchat::actors
