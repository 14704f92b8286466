#include "compliance/xml_adapter.h"

#include "compliance/adapter.h"

#include <map>

#include "compliance/output_file.h"
#include "text/utc_time.h"
#include "text/valid_text.h"

namespace pchat::compliance {
namespace {

using storage::compliance_kind;
using storage::compliance_record;

// Every value goes through here. A stored record written before text was checked on entry
// may hold invalid UTF-8 or control characters: each becomes U+FFFD (the exit repair of
// text/valid_text.h), so the file
// always parses (an archive reader that cannot open it would hide everyone's messages).
void append_escaped(std::string* out, const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t len = text::decode_utf8(s, i, cp);
    if (len == 0 || !text::allowed_on_entry(cp)) {
      *out += "\xEF\xBF\xBD";  // U+FFFD
      i += len == 0 ? 1 : len;
      continue;
    }
    switch (cp) {
      case '&': *out += "&amp;"; break;
      case '<': *out += "&lt;"; break;
      case '>': *out += "&gt;"; break;
      case '"': *out += "&quot;"; break;
      case '\t': *out += "&#x9;"; break;
      case '\n': *out += "&#xA;"; break;
      case '\r': *out += "&#xD;"; break;
      default: out->append(s, i, len);
    }
    i += len;
  }
}

void attr(std::string* out, const char* name, const std::string& value) {
  *out += ' ';
  *out += name;
  *out += "=\"";
  append_escaped(out, value);
  *out += '"';
}

std::string strip_sip(const std::string& uri) {
  return uri.rfind("sip:", 0) == 0 ? uri.substr(4) : uri;
}

std::string content_of(const compliance_record& e) {
  switch (e.kind) {
    case compliance_kind::join:
    case compliance_kind::part:
    case compliance_kind::message_removed: return {};
    default: return e.text;
  }
}

void time_element(std::string* out, const char* indent, const char* name, int64_t micros) {
  *out += indent;
  *out += '<';
  *out += name;
  attr(out, "since1970", std::to_string(utc::unix_millis(micros)));
  attr(out, "string", utc::xccos_timestamp(micros));
  attr(out, "long", std::to_string(utc::dotnet_ticks(micros)));
  *out += " />\n";
}

std::string domain_of(const std::string& uri) {
  auto at = uri.rfind('@');
  return at == std::string::npos ? std::string() : uri.substr(at + 1);
}

void message_element(std::string* out, const char* indent, const char* name,
                     const compliance_record& e, const adapter_options& opts) {
  std::string inner = std::string(indent) + "  ";
  *out += indent;
  *out += '<';
  *out += name;
  attr(out, "type", names_of(e.kind).xml_type);
  attr(out, "content", content_of(e));
  attr(out, "id", std::to_string(shown_message_id(e)));
  *out += ">\n";
  std::string address = strip_sip(e.user_uri);
  *out += inner + "<Sender";
  attr(out, "UserName", e.user_display.empty() ? address : e.user_display);
  attr(out, "id", std::to_string(principal_id(e.user_uri)));
  if (opts.add_user_details && !is_admin_event(e.kind)) {  // an admin has no mailbox or domain
    attr(out, "email", address);
    attr(out, "internal", domain_of(address) == opts.domain ? "true" : "false");
  }
  attr(out, "uri", address);
  *out += " />\n";
  time_element(out, inner.c_str(), "DateTimeUTC", e.ts_micros);
  if (is_admin_event(e.kind) && (!e.target.empty() || !e.previous.empty())) {
    *out += inner + "<Target";
    if (!e.target.empty()) attr(out, "uri", strip_sip(e.target));
    if (!e.previous.empty()) attr(out, "previous", e.previous);
    *out += " />\n";
  }
  *out += indent;
  *out += "</";
  *out += name;
  *out += ">\n";
}

bool is_file_event(const compliance_record& e) {
  return e.kind == compliance_kind::file_upload || e.kind == compliance_kind::file_download;
}

class xml_adapter final : public file_adapter {
 public:
  using file_adapter::file_adapter;
  std::string type() const override { return "xml"; }

 protected:
  std::string encode(const std::vector<compliance_record>& events) const override {
    return encode_xml_document(events, opts_);
  }
};

}  // namespace

int32_t principal_id(const std::string& user_uri) {
  uint32_t h = 2166136261u;
  for (char c : user_uri) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return static_cast<int32_t>(h & 0x7fffffffu);
}

std::string encode_xml_document(const std::vector<compliance_record>& events,
                                const adapter_options& opts) {
  // Rooms in the order of their first event; each keeps its events in sequence order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const compliance_record*>> by_room;
  for (const auto& e : events) {
    auto& list = by_room[e.room_uri];
    if (list.empty()) order.push_back(e.room_uri);
    list.push_back(&e);
  }
  std::string out =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<Conversations xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n";
  for (const auto& uri : order) {
    const auto& list = by_room[uri];
    const compliance_record& first = *list.front();
    out += "  <Conversation>\n    <Channel";
    attr(&out, "uri", uri);
    attr(&out, "name", opts.add_chat_room_details ? first.room_name : uri);
    out += " />\n";
    message_element(&out, "    ", "FirstMessage", first, opts);
    out += "    <Messages>\n";
    for (const auto* e : list) message_element(&out, "      ", "Message", *e, opts);
    out += "    </Messages>\n";
    time_element(&out, "    ", "StartTimeUTC", first.ts_micros);
    time_element(&out, "    ", "EndTimeUTC", list.back()->ts_micros);
    out += "  </Conversation>\n";
  }
  out += "</Conversations>\n";
  return out;
}

std::string encode_attachments_manifest(const std::vector<compliance_record>& events) {
  std::string out;
  auto field = [&](const std::string& s) {
    for (char c : text::repair(s)) out += (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
  };
  for (const auto& e : events) {
    if (!is_file_event(e)) continue;
    out += names_of(e.kind).xml_type;
    out += '\t';
    field(utc::xccos_timestamp(e.ts_micros));
    out += '\t';
    field(e.room_uri);
    out += '\t';
    field(e.user_uri);
    out += '\t';
    field(e.text);
    out += '\t';
    field(e.file_name);
    out += '\n';
  }
  return out;
}

std::unique_ptr<adapter> make_xml_adapter(const adapter_options& opts) {
  return std::make_unique<xml_adapter>(opts);
}

}  // namespace pchat::compliance
