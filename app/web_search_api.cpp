#include "app/web_search_api.h"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "app/admin_search.h"
#include "app/text_guard.h"
#include "app/web_client_api.h"
#include "app/web_rooms_api.h"
#include "app/web_sign_ins.h"
#include "protocol/webchat/topic_feeds.h"
#include "protocol/xccos/chat_uri.h"
#include "search/search_index.h"
#include "storage/database.h"
#include "storage/directory.h"
#include "storage/preferences.h"
#include "text/utc_time.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr size_t kMaxQuery = 256;
constexpr size_t kMaxLimit = 200;

struct search_state {
  std::mutex feeds_mu;  // topic feeds of this node's browsers: read, change, write one at a time
  std::mutex mu;        // the reader is for one thread at a time
  std::unique_ptr<search::search_reader> reader;  // opened on first use
};

std::string param(const web::http_request& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

// The rooms `user` may read now (not disabled, can_join), by id -> name; false when the
// directory cannot be read.
bool readable_rooms(const actors::server_context& ctx, const actors::identity_snapshot& ids,
                    const std::string& user, std::unordered_map<std::string, std::string>* out) {
  std::vector<storage::room_record> rooms;
  std::vector<storage::category_record> cats;
  if (!ctx.store->directory().list_rooms(&rooms).is_ok() ||
      !ctx.store->directory().list_categories(&cats).is_ok())
    return false;
  std::unordered_map<std::string, const storage::category_record*> by_id;
  for (auto& c : cats) by_id.emplace(c.id, &c);
  static const storage::category_record kNone;  // a room without one: as the directory checks
  for (auto& r : rooms) {
    if (r.disabled) continue;
    auto c = by_id.find(r.category_id);
    if (ids.access(user, r, c == by_id.end() ? kNone : *c->second).can_join)
      out->emplace(r.id, r.name);
  }
  return true;
}

// Runs `q` over `rooms` (ids the user may read now, already checked): this node's index
// (`sync`: once the indexer has committed what it received), then, in a pool, every live
// node's.
std::optional<web::http_response> run(caf::actor_system& sys, const actors::server_context& ctx,
                                      search_state& st, const std::string& index_path,
                                      search::search_query q, const std::vector<std::string>& rooms,
                                      search::search_result* out,
                                      std::vector<std::string>* unanswered, bool sync = true) {
  if (!ctx.indexer) return error(503, "history search is not running on this node");
  caf::scoped_actor self{sys};
  caf::error failed;
  if (sync)
    self->request(ctx.indexer, ctx.request_timeout, actors::ixsync_atom::value)
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { failed = std::move(err); });
  if (failed)
    return error(503, "the search index is catching up; retry (" + sys.render(failed) + ")");
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (!st.reader) {
      if (auto s = search::search_reader::open(index_path, &st.reader); !s.is_ok())
        return error(503, "search index unavailable: " + s.to_string());
    }
    auto s = search_history(*st.reader, q, rooms, out);
    if (s.is_invalid_argument()) return error(400, s.reason());
    if (!s.is_ok()) {
      st.reader.reset();  // reopen next time
      return error(503, s.to_string());
    }
  }
  q.rooms = rooms;
  if (ctx.pool && ctx.directory_relay)
    *out = search_pool(self, ctx, q, std::move(*out), unanswered);

  return std::nullopt;
}

