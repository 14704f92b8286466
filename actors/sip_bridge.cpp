#include "actors/sip_bridge.h"

#include <caf/all.hpp>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/session_actor.h"
#include "log/log.h"
#include "pool/node_tag.h"
#include "protocol/sip/provisioning.h"

namespace pchat::actors {

sip_bridge::sip_bridge(caf::actor_system& sys, std::shared_ptr<const server_context> ctx)
    : sys_(sys), ctx_(std::move(ctx)), tag_(ctx_->tag) {}

std::string sip_bridge::provisioning_body(const std::string& user_uri) {
  // EnablePersistentChat as the user's effective policy says (user > site > global).
  auto ids = ctx_->identities ? ctx_->identities->current() : nullptr;
  bool enabled = ids && ids->chat_enabled(user_uri);
  // Default-deny, said once per sign-in (each command is then refused, unlogged): a user
  // only a front end or --auth=none vouches for, whom the directory does not know.
  if (ids && !ids->known_user(user_uri))
    PCHAT_LOG(warn, "sip", "sign-in of a user the directory does not know: chat refused",
              "user=" + log::quote(user_uri) +
                  " action=" + log::quote("add the user (pchatctl user new) if they should chat"));
  return sip::encode_provisioning(enabled, ctx_->chat_uri);
}

std::string sip_bridge::user_ha1(const std::string& username) {
  return ctx_->identities ? ctx_->identities->current()->ha1(username) : std::string();
}

void sip_bridge::on_dialog_open(const sip::dialog_info& d) {
  if (tag_ == 0) {
    sessions_[d.id] = spawn_session_actor(sys_, ctx_, d);
    return;
  }
  sip::dialog_info tagged = d;
  tagged.id = pool::tag_id(tag_, d.id);
  sessions_[d.id] = spawn_session_actor(sys_, ctx_, std::move(tagged));
}

void sip_bridge::on_info(sip::dialog_id d, sip::txn_id txn, std::string body) {
  if (tag_ != 0) txn = pool::tag_id(tag_, txn);
  auto it = sessions_.find(d);
  if (it == sessions_.end()) {
    ctx_->edge->respond(txn, 481);
    return;
  }
  caf::anon_send(it->second, info_atom::value, static_cast<uint64_t>(txn), std::move(body));
}

void sip_bridge::on_dialog_closed(sip::dialog_id d, const std::string& reason) {
  auto it = sessions_.find(d);
  if (it == sessions_.end()) return;
  caf::anon_send(it->second, closed_atom::value, reason);
  sessions_.erase(it);
}

}  // namespace pchat::actors
