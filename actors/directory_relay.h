// directory_relay: a pool node's door between its directory and the other nodes'
// directories (docs/POOL.md, "Where a room lives; routing"). Other nodes know it as
// node_entry::directory.
//
// The directory is detached, and a detached actor must only talk to local actors (CAF
// 0.17: one that sends to a remote node hangs shutdown; pool-and-web-notes.md A.4.7), so
// every request between directories goes through this event-based actor, both ways:
//   out: the directory delegates a request for a room another node owns here
//        (own_lookup_atom / route_atom / pnotify_atom with the owner's name, messages.h);
//        the relay asks that node's relay and hands its answer to the original requester
//        (request(...).then(deliver), pool-and-web-notes.md A.4.5);
//   in:  a request from another node's relay is asked of the local directory the same
//        way, which serves it only if this node owns the room by its own view (else busy:
//        a request is never forwarded twice).
//   search: (ixquery, node, query) from this node's admin search is asked of that node's
//        relay, which asks its indexer (ixsync, then ixquery) and answers with its hits.
// Every relayed request has a timeout, and the relay monitors every node's relay it asks:
// when that node dies (down_msg, exit_reason::remote_link_unreachable), the requests in
// flight to it are failed at once (request_receiver_down: CAF never answers them), not
// after their timeout.
//
// Threads: an event-based actor. Ownership: none (the context is shared).
#pragma once

#include <caf/fwd.hpp>

#include <chrono>

namespace pchat::actors {

// Bound on a relayed admin request (rclear, msgrepl, msgimport): at least the longest its
// callers wait (an admin clear waits 120 s), so the caller's own timeout answers first.
inline constexpr std::chrono::seconds kRouteTimeout{120};

// Bound on another node's part of a history search (ixquery): its index syncs and answers
// within it, or the search answers without that node (docs/POOL.md "Search across the pool").
inline constexpr std::chrono::seconds kPoolSearchTimeout{5};

// Spawned before the context that names it, like the directory: it keeps every message
// until (start_atom, context) arrives. REQUIRES: that context has pool and directory.
caf::actor spawn_directory_relay(caf::actor_system& sys);

}  // namespace pchat::actors