web::http_response search(caf::actor_system& sys, const actors::server_context& ctx,
                          search_state& st, const std::string& index_path,
                          const actors::identity_snapshot& ids, const std::string& user,
                          const web::http_request& req) {
  search::search_query q;
  q.text = param(req, "q");
  if (q.text.size() > kMaxQuery)
    return error(400, "q: at most " + std::to_string(kMaxQuery) + " bytes");
  if (std::string a = param(req, "author"); !a.empty()) q.authors.push_back(a);
  if (q.text.empty() && q.authors.empty())
    return error(400, "give q (words or \"a phrase\") or author");
  q.limit = 50;
  if (std::string l = param(req, "limit"); !l.empty()) {
    char* end = nullptr;
    long n = std::strtol(l.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > static_cast<long>(kMaxLimit))
      return error(400, "limit must be 1.." + std::to_string(kMaxLimit));
    q.limit = static_cast<size_t>(n);
  }
  std::unordered_map<std::string, std::string> readable;
  if (!readable_rooms(ctx, ids, user, &readable))
    return error(503, "the rooms could not be read; retry");
  std::vector<std::string> ids_wanted;
  if (std::string room = param(req, "room"); !room.empty()) {
    auto id = xccos::room_id_in_domain(room, ctx.domain);
    if (!id || readable.count(*id) == 0) return error(404, "no such room: " + room);
    ids_wanted.push_back(*id);
  } else {
    for (auto& [id, name] : readable) ids_wanted.push_back(id);
    std::sort(ids_wanted.begin(), ids_wanted.end());
  }
  if (ids_wanted.empty()) return reply(200, json{{"results", json::array()}, {"truncated", false}});

  search::search_result res;
  std::vector<std::string> unanswered;
  if (auto refused = run(sys, ctx, st, index_path, q, ids_wanted, &res, &unanswered))
    return *refused;

  json out = json::array();
  for (auto& h : res.hits) {
    auto r = readable.find(h.room_id);
    if (r == readable.end()) continue;  // never: the index answers for the rooms asked only
    const std::string record = "room " + h.room_id + " message " + std::to_string(h.seq);
    out.push_back(json{{"room", xccos::room_uri(ctx.domain, h.room_id)},
                       {"name", stored_text(r->second, record)},
                       {"seq", h.seq},
                       {"author", stored_text(h.author, record)},
                       {"ts", utc::xccos_timestamp(h.ts_micros)},
                       {"text", stored_text(h.text, record)}});
  }
  json body{{"results", std::move(out)}, {"truncated", res.truncated}};
  if (ctx.pool) body["unanswered_nodes"] = unanswered;
  return reply(200, body);
}

// The user's topic feeds as stored; false when unreadable.
bool stored_feeds(const actors::server_context& ctx, const std::string& user,
                  std::vector<webchat::topic_feed>* out) {
  std::string v;
  auto s = ctx.store->preferences().get(user, webchat::kTopicFeedsLabel, &v);
  if (!s.is_ok() && !s.is_not_found()) return false;
  *out = s.is_ok() ? webchat::decode_topic_feeds(v) : std::vector<webchat::topic_feed>{};
  return true;
}

// Each feed with the messages matching it posted after it was last looked at, in the rooms
// the user may read now (at most kFeedCount each; "more" beyond).
web::http_response feeds_json(caf::actor_system& sys, const actors::server_context& ctx,
                              search_state& st, const std::string& index_path,
                              const actors::identity_snapshot& ids, const std::string& user,
                              const std::vector<webchat::topic_feed>& feeds) {
  constexpr size_t kFeedCount = 99;
  std::unordered_map<std::string, std::string> readable;
  if (!readable_rooms(ctx, ids, user, &readable))
    return error(503, "the rooms could not be read; retry");
  std::vector<std::string> rooms;
  for (auto& [id, name] : readable) rooms.push_back(id);
  std::sort(rooms.begin(), rooms.end());
  json out = json::array();
  for (auto& f : feeds) {
    search::search_result res;
    if (!rooms.empty()) {
      search::search_query q;
      q.text = f.q;
      if (!f.author.empty()) q.authors.push_back(f.author);
      q.from_micros = f.seen_micros + 1;
      q.limit = kFeedCount;
      std::vector<std::string> unanswered;
      bool sync = &f == &feeds.front();  // one commit of the index for all the feeds
      if (auto refused = run(sys, ctx, st, index_path, q, rooms, &res, &unanswered, sync))
        return *refused;
    }
    out.push_back(json{{"id", f.id},
                       {"q", f.q},
                       {"author", f.author},
                       {"new", res.hits.size()},
                       {"more", res.truncated}});
  }
  return reply(200, json{{"feeds", std::move(out)}});
}

