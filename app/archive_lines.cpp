#include "app/archive_lines.h"

#include "app/room_json.h"
#include "app/json_text.h"
#include "protocol/xccos/chat_uri.h"
#include "text/utc_time.h"
#include "text/valid_text.h"

#include <type_traits>

namespace pchat::app {

using json = nlohmann::json;

namespace {

const char* type_name(storage::room_type t) {
  return t == storage::room_type::auditorium ? "auditorium" : "normal";
}

// An optional field: absent keeps *out (the default); present with another JSON type is an
// error naming it. (nlohmann's value() throws there: the import answered 500, not the line.)
template <class T>
std::string optional(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return std::string(key) + " must be a string";
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return std::string(key) + " must be true or false";
  } else {
    if (!it->is_number_unsigned()) return std::string(key) + " must be a number >= 0";
  }
  *out = it->get<T>();
  return "";
}

// Each parser returns "" or what is wrong with the line.
std::string strings(const json& j, const char* key, std::vector<std::string>* out) {
  if (!j.contains(key)) return "";
  if (!j[key].is_array()) return std::string(key) + " must be an array of strings";
  for (auto& v : j[key]) {
    if (!v.is_string()) return std::string(key) + " must be an array of strings";
    out->push_back(v.get<std::string>());
  }
  return "";
}

std::string parse_category(const json& j, storage::category_record* c) {
  if (!j.value("id", json()).is_string() || !j.value("name", json()).is_string())
    return "category needs string id and name";
  c->id = j["id"].get<std::string>();
  c->name = j["name"].get<std::string>();
  for (auto [k, v] : {std::pair{"file_upload", &c->file_upload}, std::pair{"invitations", &c->invitations},
                      std::pair{"chat_history", &c->chat_history}}) {
    *v = true;
    if (auto e = optional(j, k, v); !e.empty()) return e;
  }
  if (auto e = optional(j, "description", &c->description); !e.empty()) return e;
  for (auto [k, v] : {std::pair{"allowed_members", &c->allowed_members},
                      std::pair{"denied_members", &c->denied_members}, std::pair{"creators", &c->creators}})
    if (auto e = strings(j, k, v); !e.empty()) return e;
  return "";
}

std::string parse_room(const json& j, storage::room_record* r) {
  if (!j.value("id", json()).is_string() || !j.value("name", json()).is_string() ||
      !j.value("category_id", json()).is_string())
    return "room needs string id, name and category_id";
  r->id = j["id"].get<std::string>();
  r->name = j["name"].get<std::string>();
  r->category_id = j["category_id"].get<std::string>();
  std::string t = "normal", p = "closed", inv = "inherit";
  for (auto [k, v] : {std::pair{"description", &r->description}, std::pair{"topic", &r->topic},
                      std::pair{"addin", &r->addin}, std::pair{"room_type", &t}, std::pair{"privacy", &p},
                      std::pair{"invitations", &inv}})
    if (auto e = optional(j, k, v); !e.empty()) return e;
  r->disabled = false;
  if (auto e = optional(j, "disabled", &r->disabled); !e.empty()) return e;
  if (t == "normal") r->type = storage::room_type::normal;
  else if (t == "auditorium") r->type = storage::room_type::auditorium;
  else return "room_type must be normal or auditorium";
  if (p == "open") r->privacy = storage::room_privacy::open;
  else if (p == "closed") r->privacy = storage::room_privacy::closed;
  else if (p == "secret") r->privacy = storage::room_privacy::secret;
  else return "privacy must be open, closed or secret";
  if (inv == "inherit") r->invitations = storage::room_invitations::inherit;
  else if (inv == "off") r->invitations = storage::room_invitations::off;
  else return "invitations must be inherit or off";
  for (auto [k, v] : {std::pair{"members", &r->members}, std::pair{"managers", &r->managers},
                      std::pair{"presenters", &r->presenters}})
    if (auto e = strings(j, k, v); !e.empty()) return e;
  return "";
}

std::string parse_message(const json& j, std::string* room, storage::message_record* m) {
  if (!j.value("room", json()).is_string() || !j.value("seq", json()).is_number_unsigned() ||
      !j.value("author", json()).is_string() || !j.value("ts_micros", json()).is_number_integer() ||
      !j.value("text", json()).is_string())
    return "message needs room, seq (>= 1), author, ts_micros and text";
  *room = j["room"].get<std::string>();
  m->seq = j["seq"].get<uint64_t>();
  m->author = j["author"].get<std::string>();
  m->ts_micros = j["ts_micros"].get<int64_t>();
  m->text = j["text"].get<std::string>();
  if (auto e = optional(j, "extra_xml", &m->extra_xml); !e.empty()) return e;
  if (m->seq == 0) return "message seq must be >= 1";
  return "";
}

}  // namespace

