#include "app/admin_archive.h"
#include "app/admin_json.h"
#include "app/archive_lines.h"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "actors/messages.h"
#include "actors/server_context.h"
#include "storage/database.h"
#include "actors/identity_registry.h"
#include "log/log.h"
#include "text/ascii.h"
#include "text/utc_time.h"
#include "text/valid_text.h"

namespace pchat::app {
namespace {

using actors::identity_registry;

using json = nlohmann::json;
constexpr auto kTimeout = std::chrono::seconds(10);
constexpr auto kImportChunkTimeout = std::chrono::seconds(60);
constexpr size_t kReadChunk = 10000;   // messages read from the store per step (export)
constexpr size_t kImportChunk = 1000;  // messages per import request to a room (one write)
constexpr size_t kMaxRepairedListed = 100;  // repaired records named in the reply (all are logged)


// ---- export

// Replaces, in place, every string of an archive line that breaks the entry rule by its
// repair (text/valid_text.h), so the archive is valid JSON that import accepts again.
// Such strings can only come from records an older version stored. Returns what was
// repaired ("field 'text': invalid UTF-8 at byte 4; ..."), or "".
std::string repair_strings(json& j, const std::string& where = "") {
  std::string found;
  auto note = [&](const std::string& what) { found += (found.empty() ? "" : "; ") + what; };
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    if (text::problem p = text::check(s); !p.ok()) {
      note("field '" + where + "': " + p.reason);
      s = text::repair(s);
    }
  } else if (j.is_object()) {
    for (auto& [k, v] : j.items())
      if (std::string e = repair_strings(v, where.empty() ? k : where + "." + k); !e.empty()) note(e);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i)
      if (std::string e = repair_strings(j[i], where + "[" + std::to_string(i) + "]"); !e.empty())
        note(e);
  }
  return found;
}

// Removes the .partial file unless the export reached its rename: an export that fails
// leaves nothing behind.
struct partial_file {
  std::string path;
  bool keep = false;
  ~partial_file() {
    if (!path.empty() && !keep) std::remove(path.c_str());
  }
};

web::http_response export_failed(int status, const std::string& why, const std::string& path) {
  PCHAT_LOG(error, "archive", "export failed",
            "path=" + log::quote(path.empty() ? "(response body)" : path) + " reason=" + log::quote(why));
  return error(status, "export failed, nothing written: " + why);
}

