#include "actors/post_id_source.h"

#include <random>

namespace pchat::actors {

uint64_t post_id_source::random_origin() {
  std::random_device rd;
  uint64_t v = 0;
  while (v == 0) v = (uint64_t{rd()} << 32) ^ rd();
  return v;
}

}  // namespace pchat::actors