// GET lists the feeds; POST {q, author} adds one, POST {id, seen: true} marks its matches
// looked at (now); DELETE ?id=N removes one.
web::http_response feeds(caf::actor_system& sys, const actors::server_context& ctx,
                         search_state& st, const std::string& index_path,
                         const actors::identity_snapshot& ids, const web_sign_in& in,
                         const web::http_request& req) {
  const std::string& user = in.user;
  std::vector<webchat::topic_feed> list;
  if (req.method == "GET") {
    if (!stored_feeds(ctx, user, &list))
      return error(503, "your topic feeds could not be read; retry");
    return feeds_json(sys, ctx, st, index_path, ids, user, list);
  }
  if (req.method != "POST" && req.method != "DELETE") return error(405, "use GET, POST or DELETE");
  if (auto refused = web_write_refused(in, req)) return *refused;
  json j;
  if (req.method == "POST") {
    j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return error(400, "send {\"q\", \"author\"} or {\"id\", \"seen\": true}");
  }
  {
    std::lock_guard<std::mutex> lock(st.feeds_mu);
    if (!stored_feeds(ctx, user, &list))
      return error(503, "your topic feeds could not be read; retry");
    if (req.method == "DELETE") {
      uint64_t id = std::strtoull(param(req, "id").c_str(), nullptr, 10);
      auto it = std::find_if(list.begin(), list.end(), [&](auto& f) { return f.id == id; });
      if (it == list.end()) return error(404, "no such topic feed");
      list.erase(it);
    } else if (j.contains("id")) {
      if (!j["id"].is_number_unsigned() || j.value("seen", false) != true)
        return error(400, "send {\"id\": N, \"seen\": true}");
      uint64_t id = j["id"].get<uint64_t>();
      auto it = std::find_if(list.begin(), list.end(), [&](auto& f) { return f.id == id; });
      if (it == list.end()) return error(404, "no such topic feed");
      it->seen_micros = utc::now_micros();
    } else {
      webchat::topic_feed f;
      if (auto q = j.find("q"); q != j.end() && q->is_string()) f.q = q->get<std::string>();
      if (auto a = j.find("author"); a != j.end() && a->is_string())
        f.author = a->get<std::string>();
      if (f.q.empty() && f.author.empty())
        return error(400, "a topic feed needs q (words) or an author");
      if (f.q.size() > kMaxQuery || f.author.size() > kMaxQuery)
        return error(400, "q and author: at most " + std::to_string(kMaxQuery) + " bytes");
      if (list.size() >= webchat::kMaxTopicFeeds)
        return error(
            413, "at most " + std::to_string(webchat::kMaxTopicFeeds) + " topic feeds; remove one");
      for (auto& g : list) f.id = std::max(f.id, g.id);
      f.id += 1;
      f.seen_micros = utc::now_micros();
      list.push_back(std::move(f));
    }
    if (auto refused = web_put_pref(sys, ctx, user, webchat::kTopicFeedsLabel,
                                    webchat::encode_topic_feeds(list)))
      return *refused;
  }
  return feeds_json(sys, ctx, st, index_path, ids, user, list);
}

}  // namespace

web::http_handler make_web_search_api(caf::actor_system& sys,
                                      std::shared_ptr<const actors::server_context> ctx,
                                      std::shared_ptr<web_sign_ins> sign_ins,
                                      std::string index_path, web::http_handler next) {
  auto st = std::make_shared<search_state>();
  return [&sys, ctx, sign_ins, st, index_path = std::move(index_path),
          next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path != "/api/web/search" && req.path != "/api/web/feeds") return next(req);
    if (req.path == "/api/web/search" && req.method != "GET") return error(405, "use GET");
    auto in = web_signed_in(*ctx, *sign_ins, req);
    if (!in) return error(401, "sign in first (POST /api/web/session)");
    auto ids = ctx->identities ? ctx->identities->current() : nullptr;
    if (!ids || !ids->chat_enabled(in->user))
      return error(403, "Persistent Chat is not enabled for " + in->user);
    if (req.path == "/api/web/feeds") return feeds(sys, *ctx, *st, index_path, *ids, *in, req);
    return search(sys, *ctx, *st, index_path, *ids, in->user, req);
  };
}

}  // namespace pchat::app