web::http_response handle_export(const std::shared_ptr<const actors::server_context>& ctx,
                                 const web::http_request& req) {
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (!body.is_object()) return error(400, "expected a JSON object {path?, category?, since?}");
  std::string path = body.value("path", ""), category = body.value("category", ""),
              since_text = body.value("since", "");
  int64_t since = 0;
  if (!since_text.empty()) {
    std::optional<int64_t> t = utc::parse_date_or_timestamp(since_text);
    if (!t) return error(400, "since must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    since = *t;
  }
  if (!path.empty() && path.front() != '/') return error(400, "path must be absolute (a file on the server host)");

  std::vector<storage::category_record> cats;
  std::vector<storage::room_record> rooms;
  if (auto s = ctx->store->directory().list_categories(&cats); !s.is_ok()) return export_failed(503, s.to_string(), path);
  if (auto s = ctx->store->directory().list_rooms(&rooms); !s.is_ok()) return export_failed(503, s.to_string(), path);
  if (!category.empty()) {
    std::vector<storage::category_record> keep;
    for (auto& c : cats)
      if (c.id == category || text::ascii_iequal(c.name, category)) keep.push_back(c);
    if (keep.empty()) return error(404, "no category with name or id '" + category + "'");
    cats = keep;
    std::vector<storage::room_record> in;
    for (auto& r : rooms)
      if (r.category_id == cats[0].id) in.push_back(r);
    rooms = in;
  }

  std::ostringstream mem;
  std::ofstream file;
  partial_file tmp;
  if (!path.empty()) {
    tmp.path = path + ".partial";
    file.open(tmp.path, std::ios::binary | std::ios::trunc);
    if (!file) return export_failed(400, "cannot write " + tmp.path, path);
  }
  std::ostream& out = path.empty() ? static_cast<std::ostream&>(mem) : file;
  uint64_t messages = 0;
  json repaired = json::array();  // what was repaired, first kMaxRepairedListed
  uint64_t repaired_count = 0;
  // Writes one line; a record that is not valid text is repaired, logged and counted.
  auto line = [&](json j, const std::string& what) {
    if (std::string e = repair_strings(j); !e.empty()) {
      ++repaired_count;
      PCHAT_LOG(warn, "archive", "export repaired a stored record that is not valid text",
                "record=" + log::quote(what) + " problem=" + log::quote(e));
      if (repaired.size() < kMaxRepairedListed) repaired.push_back(what + ": " + e);
    }
    out << j.dump() << "\n";
  };
  try {
    json scope{{"category", category.empty() ? json() : json(cats[0].name)},
               {"since", since_text.empty() ? json() : json(utc::json_timestamp(since))}};
    line(json{{"format", kArchiveFormat}, {"version", kArchiveVersion}, {"exported_at", utc::json_timestamp(utc::now_micros())},
              {"domain", ctx->domain}, {"scope", scope}},
         "header");
    for (auto& c : cats) line(category_line(c), "category " + c.id);
    for (auto& r : rooms) line(room_line(r, ctx->domain), "room " + r.id);
    for (auto& r : rooms) {
      uint64_t from = 1;
      for (;;) {
        std::vector<storage::message_record> chunk;
        if (auto s = ctx->store->messages().read_from(r.id, from, kReadChunk, &chunk); !s.is_ok())
          return export_failed(503, "cannot read room " + r.id + ": " + s.to_string(), path);
        for (auto& m : chunk) {
          if (m.ts_micros < since) continue;
          line(message_line(r.id, m), "room " + r.id + " message " + std::to_string(m.seq));
          ++messages;
        }
        if (chunk.size() < kReadChunk) break;
        from = chunk.back().seq + 1;
      }
    }
    out << json{{"type", "end"}, {"categories", cats.size()}, {"rooms", rooms.size()}, {"messages", messages}}.dump()
        << "\n";
  } catch (const std::exception& e) {  // json::type_error and the like: say what, not 500
    return export_failed(500, e.what(), path);
  }
  if (path.empty()) return {200, "application/x-ndjson", mem.str()};
  file.close();
  if (!file) return export_failed(503, "cannot write " + tmp.path + " (disk full?)", path);
  if (std::rename(tmp.path.c_str(), path.c_str()) != 0)
    return export_failed(503, "cannot rename " + tmp.path + " to " + path + ": " + std::strerror(errno), path);
  tmp.keep = true;
  json result{{"path", path}, {"categories", cats.size()}, {"rooms", rooms.size()}, {"messages", messages}};
  if (repaired_count > 0) {
    result["repaired"] = repaired_count;
    result["repaired_records"] = repaired;
  }
  return reply(200, result);
}

// ---- import

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
  if (auto s = ctx->store->directory().list_categories(&have_cats); !s.is_ok()) return error(503, s.to_string());
  if (auto s = ctx->store->directory().list_rooms(&have_rooms); !s.is_ok()) return error(503, s.to_string());
  std::unordered_map<std::string, std::string> cat_ids;  // every category id known -> name
  for (auto& c : have_cats) cat_ids[c.id] = c.name;
  for (auto& c : a.categories) {
    for (auto& h : have_cats)
      if (h.id != c.id && text::ascii_iequal(h.name, c.name))
        return error(409, "conflict: category name '" + c.name + "' is used by category " + h.id +
                              " here, but by " + c.id + " in the archive; rename one, then import");
    cat_ids[c.id] = c.name;
  }
  std::unordered_map<std::string, bool> room_ids;
  for (auto& r : have_rooms) room_ids[r.id] = true;
  for (auto& r : a.rooms) {
    for (auto& h : have_rooms)
      if (h.id != r.id && text::ascii_iequal(h.name, r.name))
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
    if (auto s = ctx->store->messages().read_from(room, msgs.front().seq, msgs.back().seq - msgs.front().seq + 1, &stored); !s.is_ok())
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
      // An older version may have stored text that export repaired: compare repaired.
      if (text::repair(o.author) != m.author || o.ts_micros != m.ts_micros || text::repair(o.text) != m.text)
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
