#include "pool/pool_keys.h"

namespace pchat::pool {

std::string nodes_prefix(std::string_view pool) { return "/" + std::string(pool) + "/nodes/"; }

std::string node_key(std::string_view pool, std::string_view name) {
  return nodes_prefix(pool) + std::string(name);
}

std::string tag_key(std::string_view pool, uint16_t tag) {
  return "/" + std::string(pool) + "/tags/" + std::to_string(tag);
}

std::string room_owner_key(std::string_view pool, std::string_view room_id) {
  return "/" + std::string(pool) + "/rooms/" + std::string(room_id) + "/owner";
}

std::string rooms_prefix(std::string_view pool) { return "/" + std::string(pool) + "/rooms/"; }

std::string room_compliance_key(std::string_view pool, std::string_view room_id) {
  return rooms_prefix(pool) + std::string(room_id) + "/compliance";
}

std::string compliance_pending_key(std::string_view pool, std::string_view node) {
  return "/" + std::string(pool) + "/compliance-pending/" + std::string(node);
}

std::string first_start_key(std::string_view pool) { return "/" + std::string(pool) + "/first-start"; }
std::string drained_key(std::string_view pool, std::string_view name) {
  return "/" + std::string(pool) + "/drained/" + std::string(name);
}

}  // namespace pchat::pool
