#include "tools/pchatctl/pool_commands.h"

#include <iostream>

#include "tools/pchatctl/output.h"

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

// `pool status` without --json: a line on this node, the nodes, the claimed rooms.
int show_status(const http_result& r, const ctl_context& c) {
  if (c.json) return show(r, c);
  if (int rc = check(r); rc != kExitOk) return rc;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("mode")) {
    std::cerr << "pchatctl: the server's answer is not a pool status\n";
    return kExitUnreachable;
  }
  if (j["mode"] == "standalone") {
    std::cout << "standalone node (not in a pool)\n";
    return kExitOk;
  }
  std::cout << "pool " << j.value("pool", "") << ", this node " << j.value("self", "") << " ("
            << (j.value("serving", false) ? "serving" : "NOT serving: no fresh etcd lease") << ")\n";
  json rows = json::array();
  for (auto& n : j.value("nodes", json::array())) {
    json row = n;
    row["address"] = n.value("host", "") + ":" + std::to_string(n.value("pool_port", 0));
    row["state"] = n.value("live", false)           ? (n.value("draining", false) ? "draining" : "live")
                   : !n.value("registered", false) ? "gone"
                                                   : "not linked";
    row["self"] = n.value("self", false) ? "*" : "";
    rows.push_back(std::move(row));
  }
  print_table(rows, {{"self", ""},
                     {"name", "NAME"},
                     {"state", "STATE"},
                     {"tag", "TAG"},
                     {"address", "POOL ADDRESS"},
                     {"sip_port", "SIP"},
                     {"http_port", "HTTP"},
                     {"rooms_owned", "ROOMS"}});
  if (j.contains("claims_error")) std::cout << "room owners unknown: " << j.value("claims_error", "") << "\n";
  if (!j.contains("claims")) {
    auto rooms = j.value("rooms", json::array());
    std::cout << "rooms owned by this node: " << rooms.size() << "\n";
    if (!rooms.empty()) print_table(rooms, {{"room_id", "ROOM"}, {"epoch", "EPOCH"}});
    return kExitOk;
  }
  auto claims = j.value("claims", json::array());
  std::cout << "rooms claimed in the pool: " << claims.size()
            << (j.value("claims_truncated", false) ? " (truncated: more exist)" : "") << "\n";
  if (!claims.empty()) print_table(claims, {{"room_id", "ROOM"}, {"owner", "OWNER"}, {"epoch", "EPOCH"}});
  return kExitOk;
}

}  // namespace

void add_pool_commands(CLI::App& app, ctl_context& ctx) {
  CLI::App* pool = add_noun(app, "pool", "the pool of nodes (docs/POOL.md)");
  add_leaf(pool, "status", "nodes of the pool as this node sees them, how many rooms each owns, every room's owner and epoch", ctx,
           [](leaf&, const ctl_context& c) { return show_status(http(c.server, "GET", "/api/v1/pool"), c); });
  for (bool on : {true, false}) {
    leaf& l = add_leaf(pool, on ? "drain" : "undrain",
                       on ? "hand a node's rooms to the other nodes (before a planned stop); it keeps its clients"
                          : "let a drained node own and follow rooms again",
                       ctx, [on](leaf& l, const ctl_context& c) {
                         json body{{"node", l.text("node")}};
                         return show(http(c.server, "POST", on ? "/api/v1/pool/drain" : "/api/v1/pool/undrain", body.dump()), c);
                       });
    l.add_text("node", "the node's name (--node-name), any live node of the pool", true)->check(not_empty());
  }
}

}  // namespace pchat::ctl
