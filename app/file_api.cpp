#include "app/file_api.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <unistd.h>
#include <optional>
#include <regex>
#include <variant>

#include "actors/commit_actor.h"
#include "actors/file_replica_actor.h"
#include "actors/identity_registry.h"
#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "app/pool_files.h"
#include "app/user_auth.h"
#include "log/log.h"
#include "protocol/xccos/chat_uri.h"
#include "storage/database.h"
#include "storage/file_store.h"
#include "text/utc_time.h"
#include "text/valid_text.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr std::string_view kPrefix = "/files/v1/rooms/";
constexpr size_t kMaxNameBytes = 255;

// 1..255 bytes of valid text (text/valid_text.h: UTF-8, no control characters), no path
// separators: it is shown to other users and written into compliance output, never used as
// a path (blobs have random names).
bool valid_file_name(const std::string& n) {
  if (n.empty() || n.size() > kMaxNameBytes || n == "." || n == ".." || !text::valid(n)) return false;
  for (unsigned char c : n)
    if (c == '/' || c == '\\') return false;
  return true;
}

json file_json(const storage::file_record& f) {
  return {{"id", f.id},
          {"name", f.name},
          {"size", f.size},
          {"uploader", f.uploader},
          {"ts", utc::json_timestamp(f.ts_micros)},
          {"url", std::string(kPrefix) + f.room_id + "/" + std::to_string(f.id)}};
}

struct room_context {
  storage::room_record room;
  storage::category_record category;
  actors::room_access access;
};

// Loads the room and decides what `user` may do there; a response when the answer is no
// for everything (unknown, invisible, not allowed to read).
std::variant<room_context, web::http_response> open_room(const actors::server_context& ctx,
                                                         const std::string& room_id,
                                                         const std::string& user) {
  room_context rc;
  pchat::status s = ctx.store->directory().get_room(room_id, &rc.room);
  if (s.is_not_found() || s.is_invalid_argument()) return error(404, "no such room: " + room_id);
  if (!s.is_ok()) return error(503, "store: " + s.to_string());
  if (auto c = ctx.store->directory().get_category(rc.room.category_id, &rc.category); !c.is_ok() && !c.is_not_found())
    return error(503, "store: " + c.to_string());
  if (!ctx.identities) return error(403, "access control is not configured");
  auto ids = ctx.identities->current();
  if (!ids->chat_enabled(user))
    return error(403, "Persistent Chat is not enabled for " + user +
                          (ids->known_user(user) ? " (EnablePersistentChat policy)"
                                                 : " (not in the user directory: an administrator adds users)"));
  rc.access = ids->access(user, rc.room, rc.category);
  if (!rc.access.visible) return error(404, "no such room: " + room_id);
  if (!rc.access.can_join) return error(403, rc.access.reason);
  return rc;
}

// As the reference's compliance output has it: the content is the stored file name, the
// id 0 (the record keeps the file id so the runner can name the uploaded file).
storage::compliance_record file_event(storage::compliance_kind kind, const room_context& rc,
                                     const std::string& user, const actors::server_context& ctx,
                                     const storage::file_record& f) {
  storage::compliance_record e;
  e.kind = kind;
  e.room_id = rc.room.id;
  e.room_name = rc.room.name;
  e.user_uri = user;
  e.user_display = ctx.identities ? ctx.identities->current()->display_name(user) : std::string{};
  e.text = f.blob;
  e.message_id = f.id;
  e.ts_micros = utc::now_micros();
  return e;
}

std::string size_text(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  if (bytes < 1024 * 1024) return std::to_string((bytes + 512) / 1024) + " KB";
  return std::to_string((bytes + 512 * 1024) / (1024 * 1024)) + " MB";
}

// A Host header fit to name this server in a link: host name, IPv4 or [IPv6], optional
// port. Anything else (user info, paths) would let a client forge where the link points.
bool plain_host(const std::string& h) {
  static const std::regex kHost(R"(^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$)");
  return h.size() <= 255 && std::regex_match(h, kHost);
}

