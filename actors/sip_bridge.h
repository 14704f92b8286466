// sip_bridge: the SIP edge's event sink. Runs on the SIP thread: each event becomes one
// actor message (or a spawn) and the callback returns at once.
// The dialog -> session map is touched only on the SIP thread. In a pool, the ids the
// sessions (and rooms) see carry this node's tag (pool/node_tag.h, actors/pool_edge.h).
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <unordered_map>

#include "protocol/sip/sip_endpoint.h"

namespace pchat::actors {

struct server_context;

class sip_bridge final : public sip::endpoint_events {
 public:
  // REQUIRES: sys and ctx outlive the endpoint this bridge is attached to.
  sip_bridge(caf::actor_system& sys, std::shared_ptr<const server_context> ctx);

  std::string provisioning_body(const std::string& user_uri) override;
  void on_dialog_open(const sip::dialog_info& d) override;
  void on_info(sip::dialog_id d, sip::txn_id txn, std::string body) override;
  void on_dialog_closed(sip::dialog_id d, const std::string& reason) override;
  std::string user_ha1(const std::string& username) override;

 private:
  caf::actor_system& sys_;
  std::shared_ptr<const server_context> ctx_;
  // This node's tag (pool/node_tag.h), put on the dialog and txn ids handed to sessions;
  // 0 standalone (ids unchanged).
  const uint16_t tag_;
  std::unordered_map<sip::dialog_id, caf::actor> sessions_;
};

}  // namespace pchat::actors
