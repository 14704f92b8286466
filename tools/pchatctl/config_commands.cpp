#include "tools/pchatctl/config_commands.h"

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/output.h"

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

// Whole numbers here; their ranges are the server's (storage validates them and names the
// setting when it refuses).
void config_settings(leaf& l) {
  l.add_number("default-chat-history", "DefaultChatHistory: messages of back-chat on join (0..500)", 0, 2147483647L);
  l.add_number("max-file-size-kb", "MaxFileSizeKB: largest upload", 0, 2147483647L);
  l.add_number("participant-update-limit", "ParticipantUpdateLimit: above it, no member lists", 0, 2147483647L);
  l.add_text("room-management-url", "RoomManagementUrl shown to clients");
}

json config_body(leaf& l) {
  json b = json::object();
  for (auto [opt, key] : {std::pair{"default-chat-history", "default_chat_history"},
                          std::pair{"max-file-size-kb", "max_file_size_kb"},
                          std::pair{"participant-update-limit", "participant_update_limit"}})
    if (l.has(opt)) b[key] = std::strtol(l.text(opt).c_str(), nullptr, 10);
  if (l.has("room-management-url")) b["room_management_url"] = l.text("room-management-url");
  return b;
}

std::string identity_query(leaf& l) {
  return "/api/v1/config?identity=" + url_encode(l.has("identity") ? l.text("identity") : "global");
}

}  // namespace

void add_config_commands(CLI::App& app, ctl_context& ctx) {
  CLI::App* status = add_noun(app, "status", "this node");
  add_leaf(status, "get", "node status and counters", ctx,
           [](leaf&, const ctl_context& c) { return show(http(c.server, "GET", "/api/v1/status"), c); });

  CLI::App* config = add_noun(app, "config", "server options (*-CsPersistentChatConfiguration)");
  {
    leaf& l = add_leaf(config, "get", "the options stored at an identity", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "GET", identity_query(l)), c);
    });
    l.add_text("identity", "global (default) or site:NAME")->check(not_empty());
  }
  {
    leaf& l = add_leaf(config, "new", "create a site's options", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "POST", identity_query(l), config_body(l).dump()), c);
    });
    l.add_text("identity", "site:NAME", true);
    config_settings(l);
  }
  {
    leaf& l = add_leaf(config, "set", "change options (applied at the node's next start)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b = config_body(l);
                         if (b.empty()) {
                           std::cerr << "pchatctl: config set needs at least one setting (see pchatctl config set --help)\n";
                           return kExitUsage;
                         }
                         return show(http(c.server, "PUT", identity_query(l), b.dump()), c);
                       });
    l.add_text("identity", "global (default) or site:NAME")->check(not_empty());
    config_settings(l);
  }
  {
    leaf& l = add_leaf(config, "remove", "remove a site's options", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "DELETE", identity_query(l)), c);
    });
    l.add_text("identity", "site:NAME", true);
  }

  CLI::App* compliance = add_noun(app, "compliance", "compliance (*-CsPersistentChatComplianceConfiguration)");
  add_leaf(compliance, "get", "stored compliance settings", ctx,
           [](leaf&, const ctl_context& c) { return show(http(c.server, "GET", "/api/v1/compliance/config"), c); });
  add_leaf(compliance, "status", "queue depth, deliveries, last success and error", ctx,
           [](leaf&, const ctl_context& c) { return show(http(c.server, "GET", "/api/v1/compliance/status"), c); });
  add_leaf(compliance, "run", "deliver staged events now", ctx,
           [](leaf&, const ctl_context& c) { return show(http(c.server, "POST", "/api/v1/compliance/run"), c); });
  {
    leaf& l = add_leaf(compliance, "set", "change compliance settings (applied at the node's next start)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b = json::object();
                         for (const char* flag : {"enabled", "one-chat-room-per-output-file", "add-user-details",
                                                  "add-chat-room-details", "create-file-attachments-manifest"}) {
                           std::string key = flag;
                           for (auto& ch : key)
                             if (ch == '-') ch = '_';
                           if (l.has(flag)) b[key] = l.text(flag) == "true";
                         }
                         if (l.has("adapter")) b["adapter_type"] = l.text("adapter");
                         if (l.has("output-dir")) b["output_directory"] = l.text("output-dir");
                         if (l.has("run-interval"))
                           b["run_interval_seconds"] = std::strtol(l.text("run-interval").c_str(), nullptr, 10);
                         if (b.empty()) {
                           std::cerr << "pchatctl: compliance set needs at least one setting "
                                        "(see pchatctl compliance set --help)\n";
                           return kExitUsage;
                         }
                         return show(http(c.server, "PUT", "/api/v1/compliance/config", b.dump()), c);
                       });
    l.add_bool("enabled", "compliance on or off");
    l.add_text("adapter", "AdapterType: xml or csv (checked by the server)")->type_name("xml|csv");
    l.add_text("output-dir", "AdapterOutputDirectory (written by the server)");
    // The range is the server's (RunInterval 60 s .. 30 days): it names it when refused.
    l.add_number("run-interval", "RunInterval, seconds (60..2592000)", 0, 2147483647L);
    l.add_bool("one-chat-room-per-output-file", "OneChatRoomPerOutputFile");
    l.add_bool("add-user-details", "AddUserDetails");
    l.add_bool("add-chat-room-details", "AddChatRoomDetails");
    l.add_bool("create-file-attachments-manifest", "CreateFileAttachmentsManifest");
  }
}

}  // namespace pchat::ctl