// Tells the room, as Lync's client does by posting the file into the conversation: a
// message from the uploader with the name, size and download address, so members on any
// client (SIPE shows text only) see the file arrive. Fire and forget: the upload stands
// whatever the room does with it, and its 201 does not wait for the room's write.
void announce(caf::scoped_actor& self, const actors::server_context& ctx,
              const storage::file_record& f, const web::http_request& req) {
  auto host = req.headers.find("host");
  std::string url = std::string(kPrefix) + f.room_id + "/" + std::to_string(f.id);
  if (host != req.headers.end() && plain_host(host->second)) url = "http://" + host->second + url;
  std::string text = "shared a file: " + f.name + " (" + size_text(f.size) + ") " + url;
  std::string room_uri = xccos::room_uri(ctx.domain, f.room_id);
  caf::actor room;
  std::string failure;
  self->request(ctx.directory, std::chrono::seconds(10), actors::lookup_atom::value, room_uri, f.uploader)
      .receive([&](caf::actor& r) { room = std::move(r); },
               [&](caf::error& err) { failure = to_string(err); });
  if (room)
    caf::anon_send(room, actors::announce_atom::value, f.uploader, std::move(text));
  else
    PCHAT_LOG(warn, "files", "upload stored but not announced in the room",
              "room=" + f.room_id + " file=" + std::to_string(f.id) + " error=" + log::quote(failure));
}

