#include "compliance/adapter.h"

#include <map>

#include "compliance/csv_adapter.h"
#include "compliance/output_file.h"
#include "compliance/xml_adapter.h"
#include "text/valid_text.h"

namespace pchat::compliance {

kind_names names_of(storage::compliance_kind k) {
  using K = storage::compliance_kind;
  switch (k) {
    case K::join: return {"JOIN", "JOIN"};
    case K::part: return {"PART", "PART"};
    case K::chat: return {"CHAT", "CHAT"};
    case K::backchat: return {"BACKCHAT", "BACKCHAT"};
    case K::file_upload: return {"FILEUPLOAD", "FILEUPLOAD"};
    case K::file_download: return {"FILEDOWNLOAD", "FILEDOWNLOAD"};
    case K::message_removed: return {"MESSAGE_REMOVED", "CHAT"};
    case K::message_replaced: return {"MESSAGE_REPLACED", "CHAT"};
    case K::history_search: return {"HISTORY_SEARCH", "BACKCHAT"};
    case K::admin_replace: return {"ADMINREPLACE", "ADMINREPLACE"};
    case K::admin_clear: return {"ADMINCLEAR", "ADMINCLEAR"};
    case K::admin_search: return {"ADMINSEARCH", "ADMINSEARCH"};
    case K::admin_room: return {"ADMINROOM", "ADMINROOM"};
    case K::admin_membership: return {"ADMINMEMBERS", "ADMINMEMBERS"};
  }
  return {"UNKNOWN", "CHAT"};
}

adapter_result file_adapter::deliver(const batch& b) {
  // file name -> content, written in name order; a file already there is complete.
  std::map<std::string, std::string> files;
  const std::string ext = type();
  if (opts_.one_chat_room_per_output_file) {
    // By room id; an admin's event of no one room (a search of every room) goes to the
    // batch's own file, named without a room.
    std::map<std::string, std::vector<storage::compliance_record>> by_room;
    for (const auto& e : b.events)
      by_room[is_admin_event(e.kind) && e.room_id.empty() ? std::string() : room_id_of(e.room_uri)]
          .push_back(e);
    for (const auto& [id, events] : by_room)
      files[output_name(b.first_seq, b.last_seq, id, ext)] = encode(events);
  } else {
    files[output_name(b.first_seq, b.last_seq, "", ext)] = encode(b.events);
  }
  if (opts_.create_file_attachments_manifest) {
    std::string manifest = encode_attachments_manifest(b.events);
    if (!manifest.empty()) files[output_name(b.first_seq, b.last_seq, "", "ATTACH")] = manifest;
  }
  // Encoders repair every value; this is the guard that keeps a batch staged (and
  // `compliance status` truthful) should one ever let a bad byte through: a file an archive
  // reader cannot open is not a delivery.
  for (const auto& [name, content] : files) {
    if (!text::valid(content))
      return adapter_result::failure(name + " would hold invalid UTF-8 or a control character; "
                                            "the batch stays staged");
  }
  for (const auto& [name, content] : files) {
    if (output_exists(opts_.output_directory, name)) continue;
    if (status s = write_atomically(opts_.output_directory, name, content); !s.is_ok())
      return adapter_result::failure(s.reason());
  }
  return adapter_result::success();
}

uint64_t file_adapter::delivered_range_end(uint64_t first_seq) {
  return find_range_end(opts_.output_directory, first_seq);
}

void file_adapter::remove_stale_temporaries() { remove_temporaries(opts_.output_directory); }

adapter_result adapter::prepare_room_range(const std::string&, const batch&) {
  return adapter_result::failure("the " + type() + " adapter cannot deliver a pool room's events");
}
adapter_result adapter::publish_room_range(const std::string&, uint64_t, uint64_t) {
  return adapter_result::failure("the " + type() + " adapter cannot deliver a pool room's events");
}
void adapter::discard_room_range(const std::string&, uint64_t, uint64_t) {}
std::string adapter::room_range(const std::string& room_id, uint64_t first, uint64_t last) const {
  return room_range_name(room_id, first, last, type());
}
adapter_result adapter::settle_pending(const std::string&, bool) { return adapter_result::success(); }

adapter_result file_adapter::prepare_room_range(const std::string& room_id, const batch& b) {
  std::string content = encode(b.events);
  std::string name = room_range(room_id, b.first_seq, b.last_seq);
  if (!text::valid(content))
    return adapter_result::failure(name + " would hold invalid UTF-8 or a control character; the events stay kept");
  if (status s = write_pending(opts_.output_directory, name, content); !s.is_ok())
    return adapter_result::failure(s.reason());
  return adapter_result::success();
}

adapter_result file_adapter::publish_room_range(const std::string& room_id, uint64_t first, uint64_t last) {
  if (status s = publish_pending(opts_.output_directory, room_range(room_id, first, last)); !s.is_ok())
    return adapter_result::failure(s.reason());
  return adapter_result::success();
}

void file_adapter::discard_room_range(const std::string& room_id, uint64_t first, uint64_t last) {
  remove_pending(opts_.output_directory, room_range(room_id, first, last));
}

std::string file_adapter::room_range(const std::string& room_id, uint64_t first, uint64_t last) const {
  return room_range_name(room_id, first, last, type());
}

std::vector<std::string> file_adapter::pending_ranges() const { return pending_names(opts_.output_directory); }

adapter_result file_adapter::settle_pending(const std::string& name, bool publish) {
  if (!publish) {
    remove_pending(opts_.output_directory, name);
    return adapter_result::success();
  }
  if (status s = publish_pending(opts_.output_directory, name); !s.is_ok()) return adapter_result::failure(s.reason());
  return adapter_result::success();
}

uint64_t shown_message_id(const storage::compliance_record& e) {
  switch (e.kind) {
    case storage::compliance_kind::chat:
    case storage::compliance_kind::message_removed:
    case storage::compliance_kind::message_replaced:
    case storage::compliance_kind::admin_replace:
    case storage::compliance_kind::admin_clear: return e.message_id;
    default: return 0;
  }
}

bool is_admin_event(storage::compliance_kind k) {
  return static_cast<uint8_t>(k) >= static_cast<uint8_t>(storage::compliance_kind::admin_replace);
}

std::unique_ptr<adapter> make_adapter(const std::string& type, const adapter_options& opts) {
  if (type == "xml") return make_xml_adapter(opts);
  if (type == "csv") return make_csv_adapter(opts);
  return nullptr;
}

std::unique_ptr<adapter> make_adapter(const storage::compliance_config& c, const std::string& domain) {
  adapter_options o;
  o.output_directory = c.output_directory;
  o.one_chat_room_per_output_file = c.one_chat_room_per_output_file;
  o.add_user_details = c.add_user_details;
  o.add_chat_room_details = c.add_chat_room_details;
  o.create_file_attachments_manifest = c.create_file_attachments_manifest;
  o.domain = domain;
  return make_adapter(c.adapter_type, o);
}

}  // namespace pchat::compliance
