#include "compliance/csv_adapter.h"

#include <map>

#include "compliance/output_file.h"
#include "compliance/time_format.h"
#include "compliance/xml_adapter.h"

namespace pchat::compliance {
namespace {

using storage::compliance_kind;
using storage::compliance_record;

const char* kind_name(compliance_kind k) {
  switch (k) {
    case compliance_kind::join: return "JOIN";
    case compliance_kind::part: return "PART";
    case compliance_kind::chat: return "CHAT";
    case compliance_kind::backchat: return "BACKCHAT";
    case compliance_kind::file_upload: return "FILEUPLOAD";
    case compliance_kind::file_download: return "FILEDOWNLOAD";
    case compliance_kind::message_removed: return "MESSAGE_REMOVED";
    case compliance_kind::message_replaced: return "MESSAGE_REPLACED";
    case compliance_kind::history_search: return "HISTORY_SEARCH";
  }
  return "UNKNOWN";
}

void field(std::string* out, const std::string& v, bool last = false) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) {
    *out += v;
  } else {
    *out += '"';
    for (char c : v) {
      if (c == '"') *out += '"';
      *out += c;
    }
    *out += '"';
  }
  *out += last ? "\r\n" : ",";
}

class csv_adapter final : public adapter {
 public:
  explicit csv_adapter(adapter_options opts) : opts_(std::move(opts)) {}
  std::string type() const override { return "csv"; }

  adapter_result deliver(const batch& b) override {
    std::map<std::string, std::string> files;
    if (opts_.one_chat_room_per_output_file) {
      std::map<std::string, std::vector<compliance_record>> by_room;
      for (const auto& e : b.events) by_room[e.room_uri].push_back(e);
      for (const auto& [uri, events] : by_room)
        files[output_name(b.first_seq, b.last_seq, room_id_of(uri), "csv")] = encode_csv(events);
    } else {
      files[output_name(b.first_seq, b.last_seq, "", "csv")] = encode_csv(b.events);
    }
    if (opts_.create_file_attachments_manifest) {
      std::string manifest = encode_attachments_manifest(b.events);
      if (!manifest.empty()) files[output_name(b.first_seq, b.last_seq, "", "ATTACH")] = manifest;
    }
    for (const auto& [name, content] : files) {
      if (output_exists(opts_.output_directory, name)) continue;
      if (std::string err = write_atomically(opts_.output_directory, name, content); !err.empty())
        return adapter_result::failure(err);
    }
    return adapter_result::success();
  }
  uint64_t delivered_range_end(uint64_t first) override {
    return find_range_end(opts_.output_directory, first);
  }
  void remove_stale_temporaries() override { remove_temporaries(opts_.output_directory); }

 private:
  adapter_options opts_;
};

}  // namespace

std::string encode_csv(const std::vector<compliance_record>& events) {
  std::string out =
      "Event Id,Event Type,Time UTC,Time Since1970 Ms,Channel Uri,Channel Name,User Uri,"
      "User Display Name,Message Id,Content\r\n";
  for (const auto& e : events) {
    utc_time t = encode_utc(e.ts_micros);
    field(&out, std::to_string(e.seq));
    field(&out, kind_name(e.kind));
    field(&out, t.iso);
    field(&out, std::to_string(t.since1970_ms));
    field(&out, e.room_uri);
    field(&out, e.room_name);
    field(&out, e.user_uri);
    field(&out, e.user_display.empty() ? e.user_uri : e.user_display);
    field(&out, std::to_string(e.message_id));
    field(&out, e.text, true);
  }
  return out;
}

std::unique_ptr<adapter> make_csv_adapter(const adapter_options& opts) {
  return std::make_unique<csv_adapter>(opts);
}

}  // namespace pchat::compliance
