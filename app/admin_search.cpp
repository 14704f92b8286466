#include "app/admin_search.h"
#include "app/admin_audit.h"
#include "app/admin_json.h"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "actors/commit_actor.h"
#include "actors/directory_relay.h"
#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/server_context.h"
#include "app/text_guard.h"
#include "protocol/xccos/chat_uri.h"
#include "search/search_merge.h"
#include "text/ascii.h"
#include "text/comma_list.h"
#include "text/utc_time.h"
#include "actors/identity_registry.h"

namespace pchat::app {
namespace {

using actors::identity_registry;

using json = nlohmann::json;
constexpr auto kTimeout = std::chrono::seconds(10);

std::string param(const web::http_request& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

struct search_api_state {
  std::unique_ptr<search::search_reader> reader;  // opened on first use
};

web::http_response handle_search(caf::actor_system& sys,
                                  const std::shared_ptr<const actors::server_context>& ctx,
                                  const std::string& index_path, search_api_state& st,
                                  const web::http_request& req) {
  if (req.method != "GET") return error(405, "use GET");
  search::search_query q;
  q.text = param(req, "q");
  q.authors = text::comma_list(param(req, "author"));
  for (auto [key, field, eod] : {std::tuple{"from", &q.from_micros, false},
                                 std::tuple{"to", &q.to_micros, true}}) {
    std::string v = param(req, key);
    if (v.empty()) continue;
    std::optional<int64_t> t = utc::parse_date_or_timestamp(v, eod);
    if (!t) return error(400, std::string(key) + " must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    *field = *t;
  }
  if (std::string l = param(req, "limit"); !l.empty()) {
    char* end = nullptr;
    long n = std::strtol(l.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > static_cast<long>(search::kMaxLimit))
      return error(400, "limit must be 1.." + std::to_string(search::kMaxLimit));
    q.limit = static_cast<size_t>(n);
  }
  if (q.text.empty() && q.authors.empty() && q.from_micros == 0 && q.to_micros == 0)
    return error(400, "give q (words or \"a phrase\"), author, from or to");
  std::string why;
  auto admin = admin_of(req, &why);
  if (!admin) return error(400, why);

  caf::scoped_actor self{sys};
  std::vector<actors::room_view> rooms;
  caf::error failed;
  self->request(ctx->directory, kTimeout, actors::list_rooms_atom::value)
      .receive([&](std::vector<actors::room_view>& r) { rooms = std::move(r); },
               [&](caf::error& err) { failed = std::move(err); });
  if (failed) return error(503, "directory unavailable: " + sys.render(failed));
  std::unordered_map<std::string, const actors::room_view*> by_id;
  for (auto& r : rooms) by_id.emplace(r.id, &r);
  std::vector<std::string> readable;  // the admin may read every room
  std::string wanted = param(req, "room");
  if (wanted.empty()) {
    // Every room but the disabled ones: no per-room filter (see search_query::every_room).
    q.every_room = true;
    for (auto& r : rooms) {
      if (!r.disabled) readable.push_back(r.id);
      else q.excluded_rooms.push_back(r.id);
    }
  } else {
    for (auto& w : text::comma_list(wanted)) {
      const actors::room_view* hit = nullptr;
      for (auto& r : rooms)
        if (r.id == w || r.uri == w || text::ascii_iequal(r.name, w)) hit = &r;
      if (!hit) return error(404, "no room with id, name or uri '" + w + "'");
      readable.push_back(hit->id);
    }
  }

  if (!ctx->indexer) return error(503, "history search is not running on this node");
  self->request(ctx->indexer, kTimeout, actors::ixsync_atom::value)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { failed = std::move(err); });
  if (failed)
    return error(503, "search index unavailable or still catching up (retry): " + sys.render(failed));
  if (!st.reader) {
    if (auto s = search::search_reader::open(index_path, &st.reader); !s.is_ok())
      return error(503, "search index unavailable: " + s.to_string());
  }
  search::search_result res;
  q.rooms = readable;
  auto s = search_history(*st.reader, q, readable, &res);
  if (s.is_invalid_argument()) return error(400, s.reason());
  if (!s.is_ok()) {
    st.reader.reset();  // reopen next time
    return error(503, s.to_string());
  }
  std::vector<std::string> unanswered;
  if (ctx->pool && ctx->directory_relay) res = search_pool(self, *ctx, q, std::move(res), &unanswered);

  // The admin's own ADMINSEARCH event in each room named, or once for every room (no room:
  // the pool's channel root), durable before the results are shown.
  storage::compliance_record e;
  e.kind = storage::compliance_kind::admin_search;
  e.user_uri = *admin;
  e.text = "q=" + q.text + " room=" + wanted + " author=" + param(req, "author") +
           " from=" + param(req, "from") + " to=" + param(req, "to") +
           " limit=" + std::to_string(q.limit) + " results=" + std::to_string(res.hits.size()) +
           (res.truncated ? " (truncated)" : "");
  std::vector<storage::compliance_record> events;
  if (q.every_room) {
    e.room_name = "every room";
    events.push_back(e);
  } else {
    for (const auto& id : readable) {
      e.room_id = id;
      e.room_name = by_id[id]->name;
      events.push_back(e);
    }
  }
  if (auto s = record_admin_events(sys, *ctx, std::move(events)); !s.is_ok())
    return error(503, "search not shown: " + s.reason());

  json arr = json::array();
  for (auto& h : res.hits) {
    auto r = by_id.find(h.room_id);
    const std::string record = "room " + h.room_id + " message " + std::to_string(h.seq);
    arr.push_back(json{{"room", stored_text(r == by_id.end() ? h.room_id : r->second->name, record)},
                       {"room_uri", xccos::room_uri(ctx->domain, h.room_id)},
                       {"room_id", h.room_id},
                       {"seq", h.seq},
                       {"author", stored_text(h.author, record)},
                       {"ts", utc::json_timestamp(h.ts_micros)},
                       {"text", stored_text(h.text, record)}});
  }
  json body{{"results", arr},
            {"total_estimate", res.total_estimate},
            {"limit", res.limit},
            {"truncated", res.truncated}};
  if (ctx->pool) body["unanswered_nodes"] = unanswered;
  return reply(200, body);
}

}  // namespace

// A pool node's index holds only the rooms whose log it keeps (owner or follower), so every
// other live node's index is asked too, all at once, through this node's directory relay
// (each answers within kPoolSearchTimeout), and the answers are merged: every room is on two
// nodes, so one node that does not answer costs no hit. Names the nodes that did not answer.
search::search_result search_pool(caf::scoped_actor& self, const actors::server_context& ctx,
                                  const search::search_query& q, search::search_result local,
                                  std::vector<std::string>* unanswered) {
  const size_t limit = local.limit;
  std::vector<search::search_result> parts;
  parts.push_back(std::move(local));
  auto view = ctx.pool->current();
  if (view) {
    // Above the relay's own bound, so the relay's answer (a timeout included) comes first.
    const auto wait =
        std::chrono::milliseconds(actors::kPoolSearchTimeout) + std::chrono::seconds(1);
    using handle = decltype(self->request(ctx.directory_relay, wait, actors::ixquery_atom::value,
                                          std::string(), q));
    std::vector<std::pair<std::string, handle>> asked;
    for (auto& n : view->live)
      if (n.name != view->self)
        asked.emplace_back(n.name, self->request(ctx.directory_relay, wait,
                                                 actors::ixquery_atom::value, n.name, q));
    for (auto& [name, h] : asked)
      h.receive([&](search::search_result& r) { parts.push_back(std::move(r)); },
                [&, name = name](caf::error&) { unanswered->push_back(name); });
  }
  return search::merge_results(std::move(parts), limit);
}

pchat::status search_history(search::search_reader& reader, search::search_query q,
                               const std::vector<std::string>& readable_room_ids,
                               search::search_result* out) {
  q.rooms = readable_room_ids;
  return reader.search(q, out);
}

web::http_handler make_search_api(caf::actor_system& sys,
                                  std::shared_ptr<const actors::server_context> ctx,
                                  std::string index_path, web::http_handler next) {
  auto st = std::make_shared<search_api_state>();
  return [&sys, ctx, index_path = std::move(index_path), next = std::move(next),
          st](const web::http_request& req) -> web::http_response {
    if (req.path == "/api/v1/search") return handle_search(sys, ctx, index_path, *st, req);
    return next(req);
  };
}

}  // namespace pchat::app
