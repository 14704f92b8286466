// node_tag: which pool node a SIP dialog or transaction id belongs to. A node's SIP edge
// numbers its dialogs and transactions from 1; in a pool, the ids the actors see carry the
// node's 16-bit tag in their top bits, so a room on another node can answer a client's INFO
// and fan out to its dialog through that node's edge (actors/pool_edge.h). Standalone, the
// tag is 0 and ids are the edge's own.
//
// A node's tag is derived from its stable name; two live nodes with the same tag cannot
// both serve (the second is refused at start: rename it).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace pchat::pool {

constexpr int kTagShift = 48;
constexpr uint64_t kLocalMask = (uint64_t{1} << kTagShift) - 1;

// The tag of a node called `name`: never 0 (0 means "standalone / this node's own ids").
uint16_t node_tag(std::string_view name);

// `local` (an edge's own id, < 2^48) tagged with `tag`.
constexpr uint64_t tag_id(uint16_t tag, uint64_t local) {
  return (uint64_t{tag} << kTagShift) | (local & kLocalMask);
}
constexpr uint16_t tag_of(uint64_t id) { return static_cast<uint16_t>(id >> kTagShift); }
constexpr uint64_t local_of(uint64_t id) { return id & kLocalMask; }

}  // namespace pchat::pool