json category_line(const storage::category_record& c) {
  return json{{"type", "category"},           {"id", c.id},
              {"name", c.name},               {"description", c.description},
              {"allowed_members", c.allowed_members}, {"denied_members", c.denied_members},
              {"creators", c.creators},       {"file_upload", c.file_upload},
              {"invitations", c.invitations}, {"chat_history", c.chat_history}};
}

json room_line(const storage::room_record& r, const std::string& domain) {
  return json{{"type", "room"},
              {"id", r.id},
              {"uri", xccos::room_uri(domain, r.id)},
              {"name", r.name},
              {"description", r.description},
              {"category_id", r.category_id},
              {"topic", r.topic},
              {"room_type", type_name(r.type)},
              {"privacy", privacy_name(r.privacy)},
              {"invitations", r.invitations == storage::room_invitations::off ? "off" : "inherit"},
              {"disabled", r.disabled},
              {"addin", r.addin},
              {"members", r.members},
              {"managers", r.managers},
              {"presenters", r.presenters}};
}

json message_line(const std::string& room_id, const storage::message_record& m) {
  return json{{"type", "message"},        {"room", room_id},     {"seq", m.seq},
              {"author", m.author},       {"ts", utc::json_timestamp(m.ts_micros)},
              {"ts_micros", m.ts_micros}, {"text", m.text},      {"extra_xml", m.extra_xml}};
}

// "" or what is wrong (with the line number).
std::string read_archive(std::istream& in, archive* a) {
  std::string line;
  size_t n = 0;
  bool header = false, trailer = false;
  uint64_t message_count = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto at = "line " + std::to_string(n) + ": ";
    if (trailer) return at + "data after the end record";
    json j = json::parse(line, nullptr, false);
    if (!j.is_object()) {
      if (text::problem p = text::check(line); !p.ok()) return at + "not valid text: " + p.reason;
      return at + "not a JSON object";
    }
    // Imported text meets the same rule as text posted or typed in (text/valid_text.h).
    if (std::string bad = invalid_text_in(j); !bad.empty()) return at + bad;
    if (!header) {
      auto format = j.find("format");
      if (format == j.end() || *format != kArchiveFormat)
        return at + "not a pchat archive (format must be \"pchat-archive\")";
      auto version = j.find("version");
      if (version == j.end() || *version != kArchiveVersion)
        return at + "archive version " + (version == j.end() ? "(none)" : version->dump()) +
               " is not supported (expected 1)";
      header = true;
      continue;
    }
    std::string type;
    std::string e = optional(j, "type", &type);
    if (!e.empty()) return at + e;
    if (type == "category") {
      a->categories.emplace_back();
      e = parse_category(j, &a->categories.back());
    } else if (type == "room") {
      a->rooms.emplace_back();
      e = parse_room(j, &a->rooms.back());
    } else if (type == "message") {
      std::string room;
      storage::message_record m;
      e = parse_message(j, &room, &m);
      if (e.empty()) {
        auto& list = a->messages[room];
        if (!list.empty() && list.back().seq >= m.seq) e = "messages of a room must ascend by seq";
        list.push_back(std::move(m));
        ++message_count;
      }
    } else if (type == "end") {
      uint64_t categories = 0, rooms = 0, messages = 0;
      for (auto [k, v] : {std::pair{"categories", &categories}, std::pair{"rooms", &rooms},
                          std::pair{"messages", &messages}})
        if (e = optional(j, k, v); !e.empty()) return at + e;
      if (categories != a->categories.size() || rooms != a->rooms.size() || messages != message_count)
        return at + "end record counts do not match the archive (truncated or edited?)";
      trailer = true;
    } else {
      e = "unknown record type '" + type + "'";
    }
    if (!e.empty()) return at + e;
  }
  if (!header) return "empty file: no archive header";
  if (!trailer) return "no end record: the archive is truncated";
  return "";
}

}  // namespace pchat::app
