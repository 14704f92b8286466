#include "compliance/csv_adapter.h"


#include "compliance/adapter.h"
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

class csv_adapter final : public file_adapter {
 public:
  using file_adapter::file_adapter;
  std::string type() const override { return "csv"; }

 protected:
  std::string encode(const std::vector<compliance_record>& events) const override {
    return encode_csv(events);
  }
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
    field(&out, std::to_string(shown_message_id(e)));
    field(&out, e.text, true);
  }
  return out;
}

std::unique_ptr<adapter> make_csv_adapter(const adapter_options& opts) {
  return std::make_unique<csv_adapter>(opts);
}

}  // namespace pchat::compliance
