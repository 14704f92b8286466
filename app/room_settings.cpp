#include "app/room_settings.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "log/log.h"
#include "storage/database.h"
#include "text/utc_time.h"

namespace pchat::app {

void invite_new_members(const actors::server_context& ctx, const storage::room_record& room,
                        const std::vector<std::string>& before, const std::string& inviter) {
  if (room.invitations != storage::room_invitations::inherit || !ctx.identities) return;
  storage::category_record cat;
  if (auto s = ctx.store->directory().get_category(room.category_id, &cat); !s.is_ok()) {
    // The room change is stored; only its invitations are lost. Say so, not nothing.
    if (!s.is_not_found())
      PCHAT_LOG(error, "admin", "cannot read the room's category; no invitations sent",
                "room=" + room.id + " error=" + log::quote(s.to_string()) +
                    " action=" + log::quote("check the store, then add the members again"));
    return;
  }
  if (!cat.invitations) return;
  std::vector<std::string> added;
  for (auto& m : room.members)
    if (std::find(before.begin(), before.end(), m) == before.end()) added.push_back(m);
  if (added.empty()) return;
  auto ids = ctx.identities->current();  // one view for the whole invitation round
  std::vector<std::string> users = ids->expand(added);
  for (auto& a : added)  // a named user who has no directory entry yet is invited too
    if (a.rfind("sip:", 0) == 0 && std::find(users.begin(), users.end(), actors::identity_registry::lower(a)) == users.end())
      users.push_back(actors::identity_registry::lower(a));
  std::vector<storage::invitation_record> invites;
  const int64_t now = utc::now_micros();
  for (auto& u : users)  // only people who could accept: in the category's scope, chat on
    if (ids->in_scope(u, cat) && ids->chat_enabled(u))
      invites.push_back({0, u, room.id, inviter, now});
  if (invites.empty()) return;
  if (auto s = ctx.store->directory().put_invitations(&invites); !s.is_ok())
    PCHAT_LOG(error, "admin", "cannot store invitations", "room=" + room.id + " error=" + log::quote(s.to_string()));
}

web::http_response from_caf_error(caf::actor_system& sys, const caf::error& err) {
  actors::errc code;
  std::string reason;
  if (actors::decode_error(err, &code, &reason)) {
    switch (code) {
      case actors::errc::not_found: return error(404, reason);
      case actors::errc::bad_request: return error(409, reason);
      case actors::errc::forbidden: return error(403, reason);
      case actors::errc::storage_failure: return error(503, reason);
      case actors::errc::busy: return error(503, reason);
      default: return error(400, reason);
    }
  }
  return error(503, "server busy or shutting down: " + sys.render(err));
}

}  // namespace pchat::app