// The room and file ids of a path under kPrefix ("" when absent).
std::pair<std::string, std::string> split_files_path(const std::string& path) {
  std::string rest = path.substr(kPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

// An upload's bytes go to the file store as they arrive (web::body_sink, on an I/O
// thread): the server never holds a file in memory.
struct upload_sink : web::body_sink {
  upload_sink(std::shared_ptr<const storage::file_store> f, std::unique_ptr<storage::file_store::writer> w)
      : files(std::move(f)), writer(std::move(w)) {}
  std::string write(std::string_view piece) override {
    if (auto s = writer->append(piece); !s.is_ok()) {
      PCHAT_LOG(error, "files", "cannot store an upload",
                "error=" + log::quote(s.to_string()) + " action=" + log::quote("free disk space or fix the files folder"));
      return "cannot store the file: " + s.to_string();
    }
    return {};
  }
  std::shared_ptr<const storage::file_store> files;  // outlives the writer (declared first)
  std::unique_ptr<storage::file_store::writer> writer;
};

// ---- pool (docs/POOL.md "Uploaded files in a pool")

// The replicas of the room's log nodes other than this one (owner and follower by this
// node's view); *serving false when this node ranks no room (it may not acknowledge).
std::vector<caf::actor> log_replicas(const actors::server_context& ctx, const std::string& room_id, bool* serving) {
  std::vector<caf::actor> out;
  auto view = ctx.pool ? ctx.pool->current() : nullptr;
  *serving = view && view->serving;
  if (!view) return out;
  auto ranked = view->rank(room_id);
  for (size_t i = 0; i < ranked.size() && i < 2; ++i) {
    if (ranked[i] == view->self) continue;
    if (const actors::node_entry* n = view->find(ranked[i]); n && n->replica) out.push_back(n->replica);
  }
  return out;
}

// Ships upload `f` (its bytes in this node's blob) to another node's replica `to`, in
// chunks of kFileChunk through this node's replica; "" once that node has it synced.
std::string ship_file(caf::scoped_actor& self, const actors::server_context& ctx, const storage::file_store& files,
                      const storage::file_record& f, const caf::actor& to) {
  int fd = -1;
  uint64_t size = 0;
  if (auto s = files.open(f.room_id, f.blob, &fd, &size); !s.is_ok()) return s.to_string();
  std::string failure;
  std::string chunk;
  uint64_t offset = 0;
  do {
    chunk.assign(std::min<uint64_t>(actors::kFileChunk, size - offset), '\0');
    size_t got = 0;
    while (got < chunk.size()) {
      ssize_t n = ::pread(fd, chunk.data() + got, chunk.size() - got, static_cast<off_t>(offset + got));
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got != chunk.size()) {
      failure = "short read of the upload";
      break;
    }
    bool last = offset + chunk.size() >= size;
    self->request(ctx.replica, ctx.request_timeout, actors::fship_atom::value, to, f, offset, chunk, last)
        .receive([](uint64_t) {}, [&](caf::error& err) { failure = self->system().render(err); });
    offset += chunk.size();
  } while (failure.empty() && offset < size);
  ::close(fd);
  return failure;
}

// Copies file `id` of the room from another live node (the room's log nodes first) into
// this node's store; true once it is here.
bool fetch_file(caf::scoped_actor& self, const actors::server_context& ctx, const storage::file_store& files,
                const std::string& room_id, uint64_t id) {
  auto view = ctx.pool ? ctx.pool->current() : nullptr;
  if (!view || !ctx.replica) return false;
  std::vector<std::string> order = view->rank(room_id);
  for (const auto& n : view->live)
    if (std::find(order.begin(), order.end(), n.name) == order.end()) order.push_back(n.name);
  for (const auto& name : order) {
    const actors::node_entry* n = view->find(name);
    if (name == view->self || !n || !n->replica) continue;
    std::unique_ptr<storage::file_store::writer> w;
    if (!files.begin(&w).is_ok()) return false;
    storage::file_record f;
    bool failed = false, done = false;
    // Bounded: each answer brings kFileChunk bytes or ends the file.
    while (!failed && !done) {
      self->request(ctx.replica, ctx.request_timeout, actors::fget_atom::value, n->replica, room_id, id, w->size())
          .receive(
              [&](storage::file_record& got, std::string& bytes) {
                f = std::move(got);
                uint64_t limit = static_cast<uint64_t>(ctx.live->current()->chat.max_file_size_kb) * 1024;
                if (f.size > limit || f.room_id != room_id || f.id != id || !w->append(bytes).is_ok() ||
                    (bytes.empty() && w->size() < f.size))
                  failed = true;
                done = w->size() >= f.size;
              },
              [&](caf::error&) { failed = true; });
    }
    if (failed || w->size() != f.size) continue;
    std::string_view extension;
    if (auto dot = f.name.rfind('.'); dot != std::string::npos && dot > 0) extension = std::string_view(f.name).substr(dot);
    if (!w->commit(room_id, extension, &f.blob).is_ok()) return false;
    bool stored = false;
    self->request(ctx.commit, ctx.request_timeout, actors::file_put_atom::value, f, std::vector<storage::compliance_record>{})
        .receive([&](uint64_t) { stored = true; }, [&](caf::error&) {});
    if (!stored) files.remove(room_id, f.blob);
    PCHAT_LOG(info, "files", "copied a file from another node", "room=" + room_id + " id=" + std::to_string(id) +
                  " from=" + name + " stored=" + (stored ? "true" : "false"));
    return stored;
  }
  return false;
}

// The room's files oldest first, the pool's (app/pool_files.h): every acknowledged upload
// is on two nodes, so one node's loss hides none.
web::http_response list_files(caf::actor_system& sys, const actors::server_context& ctx,
                              const std::string& room_id) {
  std::vector<storage::file_record> all;
  if (auto s = pool_list_files(sys, ctx, room_id, &all); !s.is_ok())
    return error(503, "store: " + s.to_string());
  json list = json::array();
  for (auto& f : all) list.push_back(file_json(f));
  return reply(200, list);
}

web::http_response upload(caf::actor_system& sys, const actors::server_context& ctx,
                          const storage::file_store& files, const room_context& rc,
                          const std::string& user, const web::http_request& req) {
  if (!rc.access.can_post)
    return error(403, rc.access.reason.empty() ? "you may not post in " + rc.room.name : rc.access.reason);
  if (!rc.category.file_upload)
    return error(403, "file upload is off for the rooms of category '" + rc.category.name +
                          "' (pchatctl category set --file-upload true)");
  auto name_it = req.query.find("name");
  std::string name = name_it == req.query.end() ? std::string{} : name_it->second;
  if (!valid_file_name(name))
    return error(400, "give the file name as ?name=NAME (1..255 bytes of UTF-8, no '/', '\\' or control characters)");
  auto* sink = dynamic_cast<upload_sink*>(req.sink.get());
  if (!sink) return error(500, "the upload's bytes were not kept (no upload sink for this path)");
  auto live = ctx.live->current();  // MaxFileSizeKB and compliance as in force now
  uint64_t limit = static_cast<uint64_t>(live->chat.max_file_size_kb) * 1024;
  if (req.body_size > limit)
    return error(413, "the file has " + std::to_string(req.body_size) + " bytes; MaxFileSizeKB allows " +
                          std::to_string(limit));
  storage::file_record f;
  f.room_id = rc.room.id;
  f.name = name;
  f.size = req.body_size;
  f.uploader = user;
  f.ts_micros = utc::now_micros();
  // Bytes first (durable), then the record and its FILEUPLOAD event in one synced write,
  // then the answer: an acknowledged upload is complete and in the compliance queue.
  std::string_view extension;
  if (auto dot = name.rfind('.'); dot != std::string::npos && dot > 0)
    extension = std::string_view(name).substr(dot);
  if (auto s = sink->writer->commit(f.room_id, extension, &f.blob); !s.is_ok()) {
    PCHAT_LOG(error, "files", "cannot store an upload",
              "room=" + f.room_id + " error=" + log::quote(s.to_string()) +
                  " action=" + log::quote("free disk space or fix the files folder"));
    return error(503, "cannot store the file: " + s.to_string());
  }
  // Standalone, time-based ids: only a clock stepping back could repeat one, and must not
  // overwrite. In a pool, ids in this node's tag's space: no other node gives the same id
  // to another upload (docs/POOL.md "Uploaded files in a pool").
  storage::file_record existing;
  do {
    if (auto s = ctx.store->files().new_id(ctx.tag, &f.id); !s.is_ok()) {
      files.remove(f.room_id, f.blob);
      return error(503, "cannot number the file: " + s.to_string());
    }
  } while (ctx.store->files().get(f.room_id, f.id, &existing).is_ok());
  std::vector<storage::compliance_record> events;
  if (live->compliance.enabled) {
    events.push_back(file_event(storage::compliance_kind::file_upload, rc, user, ctx, f));
    events.back().ts_micros = f.ts_micros;
  }
  caf::scoped_actor self{sys};
  if (ctx.pool) {
    // The room's owner and follower hold the bytes and the record, synced, before the 201.
    bool serving = false;
    auto targets = log_replicas(ctx, f.room_id, &serving);
    std::string failure = serving ? "" : "this node is not serving (no fresh pool lease)";
    for (const auto& to : targets)
      if (failure.empty()) failure = ship_file(self, ctx, files, f, to);
    if (!failure.empty()) {
      files.remove(f.room_id, f.blob);
      PCHAT_LOG(warn, "files", "an upload was not copied to its room's nodes; refused",
                "room=" + f.room_id + " error=" + log::quote(failure));
      return error(503, "the file could not be copied to the room's nodes (" + failure + "); send it again");
    }
  }
  web::http_response out;
  self->request(ctx.commit, std::chrono::minutes(2), actors::file_put_atom::value, f, events)
      .receive([&](uint64_t) { out = reply(201, file_json(f)); },
               [&](caf::error& err) {
                 actors::errc code;
                 std::string reason;
                 if (actors::decode_error(err, &code, &reason) && code == actors::errc::quota_exceeded)
                   out = error(507, reason);  // Insufficient Storage: this user's share is used up
                 else
                   out = error(503, "the file was not recorded: " + sys.render(err));
                 // A failed commit applied nothing: the bytes are garbage now. After a
                 // timeout the record may still land, so they stay.
                 if (err != caf::sec::request_timeout) files.remove(f.room_id, f.blob);
               });
  if (out.status == 201) announce(self, ctx, f, req);
  return out;
}

web::http_response download(caf::actor_system& sys, const actors::server_context& ctx,
                            const storage::file_store& files, const room_context& rc, const std::string& user,
                            const std::string& id_text) {
  uint64_t id = 0;
  try {
    size_t used = 0;
    id = std::stoull(id_text, &used);
    if (used != id_text.size()) throw std::invalid_argument("id");
  } catch (const std::exception&) {
    return error(404, "no such file: " + id_text);
  }
  storage::file_record f;
  auto s = ctx.store->files().get(rc.room.id, id, &f);
  if (s.is_not_found() && ctx.pool) {
    // Uploaded through another node (before this node followed the room, or a node that
    // is gone): copied here from a node that holds it, then served as local.
    caf::scoped_actor self{sys};
    if (fetch_file(self, ctx, files, rc.room.id, id)) s = ctx.store->files().get(rc.room.id, id, &f);
  }
  if (s.is_not_found()) {
    return error(404, "no such file: " + id_text);
  } else if (!s.is_ok()) {
    return error(503, "store: " + s.to_string());
  }
  int fd = -1;
  uint64_t size = 0;
  if (auto s = files.open(f.room_id, f.blob, &fd, &size); !s.is_ok()) {
    PCHAT_LOG(error, "files", "a recorded file cannot be read",
              "room=" + f.room_id + " id=" + id_text + " error=" + log::quote(s.to_string()));
    return error(503, "cannot read the file: " + s.to_string());
  }
  web::http_response out;
  out.file = std::make_shared<web::file_source>(fd, size);  // streamed by the server, Range too
  actors::capture(ctx, file_event(storage::compliance_kind::file_download, rc, user, ctx, f));
  out.status = 200;
  out.content_type = "application/octet-stream";
  // The name is free of control characters (checked at upload); quotes are escaped.
  std::string quoted;
  for (char c : f.name) quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  out.extra_headers.push_back("Content-Disposition: attachment; filename=\"" + quoted + "\"");
  return out;
}

}  // namespace

web::http_handler make_file_api(caf::actor_system& sys,
                                std::shared_ptr<const actors::server_context> ctx,
                                file_api_options opts, web::http_handler next) {
  auto files = std::make_shared<storage::file_store>(ctx->files_dir);
  return [&sys, ctx, opts, files, next](const web::http_request& req) -> web::http_response {
    if (req.path.rfind(kPrefix, 0) != 0) return next(req);
    auto who = authenticate_user(*ctx, opts.trust_user_header, req, opts.cookie);
    if (auto* refused = std::get_if<web::http_response>(&who)) return *refused;
    const std::string& user = std::get<std::string>(who);
    auto [room_id, file_id] = split_files_path(req.path);
    auto opened = open_room(*ctx, room_id, user);
    if (auto* refused = std::get_if<web::http_response>(&opened)) return *refused;
    const auto& rc = std::get<room_context>(opened);
    if (file_id.empty() && req.method == "POST") return upload(sys, *ctx, *files, rc, user, req);
    if (file_id.empty() && req.method == "GET") return list_files(sys, *ctx, rc.room.id);
    if (!file_id.empty() && req.method == "GET") return download(sys, *ctx, *files, rc, user, file_id);
    return error(405, "use POST " + std::string(kPrefix) + "{room-id}?name=NAME, GET " +
                          std::string(kPrefix) + "{room-id} or GET " + std::string(kPrefix) +
                          "{room-id}/{file-id}");
  };
}

web::http_head_check make_upload_head_check(std::shared_ptr<const actors::server_context> ctx,
                                            web::http_head_check next) {
  auto files = std::make_shared<const storage::file_store>(ctx->files_dir);
  // Left by uploads that a crash or a stop interrupted; none is running yet.
  if (auto s = files->discard_unfinished(); !s.is_ok())
    PCHAT_LOG(warn, "files", "cannot remove unfinished uploads", "error=" + log::quote(s.to_string()));
  return [files, next](const web::http_request& head, web::head_decision* d) -> std::optional<web::http_response> {
    if (next)
      if (auto refused = next(head, d)) return refused;
    if (head.method != "POST" || head.path.rfind(kPrefix, 0) != 0 || !split_files_path(head.path).second.empty())
      return std::nullopt;
    std::unique_ptr<storage::file_store::writer> w;
    if (auto s = files->begin(&w); !s.is_ok()) {
      PCHAT_LOG(error, "files", "cannot start an upload",
                "error=" + log::quote(s.to_string()) + " action=" + log::quote("free disk space or fix the files folder"));
      return error(503, "cannot store the file: " + s.to_string());
    }
    d->sink = std::make_shared<upload_sink>(files, std::move(w));
    return std::nullopt;
  };
}

}  // namespace pchat::app
