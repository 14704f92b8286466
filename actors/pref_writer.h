// pref_writer: the one writer of a node's user preferences (cmd:setpref: the followed-rooms
// list SIPE keeps in kedzie.GroupChannels and whatever else a client stores there).
// Detached (its own thread): every write is synced, and on a pool node it is a record of
// the pool's directory log (storage::preferences::put -> writer::write_shared), which every
// node applies, so a user's preferences are the same on whichever node they sign in and
// survive the loss of any node (docs/POOL.md "Preferences across the pool"). Standalone it
// is one synced write (merged with concurrent writers by storage::writer).
//
// Messages (messages.h): (set_pref, user, label, value) -> uint64_t 0 once durable (a pool
// node: applied on this node); errc::quota_exceeded (the per-user count and bytes of
// server_settings, checked against the store before each write: one writer per node, so
// exact on a node; two nodes writing one user's preferences in the same instant may each
// pass, exceeding the quota by at most one value), errc::storage_failure (the store, or the
// pool's directory log, did not take it: nothing written). The commit actor delegates
// setpref here (commit_actor.h), so the sessions' requests are unchanged.
// Thread safety: an actor; its store calls block its own thread only.
#pragma once

#include <caf/fwd.hpp>

#include <cstdint>

namespace pchat::storage {
class database;
}

namespace pchat::actors {

struct pref_quota {
  uint64_t max_prefs_per_user = 100;
  uint64_t max_pref_bytes_per_user = 1 << 20;
};

// The behaviour of the writer; spawn it detached (the commit actor spawns it linked to
// itself, so it ends with the commit actor). REQUIRES: *store outlives it.
caf::behavior pref_writer(caf::event_based_actor* self, storage::database* store, pref_quota quota);

}  // namespace pchat::actors
