#include "actors/pool_view.h"

#include "pool/placement.h"

namespace pchat::actors {

const node_entry* pool_view::find(const std::string& name) const {
  for (auto& n : live)
    if (n.name == name) return &n;
  return nullptr;
}

const node_entry* pool_view::find_tag(uint16_t tag) const {
  for (auto& n : live)
    if (n.tag == tag) return &n;
  return nullptr;
}

std::vector<std::string> pool_view::rank(const std::string& room_id) const {
  if (!fresh()) return {};
  std::vector<std::string> names;
  names.reserve(live.size());
  for (auto& n : live)
    if (!n.draining) names.push_back(n.name);
  return pool::rank(room_id, std::move(names));
}

bool pool_view::owns(const std::string& room_id) const {
  auto r = rank(room_id);
  return !r.empty() && r.front() == self;
}

pool_membership::pool_membership(std::shared_ptr<const pool_view> first) : view_(std::move(first)) {}

}  // namespace pchat::actors
