// search_merge: one answer from the answers of several indexes that hold overlapping sets of
// rooms. In a pool each room's log, and so its index entries, is kept by its owner and its
// follower (docs/POOL.md "Search across the pool"): the same hit can come from two nodes.
//
// Threads: a pure function.
#pragma once

#include <cstddef>
#include <vector>

#include "search/search_index.h"

namespace pchat::search {

// The hits of every part without repeats (by room id and seq), newest first (ties: room id,
// then seq, so the order is the same on every call), at most `limit`. total_estimate is the
// largest part's (each part counts its own rooms, and parts overlap: a lower bound of all
// matches); truncated if a part was truncated or the merge dropped hits; limit is `limit`.
search_result merge_results(std::vector<search_result> parts, size_t limit);

}  // namespace pchat::search
