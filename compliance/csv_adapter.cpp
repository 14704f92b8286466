#include "compliance/csv_adapter.h"

#include <string_view>

#include "compliance/adapter.h"
#include "compliance/output_file.h"
#include "compliance/xml_adapter.h"
#include "text/utc_time.h"
#include "text/valid_text.h"

namespace pchat::compliance {
namespace {

using storage::compliance_kind;
using storage::compliance_record;

// One cell, RFC 4180 quoted when needed. Text cells (anything a user or an administrator
// typed: names, URIs, content) are also
//  - repaired (text/valid_text.h): invalid UTF-8 and XML-forbidden characters become U+FFFD,
//    so the file is valid UTF-8 whatever an older version stored;
//  - neutralised against CSV injection (OWASP): a cell starting with = + - @ TAB or CR would
//    run as a formula in a spreadsheet, so it gets a leading single quote and is quoted.
enum class cell { number, text };

void field(std::string* out, const std::string& raw, cell kind, bool last = false) {
  std::string v = kind == cell::text ? text::repair(raw) : raw;
  bool quote = v.find_first_of(",\"\r\n") != std::string::npos;
  if (kind == cell::text && !v.empty() && std::string_view("=+-@\t\r").find(v[0]) != std::string_view::npos) {
    v.insert(v.begin(), '\'');
    quote = true;
  }
  if (!quote) {
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
      "User Display Name,Message Id,Content,Target Uri,Previous Content\r\n";
  for (const auto& e : events) {
    field(&out, std::to_string(e.seq), cell::number);
    field(&out, names_of(e.kind).event, cell::number);
    field(&out, utc::xccos_timestamp(e.ts_micros), cell::number);
    field(&out, std::to_string(utc::unix_millis(e.ts_micros)), cell::number);
    field(&out, e.room_uri, cell::text);
    field(&out, e.room_name, cell::text);
    field(&out, e.user_uri, cell::text);
    field(&out, e.user_display.empty() ? e.user_uri : e.user_display, cell::text);
    field(&out, std::to_string(shown_message_id(e)), cell::number);
    field(&out, e.text, cell::text);
    field(&out, e.target, cell::text);
    field(&out, e.previous, cell::text, true);
  }
  return out;
}

std::unique_ptr<adapter> make_csv_adapter(const adapter_options& opts) {
  return std::make_unique<csv_adapter>(opts);
}

}  // namespace pchat::compliance
