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

// config get/set/new and compliance get/set: the lines about the answer (identity,
// in_force, applies, ...) as `key: value`, then one row per setting with its value and
// where it comes from (docs/ADMIN.md "Effective configuration"). --json: verbatim.
int show_settings(const http_result& r, const ctl_context& c) {
  if (c.json) return show(r, c);
  if (int rc = check(r); rc != kExitOk) return rc;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("settings") || !j["settings"].is_array()) return show(r, c);
  json about = json::object();
  for (auto& [k, v] : j.items()) {
    bool setting = k == "settings" || k == "stored";
    for (auto& row : j["settings"])
      if (row.value("name", "") == k) setting = true;
    if (!setting) about[k] = v;
  }
  print_kv(about);
  print_table(j["settings"], {{"name", "SETTING"}, {"value", "VALUE"}, {"source", "SOURCE"}});
  return kExitOk;
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
    leaf& l = add_leaf(config, "get", "the options in force on this node and their sources, or those stored at --identity",
                       ctx, [](leaf& l, const ctl_context& c) {
                         std::string path = l.has("identity") ? identity_query(l) : "/api/v1/config";
                         return show_settings(http(c.server, "GET", path), c);
                       });
    l.add_text("identity", "global or site:NAME (default: what is in force on this node)")->check(not_empty());
  }
  {
    leaf& l = add_leaf(config, "new", "create a site's options", ctx, [](leaf& l, const ctl_context& c) {
      return show_settings(http(c.server, "POST", identity_query(l), config_body(l).dump()), c);
    });
    l.add_text("identity", "site:NAME", true);
    config_settings(l);
  }
  {
    leaf& l = add_leaf(config, "set", "change options (applied at once where they are in force)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b = config_body(l);
                         if (b.empty()) {
                           std::cerr << "pchatctl: config set needs at least one setting (see pchatctl config set --help)\n";
                           return kExitUsage;
                         }
                         return show_settings(http(c.server, "PUT", identity_query(l), b.dump()), c);
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
  add_leaf(compliance, "get", "compliance settings in force and their sources (--json: also what is stored)", ctx,
           [](leaf&, const ctl_context& c) {
             return show_settings(http(c.server, "GET", "/api/v1/compliance/config"), c);
           });
  add_leaf(compliance, "status", "queue depth, deliveries, last success and error", ctx,
           [](leaf&, const ctl_context& c) { return show(http(c.server, "GET", "/api/v1/compliance/status"), c); });
  add_leaf(compliance, "run", "deliver staged events now", ctx,
           [](leaf&, const ctl_context& c) { return show(http(c.server, "POST", "/api/v1/compliance/run"), c); });
  {
    leaf& l = add_leaf(compliance, "set", "change compliance settings (applied at once)", ctx,
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
                         return show_settings(http(c.server, "PUT", "/api/v1/compliance/config", b.dump()), c);
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
