// placement: where a room lives in a pool. Rendezvous (highest random weight) hashing over
// the live nodes' stable names: rank(room, nodes)[0] is the room's owner, [1] its follower.
// When the owner leaves, the follower becomes rank 0 by itself and only the rooms of the
// node that left move; when it returns, it is rank 0 again for exactly those rooms.
//
// The hash is FNV-1a 64 finished with splitmix64, written out here (never std::hash): every
// node, build and library version must compute the same ranking. Keyed on node *names*
// (configured, stable), never on CAF node ids (new at every start).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pchat::pool {

// The weight of `node` for `key` (a room id); higher wins.
uint64_t rendezvous_weight(std::string_view key, std::string_view node);

// `nodes` ordered by falling weight for `key` (ties: by name), duplicates kept.
std::vector<std::string> rank(std::string_view key, std::vector<std::string> nodes);

}  // namespace pchat::pool
