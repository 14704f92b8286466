#include "app/admin_archive.h"
#include "app/admin_json.h"
#include "app/room_settings.h"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/utc_time.h"
#include "storage/store.h"
#include "protocol/xccos/xccos_codec.h"
#include "actors/identity_registry.h"

namespace pchat::app {
namespace {

using actors::identity_registry;

using json = nlohmann::json;
constexpr auto kTimeout = std::chrono::seconds(10);
constexpr auto kImportChunkTimeout = std::chrono::seconds(60);
constexpr size_t kReadChunk = 10000;   // messages read from the store per step (export)
constexpr size_t kImportChunk = 1000;  // messages per import request to a room (one write)
constexpr const char* kFormat = "pchat-archive";  // docs/ARCHIVE.md
constexpr int kVersion = 1;


int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- records <-> archive lines (docs/ARCHIVE.md). Enum names DO NOT CHANGE: archived.

const char* type_name(storage::room_type t) {
  return t == storage::room_type::auditorium ? "auditorium" : "normal";
}

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
              {"author", m.author},       {"ts", format_utc(m.ts_micros)},
              {"ts_micros", m.ts_micros}, {"text", m.text},      {"extra_xml", m.extra_xml}};
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
  c->description = j.value("description", "");
  c->file_upload = j.value("file_upload", true);
  c->invitations = j.value("invitations", true);
  c->chat_history = j.value("chat_history", true);
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
  r->description = j.value("description", "");
  r->topic = j.value("topic", "");
  r->addin = j.value("addin", "");
  r->disabled = j.value("disabled", false);
  std::string t = j.value("room_type", "normal"), p = j.value("privacy", "closed"),
              inv = j.value("invitations", "inherit");
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
  m->extra_xml = j.value("extra_xml", "");
  if (m->seq == 0) return "message seq must be >= 1";
  return "";
}

// ---- export

web::http_response handle_export(const std::shared_ptr<const actors::server_context>& ctx,
                                 const web::http_request& req) {
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error(400, "expected a JSON object {path?, category?, since?}");
  std::string path = body.value("path", ""), category = body.value("category", ""),
              since_text = body.value("since", "");
  int64_t since = 0;
  if (!since_text.empty() && !parse_utc(since_text, &since))
    return error(400, "since must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
  if (!path.empty() && path.front() != '/') return error(400, "path must be absolute (a file on the server host)");

  std::vector<storage::category_record> cats;
  std::vector<storage::room_record> rooms;
  if (auto s = ctx->store->list_categories(&cats); !s.is_ok()) return error(503, s.to_string());
  if (auto s = ctx->store->list_rooms(&rooms); !s.is_ok()) return error(503, s.to_string());
  if (!category.empty()) {
    std::vector<storage::category_record> keep;
    for (auto& c : cats)
      if (c.id == category || identity_registry::lower(c.name) == identity_registry::lower(category)) keep.push_back(c);
    if (keep.empty()) return error(404, "no category with name or id '" + category + "'");
    cats = keep;
    std::vector<storage::room_record> in;
    for (auto& r : rooms)
      if (r.category_id == cats[0].id) in.push_back(r);
    rooms = in;
  }

  std::ostringstream mem;
  std::ofstream file;
  std::string tmp = path + ".partial";
  if (!path.empty()) {
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) return error(400, "cannot write " + tmp);
  }
  std::ostream& out = path.empty() ? static_cast<std::ostream&>(mem) : file;
  json scope{{"category", category.empty() ? json() : json(cats[0].name)},
             {"since", since_text.empty() ? json() : json(format_utc(since))}};
  out << json{{"format", kFormat}, {"version", kVersion}, {"exported_at", format_utc(now_micros())},
              {"domain", ctx->domain}, {"scope", scope}}.dump() << "\n";
  for (auto& c : cats) out << category_line(c).dump() << "\n";
  for (auto& r : rooms) out << room_line(r, ctx->domain).dump() << "\n";
  uint64_t messages = 0;
  for (auto& r : rooms) {
    uint64_t from = 1;
    for (;;) {
      std::vector<storage::message_record> chunk;
      if (auto s = ctx->store->read_from(r.id, from, kReadChunk, &chunk); !s.is_ok())
        return error(503, "cannot read room " + r.id + ": " + s.to_string());
      for (auto& m : chunk) {
        if (m.ts_micros < since) continue;
        out << message_line(r.id, m).dump() << "\n";
        ++messages;
      }
      if (chunk.size() < kReadChunk) break;
      from = chunk.back().seq + 1;
    }
  }
  out << json{{"type", "end"}, {"categories", cats.size()}, {"rooms", rooms.size()}, {"messages", messages}}.dump()
      << "\n";
  if (path.empty()) return {200, "application/x-ndjson", mem.str()};
  file.close();
  if (!file || std::rename(tmp.c_str(), path.c_str()) != 0) return error(503, "cannot write " + path);
  return reply(200, json{{"path", path}, {"categories", cats.size()}, {"rooms", rooms.size()}, {"messages", messages}});
}

// ---- import

struct archive {
  std::vector<storage::category_record> categories;
  std::vector<storage::room_record> rooms;
  std::map<std::string, std::vector<storage::message_record>> messages;  // by room id
};

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
    if (!j.is_object()) return at + "not a JSON object";
    if (!header) {
      if (j.value("format", "") != kFormat) return at + "not a pchat archive (format must be \"pchat-archive\")";
      if (j.value("version", 0) != kVersion)
        return at + "archive version " + j.value("version", json()).dump() + " is not supported (expected 1)";
      header = true;
      continue;
    }
    std::string type = j.value("type", "");
    std::string e;
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
      if (j.value("categories", uint64_t{0}) != a->categories.size() ||
          j.value("rooms", uint64_t{0}) != a->rooms.size() || j.value("messages", uint64_t{0}) != message_count)
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

