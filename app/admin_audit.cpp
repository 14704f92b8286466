#include "app/admin_audit.h"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/room_json.h"
#include "text/admin_name.h"
#include "text/utc_time.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;

// A room's settings but its principal lists (those are ADMINMEMBERS events), as the admin
// API shows them.
json settings_of(const storage::room_record& r) {
  json j = room_json(r, "");
  for (const char* k : {"members", "managers", "presenters", "uri"}) j.erase(k);
  return j;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void add_membership(std::vector<storage::compliance_record>* out,
                    const storage::compliance_record& base, const char* role,
                    const std::vector<storage::principal>& before,
                    const std::vector<storage::principal>& after) {
  auto has = [](const std::vector<storage::principal>& v, const std::string& p) {
    return std::find(v.begin(), v.end(), p) != v.end();
  };
  for (const auto& p : after)
    if (!has(before, p)) {
      auto e = base;
      e.kind = storage::compliance_kind::admin_membership;
      e.target = p;
      e.text = std::string(role) + " added";
      out->push_back(std::move(e));
    }
  for (const auto& p : before)
    if (!has(after, p)) {
      auto e = base;
      e.kind = storage::compliance_kind::admin_membership;
      e.target = p;
      e.text = std::string(role) + " removed";
      out->push_back(std::move(e));
    }
}

}  // namespace

std::optional<std::string> admin_of(const web::http_request& req, std::string* why) {
  auto it = req.headers.find("x-pchat-admin");
  if (it == req.headers.end()) return std::string("admin:unnamed");
  if (!text::valid_admin_name(it->second)) {
    *why = "X-PChat-Admin must be 1..64 of A-Z a-z 0-9 . _ @ + - (pchatctl --admin-name)";
    return std::nullopt;
  }
  return "admin:" + it->second;
}

pchat::status record_admin_events(caf::actor_system& sys, const actors::server_context& ctx,
                                  std::vector<storage::compliance_record> events) {
  if (!ctx.live->current()->compliance.enabled || events.empty()) return pchat::status::ok();
  const int64_t now = utc::now_micros();
  caf::scoped_actor self{sys};
  // All requests first, then the answers: the commit actor syncs them in one group commit.
  using handle = decltype(self->request(ctx.commit, ctx.commit_timeout, actors::capture_atom::value,
                                        events.front(), caf::ok_atom::value));
  std::vector<handle> pending;
  pending.reserve(events.size());
  for (auto& e : events) {
    if (e.ts_micros == 0) e.ts_micros = now;
    pending.push_back(self->request(ctx.commit, ctx.commit_timeout, actors::capture_atom::value, e,
                                    caf::ok_atom::value));
  }
  pchat::status result = pchat::status::ok();
  for (auto& h : pending)
    h.receive(
        [](uint64_t) {},
        [&](caf::error& err) {
          if (result.is_ok())
            result = pchat::status::io_error(
                "the compliance record of this action was not stored (" + sys.render(err) + ")");
        });
  return result;
}

std::vector<storage::compliance_record> room_change_events(const std::string& admin,
                                                           const storage::room_record* before,
                                                           const storage::room_record* after) {
  std::vector<storage::compliance_record> out;
  const storage::room_record& now = after ? *after : *before;
  storage::compliance_record base;
  base.kind = storage::compliance_kind::admin_room;
  base.room_id = now.id;
  base.room_name = now.name;
  base.user_uri = admin;
  if (!before) {
    auto e = base;
    e.text = "created: " + dump(settings_of(*after));
    out.push_back(std::move(e));
  } else if (!after) {
    auto e = base;
    e.text = "removed";
    json all = settings_of(*before);
    all["members"] = before->members;
    all["managers"] = before->managers;
    all["presenters"] = before->presenters;
    e.previous = dump(all);
    out.push_back(std::move(e));
    return out;
  } else {
    json was = settings_of(*before), is = settings_of(*after), changed = json::object(),
         old = json::object();
    for (auto& [k, v] : is.items())
      if (!was.contains(k) || was[k] != v) {
        changed[k] = v;
        old[k] = was.contains(k) ? was[k] : json();
      }
    if (!changed.empty()) {
      auto e = base;
      e.text = "changed: " + dump(changed);
      e.previous = dump(old);
      out.push_back(std::move(e));
    }
  }
  static const std::vector<storage::principal> none;
  add_membership(&out, base, "member", before ? before->members : none, after->members);
  add_membership(&out, base, "manager", before ? before->managers : none, after->managers);
  add_membership(&out, base, "presenter", before ? before->presenters : none, after->presenters);
  return out;
}

}  // namespace pchat::app
