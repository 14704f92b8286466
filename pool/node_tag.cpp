#include "pool/node_tag.h"

#include "pool/placement.h"

namespace pchat::pool {

uint16_t node_tag(std::string_view name) {
  uint64_t w = rendezvous_weight("pchat-node-tag", name);
  uint16_t t = static_cast<uint16_t>(w ^ (w >> 16) ^ (w >> 32) ^ (w >> 48));
  return t == 0 ? 1 : t;
}

}  // namespace pchat::pool
