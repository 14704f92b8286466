// pool_keys: where the pool keeps its state in etcd (docs/POOL.md "etcd keys"), every key
// under /<pool-name>/. Written once here so that every node builds the same keys.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pchat::pool {

// "/<pool>/nodes/": the registry, one key per live node (its lease).
std::string nodes_prefix(std::string_view pool);
// "/<pool>/nodes/<name>": the node's node_record (node_record.h).
std::string node_key(std::string_view pool, std::string_view name);
// "/<pool>/tags/<tag>": the name of the live node using this tag (node_tag.h); makes tags
// unique among live nodes.
std::string tag_key(std::string_view pool, uint16_t tag);
// "/<pool>/rooms/<room-id>/owner": the owner's name, bound to its lease; the key's
// create_revision is the room's epoch.
std::string room_owner_key(std::string_view pool, std::string_view room_id);
// "/<pool>/rooms/": every room's keys (owner, compliance).
std::string rooms_prefix(std::string_view pool);
// "/<pool>/rooms/<room-id>/compliance": how far the room's CHAT events were delivered
// (actors/pool_compliance.h), no lease: it outlives every owner.
std::string room_compliance_key(std::string_view pool, std::string_view room_id);
// "/<pool>/compliance-pending/<node>": the room range the node reserved last and may not
// have published yet (actors/pool_compliance.h).
std::string compliance_pending_key(std::string_view pool, std::string_view node);
// "/<pool>/first-start": the name of the node that made the pool's first start (its
// policy and demo content), created once and never bound to a lease, so nodes started
// together on an empty pool seed it once.
std::string first_start_key(std::string_view pool);
// "/<pool>/drained/<name>": present while node <name> is drained (`pool drain`), with no
// lease, so a drained node that restarts stays drained until `pool undrain`.
std::string drained_key(std::string_view pool, std::string_view name);

}  // namespace pchat::pool
