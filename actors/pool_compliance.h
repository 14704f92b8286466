// pool_compliance: a pool node's delivery of its rooms' CHAT events, each exactly once across
// the pool (docs/POOL.md "Compliance across the pool"). The compliance runner runs one pass
// before each run of its staging queue.
//
// A post's CHAT event is kept beside the room's log on the owner and on the follower (and
// copied with the log to a new follower or owner). Per room, etcd holds how far its events
// were delivered: /<pool>/rooms/<id>/compliance = {"through": message seq, "node", "epoch"}.
// Only the node holding the room's claim advances it, by one transaction that compares the
// claim's create revision (the epoch) and the mark's mod revision. A pass, per room this
// node owns: its kept events after `through` that are older than `settle` (so every post
// they describe was acknowledged or refused: the owner's unreplicated tail is not delivered)
// are written as a pending file named by the room and the range (output_file.h), then the
// transaction moves `through` and names the file in /<pool>/compliance-pending/<node>,
// then the file is published and the kept events up to `through` are deleted. A compare
// that fails (the room moved, another node delivered) discards the file. After a crash,
// a pending file is published only if etcd names it. Rooms this node does not own: kept
// events up to their `through` are deleted (a follower's copies are bounded).
//
// Threads: the runner's (detached); every etcd call blocks (1 s each, etcd_client.h).
// Ownership: owns its etcd client; borrows the store, which outlives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pool/pool_settings.h"
#include "status/status.h"
#include "storage/records.h"

namespace pchat::pool {
class etcd_client;
}
namespace pchat::storage {
class database;
}
namespace pchat::compliance {
class adapter;
}

namespace pchat::actors {

class pool_compliance {
 public:
  // What one pass did; error empty when it completed (events not yet settled stay kept).
  struct pass {
    std::string error;
    uint64_t batches = 0;
    uint64_t events = 0;
  };
  using resolver = std::function<void(std::vector<storage::compliance_record>&)>;

  // Connects nothing yet (etcd_client::create parses the endpoints). invalid_argument if
  // the settings are bad.
  static status create(const pool::pool_settings& settings, std::chrono::milliseconds settle,
                       std::unique_ptr<pool_compliance>* out);
  ~pool_compliance();

  // One pass over the pool's rooms. `resolve` fills in what the post path left out (room
  // URI, display names). At most `max_events` per file; at most `max_batches` files.
  pass run(storage::database& store, compliance::adapter& out, const resolver& resolve, size_t max_events,
           int max_batches);

 private:
  pool_compliance(pool::pool_settings settings, std::chrono::milliseconds settle,
                  std::unique_ptr<pool::etcd_client> etcd);

  pool::pool_settings settings_;
  std::chrono::milliseconds settle_;
  std::unique_ptr<pool::etcd_client> etcd_;
  std::map<std::string, uint64_t> trimmed_;  // room -> kept events deleted up to (this run)
};

}  // namespace pchat::actors