web::http_response handle_import(caf::actor_system& sys,
                                 const std::shared_ptr<const actors::server_context>& ctx,
                                 const web::http_request& req) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.value("path", json()).is_string())
    return error(400, "expected a JSON object {path, what_if?}");
  std::string path = body["path"].get<std::string>();
  bool what_if = body.value("what_if", false);
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(404, "cannot open " + path + " on the server host");
  archive a;
  if (auto e = read_archive(in, &a); !e.empty()) return error(400, path + ": " + e);

  // Check everything before writing anything.
  std::vector<storage::category_record> have_cats;
  std::vector<storage::room_record> have_rooms;
  if (auto s = ctx->store->list_categories(&have_cats); !s.is_ok()) return error(503, s.to_string());
  if (auto s = ctx->store->list_rooms(&have_rooms); !s.is_ok()) return error(503, s.to_string());
  std::unordered_map<std::string, std::string> cat_ids;  // every category id known -> name
  for (auto& c : have_cats) cat_ids[c.id] = c.name;
  for (auto& c : a.categories) {
    for (auto& h : have_cats)
      if (h.id != c.id && identity_registry::lower(h.name) == identity_registry::lower(c.name))
        return error(409, "conflict: category name '" + c.name + "' is used by category " + h.id +
                              " here, but by " + c.id + " in the archive; rename one, then import");
    cat_ids[c.id] = c.name;
  }
  std::unordered_map<std::string, bool> room_ids;
  for (auto& r : have_rooms) room_ids[r.id] = true;
  for (auto& r : a.rooms) {
    for (auto& h : have_rooms)
      if (h.id != r.id && identity_registry::lower(h.name) == identity_registry::lower(r.name))
        return error(409, "conflict: room name '" + r.name + "' is used by room " + h.id +
                              " here, but by " + r.id + " in the archive; rename one, then import");
    if (!cat_ids.count(r.category_id))
      return error(400, "room " + r.id + " names category " + r.category_id + ", which is neither in the archive nor here");
    room_ids[r.id] = true;
  }
  uint64_t fresh = 0, present = 0;
  for (auto& [room, msgs] : a.messages) {
    if (!room_ids.count(room)) return error(400, "messages for room " + room + ", which is neither in the archive nor here");
    std::vector<storage::message_record> stored;
    if (auto s = ctx->store->read_from(room, msgs.front().seq, msgs.back().seq - msgs.front().seq + 1, &stored); !s.is_ok())
      return error(503, s.to_string());
    std::unordered_map<uint64_t, const storage::message_record*> by_seq;
    for (auto& m : stored) by_seq[m.seq] = &m;
    for (auto& m : msgs) {
      auto it = by_seq.find(m.seq);
      if (it == by_seq.end()) {
        ++fresh;
        continue;
      }
      const auto& o = *it->second;
      if (o.author != m.author || o.ts_micros != m.ts_micros || o.text != m.text)
        return error(409, "conflict: room " + room + " already has a different message " + std::to_string(m.seq));
      ++present;
    }
  }
  json result{{"what_if", what_if}, {"categories", a.categories.size()}, {"rooms", a.rooms.size()},
              {"messages_new", fresh}, {"messages_present", present}};
  if (what_if) return reply(200, result);

  caf::scoped_actor self{sys};
  caf::error failed;
  auto fail = [&](caf::error& err) { failed = std::move(err); };
  for (auto& c : a.categories) {
    self->request(ctx->directory, kTimeout, actors::new_category_atom::value, c)
        .receive([](storage::category_record&) {}, fail);
    if (failed) return error(409, "category " + c.id + ": " + sys.render(failed));
  }
  for (auto& r : a.rooms) {
    self->request(ctx->directory, kTimeout, actors::new_room_atom::value, r)
        .receive([](storage::room_record&) {}, fail);
    if (failed) return error(409, "room " + r.id + ": " + sys.render(failed));
  }
  uint64_t written = 0;
  for (auto& [room, msgs] : a.messages) {
    for (size_t i = 0; i < msgs.size(); i += kImportChunk) {
      std::vector<storage::message_record> chunk(msgs.begin() + static_cast<long>(i),
                                                 msgs.begin() + static_cast<long>(std::min(msgs.size(), i + kImportChunk)));
      self->request(ctx->directory, kImportChunkTimeout, actors::import_atom::value, room, std::move(chunk))
          .receive([&](uint64_t n) { written += n; }, fail);
      if (failed)
        return error(503, "import stopped in room " + room + " after " + std::to_string(written) +
                              " new messages (importing again resumes): " + sys.render(failed));
    }
  }
  result["messages_new"] = written;
  return reply(200, result);
}

}  // namespace

web::http_handler make_archive_api(caf::actor_system& sys,
                                   std::shared_ptr<const actors::server_context> ctx,
                                   web::http_handler next) {
  return [&sys, ctx, next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path == "/api/v1/export") {
      if (req.method != "POST") return error(405, "use POST");
      return handle_export(ctx, req);
    }
    if (req.path == "/api/v1/import") {
      if (req.method != "POST") return error(405, "use POST");
      return handle_import(sys, ctx, req);
    }
    return next(req);
  };
}

}  // namespace pchat::app
