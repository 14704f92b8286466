#include "actors/messages.h"

#include <caf/all.hpp>

#include "actors/pool_view.h"

namespace pchat::actors {

caf::error make_error(errc code, std::string reason) {
  return caf::error(static_cast<uint8_t>(code), caf::atom("pchat"),
                    caf::make_message(std::move(reason)));
}

bool decode_error(const caf::error& e, errc* code, std::string* reason) {
  if (e.category() != caf::atom("pchat")) return false;
  *code = static_cast<errc>(e.code());
  reason->clear();
  if (e.context().match_elements<std::string>()) *reason = e.context().get_as<std::string>(0);
  return true;
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<room_view>("pchat.room_view");
  cfg.add_message_type<member_view>("pchat.member_view");
  cfg.add_message_type<join_result>("pchat.join_result");
  cfg.add_message_type<storage::message_record>("pchat.message_record");
  cfg.add_message_type<storage::file_record>("pchat.file_record");
  cfg.add_message_type<std::vector<storage::file_record>>("pchat.file_records");
  cfg.add_message_type<storage::post_id>("pchat.post_id");
  cfg.add_message_type<std::vector<storage::post_id>>("pchat.post_ids");
  cfg.add_message_type<std::vector<storage::message_record>>("pchat.message_records");
  cfg.add_message_type<storage::category_record>("pchat.category_record");
  cfg.add_message_type<storage::room_record>("pchat.room_record");
  cfg.add_message_type<storage::compliance_record>("pchat.compliance_record");
  cfg.add_message_type<std::vector<storage::compliance_record>>("pchat.compliance_records");
  cfg.add_message_type<storage::invitation_record>("pchat.invitation_record");
  cfg.add_message_type<info_ticket>("pchat.info_ticket");
  cfg.add_message_type<message_filter>("pchat.message_filter");
  cfg.add_message_type<compliance_status>("pchat.compliance_status");
  // The pool: node_entry crosses nodes (hello); the others stay local but are typed alike.
  cfg.add_message_type<node_entry>("pchat.node_entry");
  cfg.add_message_type<pool::node_record>("pchat.node_record");
  cfg.add_message_type<registered_node>("pchat.registered_node");
  cfg.add_message_type<std::vector<registered_node>>("pchat.registered_nodes");
  cfg.add_message_type<etcd_holder>("pchat.etcd_holder");
  cfg.add_message_type<pool_node_status>("pchat.pool_node_status");
  cfg.add_message_type<pool_room_claim>("pchat.pool_room_claim");
  cfg.add_message_type<pool_status>("pchat.pool_status");
  cfg.add_message_type<backup_result>("pchat.backup_result");
  cfg.add_message_type<edge_batch>("pchat.edge_batch");
  cfg.add_message_type<search::search_query>("pchat.search_query");
  cfg.add_message_type<search::search_hit>("pchat.search_hit");
  cfg.add_message_type<std::vector<search::search_hit>>("pchat.search_hits");
  cfg.add_message_type<search::search_result>("pchat.search_result");
}

}  // namespace pchat::actors
