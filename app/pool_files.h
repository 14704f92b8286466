// A room's uploaded files across a pool (docs/POOL.md "Uploaded files in a pool"): listed
// from every live node and removed on every live node, each asked at once through this
// node's replica (actors/replica_actor.h flist, fdel) and each answer bounded by
// request_timeout. Standalone (no pool in the context): this node's store only.
//
// Threads: the caller's, blocking (HTTP handler threads); a scoped actor per call.
#pragma once

#include <caf/fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "status/status.h"
#include "storage/records.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

// The room's files this node holds and every live node that answered holds, one per id,
// oldest first. *silent (may be null) receives the nodes that did not answer (logged).
// Fails only on this node's store.
status pool_list_files(caf::actor_system& sys, const actors::server_context& ctx,
                       const std::string& room_id, std::vector<storage::file_record>* out,
                       std::vector<std::string>* silent = nullptr);

// Removes file `id` of the room (record first, then bytes) on this node and on every live
// node. *removed receives one record per node that held it (empty: no node had it);
// *silent the nodes that did not answer (they may still hold it: remove it again later).
status pool_remove_file(caf::actor_system& sys, const actors::server_context& ctx,
                        const std::string& room_id, uint64_t id,
                        std::vector<storage::file_record>* removed,
                        std::vector<std::string>* silent);

}  // namespace pchat::app
