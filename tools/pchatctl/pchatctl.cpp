// pchatctl: the administration CLI, modelled on the *-CsPersistentChat* cmdlets.
//
//   pchatctl [--server=127.0.0.1:8011] [--json] <noun> <verb> [--option=value | --option value]
//
//   status get                                          node status
//   category new --name N [--description D]            New-CsPersistentChatCategory
//   category get [--name N]                            Get-CsPersistentChatCategory
//   room new --name N --category C [--description D]   New-CsPersistentChatRoom (prints the URI)
//   room get [--name N | --identity ID-OR-URI]         Get-CsPersistentChatRoom
//   user new|set|get|remove, group new|set|get|remove    the user directory (Get-CsAdPrincipal)
//   policy new|set|get|remove|grant                     *-CsPersistentChatPolicy, Grant-...
//   principal eligible --list P1,P2                     Get-CsPersistentChatEligiblePrincipal
//   config get                                          Get-CsPersistentChatConfiguration
//   config set [--default-chat-history N] [--max-file-size-kb N]
//              [--participant-update-limit N] [--room-management-url U]
//                                                       Set-CsPersistentChatConfiguration
//   compliance get                                      Get-CsPersistentChatComplianceConfiguration
//   compliance set [--enabled true|false] [--adapter xml|csv] [--output-dir D]
//                  [--run-interval SECONDS] [--one-chat-room-per-output-file true|false]
//                  [--add-user-details true|false] [--add-chat-room-details true|false]
//                  [--create-file-attachments-manifest true|false]
//                                                       Set-CsPersistentChatComplianceConfiguration
//                                                       (applied at the node's next start)
//   compliance status                                   queue depth, last success, last error
//   compliance run                                      deliver staged events now
//   message remove --room R [--user U] [--before DATE] [--after DATE] [--contains WORDS]
//                  [--replace TEXT]                     Remove-CsPersistentChatMessage
//   search, export, import, test message               see history_commands.h
//
// Output is a readable table; --json prints the API's JSON. Exit status: 0 ok, 1 the
// server refused (its reason is printed), 2 bad usage, 3 cannot reach the server.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "tools/pchatctl/admin_http.h"
#include <string>
#include <vector>

#include "tools/pchatctl/history_commands.h"

using json = nlohmann::json;

namespace {

using pchat::ctl::http;
using pchat::ctl::http_result;
using pchat::ctl::url_encode;

void print_table(const json& rows, const std::vector<std::pair<std::string, std::string>>& cols) {
  std::vector<size_t> width;
  for (auto& [key, title] : cols) width.push_back(title.size());
  auto cell = [](const json& v) -> std::string {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
  };
  for (auto& row : rows)
    for (size_t i = 0; i < cols.size(); ++i)
      width[i] = std::max(width[i], cell(row.value(cols[i].first, json())).size());
  for (size_t i = 0; i < cols.size(); ++i)
    std::printf("%-*s%s", static_cast<int>(width[i]), cols[i].second.c_str(), i + 1 < cols.size() ? "  " : "\n");
  for (auto& row : rows)
    for (size_t i = 0; i < cols.size(); ++i)
      std::printf("%-*s%s", static_cast<int>(width[i]), cell(row.value(cols[i].first, json())).c_str(),
                  i + 1 < cols.size() ? "  " : "\n");
}

json split_list(const std::string& list) {
  json out = json::array();
  for (size_t pos = 0; pos <= list.size();) {
    size_t c = list.find(',', pos);
    std::string item = list.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
    if (!item.empty()) out.push_back(item);
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

// The room settings of New-/Set-CsPersistentChatRoom from command-line options.
json room_settings(std::map<std::string, std::string>& opts) {
  json b = json::object();
  for (const char* k : {"name", "category", "description", "topic", "privacy", "type", "invitations", "addin"})
    if (opts.count(k)) b[k] = opts[k];
  if (opts.count("disabled")) b["disabled"] = opts["disabled"] == "true";
  for (const char* list : {"members", "managers", "presenters"}) {
    std::string l = list;
    if (opts.count(l)) b[l] = split_list(opts[l]);
    if (opts.count("add-" + l)) b["add_" + l] = split_list(opts["add-" + l]);
    if (opts.count("remove-" + l)) b["remove_" + l] = split_list(opts["remove-" + l]);
  }
  return b;
}

int usage(const std::string& why) {
  std::cerr << "pchatctl: " << why << "\n"
            << "usage: pchatctl [--server=HOST:PORT] [--json] [--data-dir=D | --token-file=F | --token=T]\n"
               "                <noun> <verb> [options]\n"
               "  (the admin token is read from D/admin.token, default ./data/admin.token, or $PCHAT_ADMIN_TOKEN)\n"
               "  status get\n"
               "  category new --name N [--description D]\n"
               "  category get [--name N]\n"
               "  room new --name N --category C [--description D] [--privacy open|closed|secret]\n"
               "           [--type normal|auditorium] [--members P,..] [--managers P,..] [--presenters P,..]\n"
               "  room set --identity ID|NAME|URI [--privacy ..] [--type ..] [--disabled true|false]\n"
               "           [--add-members P,..] [--remove-members P,..] (also managers, presenters)\n"
               "  category new ... [--allowed-members P,..] [--denied-members P,..] [--chat-history false]\n"
               "  category set --identity ID|NAME [--add-allowed-members P,..] [--denied-members P,..] ...\n"
               "  category remove --identity ID|NAME | room remove --identity ID|NAME|URI\n"
               "  addin new|set --name N --url https://.. | addin get | addin remove --name N\n"
               "  file get --room ID|NAME|URI | file remove --room-id ID --id FILE-ID\n"
               "  room clear --identity ID|NAME|URI --before YYYY-MM-DD[THH:MM:SSZ]\n"
               "  room get [--name N | --identity ID-OR-URI]\n"
               "  user new|set --uri U [--password P] [--display-name N] [--site S] [--policy TAG] [--enabled true|false]\n"
               "  user get [--uri U] | user remove --uri U\n"
               "  group new|set --name N --members P1,P2 [--description D] | group get | group remove --name N\n"
               "  policy new|set --identity global|site:S|tag:T --enable-persistent-chat true|false\n"
               "  policy get | policy remove --identity I | policy grant --user U --policy TAG\n"
               "  principal eligible --list P1,P2\n"
               "  config new|set|get|remove [--identity global|site:NAME] (settings as for config set)\n"
               "  config get\n"
               "  config set [--default-chat-history N] [--max-file-size-kb N]\n"
               "             [--participant-update-limit N] [--room-management-url U]\n"
               "  compliance get | status | run\n"
               "  compliance set [--enabled true|false] [--adapter xml|csv] [--output-dir D]\n"
               "                 [--run-interval SECONDS] [--one-chat-room-per-output-file B]\n"
               "                 [--add-user-details B] [--add-chat-room-details B]\n"
               "                 [--create-file-attachments-manifest B]\n"
               "  message remove --room R [--user U] [--before DATE] [--after DATE]\n"
               "                 [--contains WORDS] [--replace TEXT]\n"
               "  search --query TEXT [--room R] [--author U] [--from DATE] [--to DATE] [--limit N]\n"
               "  export --file F [--category C] [--since DATE]\n"
               "  import --file F [--what-if]\n"
               "  test message [--room R]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:8011";
  std::string token, token_file, data_dir;
  bool as_json = false;
  std::vector<std::string> words;
  std::map<std::string, std::string> opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      std::string key = a.substr(2), value;
      auto eq = key.find('=');
      if (eq != std::string::npos) {
        value = key.substr(eq + 1);
        key = key.substr(0, eq);
      } else if (key != "json" && key != "help" && i + 1 < argc) {
        value = argv[++i];
      }
      if (key == "server") server = value;
      else if (key == "token") token = value;
      else if (key == "token-file") token_file = value;
      else if (key == "data-dir") data_dir = value;
      else if (key == "json") as_json = true;
      else if (key == "help") return usage("help");
      else opts[key] = value;
    } else {
      words.push_back(a);
    }
  }
  pchat::ctl::set_admin_token(pchat::ctl::find_admin_token(token, token_file, data_dir));
  if (!words.empty() && pchat::ctl::is_history_command(words[0]))
    return pchat::ctl::run_history_command(server, as_json, words, opts);
  if (words.size() != 2) return usage("expected <noun> <verb>");
  const std::string noun = words[0], verb = words[1];
  auto need = [&](const char* k) { return opts.count(k) && !opts[k].empty(); };

  http_result r;
  std::vector<std::pair<std::string, std::string>> cols;
  if (noun == "status" && verb == "get") {
    r = http(server, "GET", "/api/v1/status");
  } else if (noun == "category" && verb == "new") {
    if (!need("name")) return usage("category new needs --name");
    json b{{"name", opts["name"]}, {"description", opts["description"]}};
    for (auto [opt, key] : {std::pair{"allowed-members", "allowed_members"},
                            std::pair{"denied-members", "denied_members"},
                            std::pair{"creators", "creators"}})
      if (opts.count(opt)) b[key] = split_list(opts[opt]);
    for (auto [opt, key] : {std::pair{"file-upload", "file_upload"}, std::pair{"invitations", "invitations"},
                            std::pair{"chat-history", "chat_history"}})
      if (opts.count(opt)) b[key] = opts[opt] == "true";
    r = http(server, "POST", "/api/v1/categories", b.dump());
    cols = {{"name", "Name"}, {"uri", "Uri"}, {"description", "Description"}};
  } else if (noun == "category" && verb == "get") {
    r = http(server, "GET", "/api/v1/categories");
    cols = {{"name", "Name"}, {"uri", "Uri"}, {"description", "Description"}};
  } else if (noun == "room" && verb == "new") {
    if (!need("name") || !need("category")) return usage("room new needs --name and --category");
    json b = room_settings(opts);
    r = http(server, "POST", "/api/v1/rooms", b.dump());
  } else if (noun == "addin" && (verb == "new" || verb == "set")) {
    if (!need("name") || !need("url")) return usage("addin " + verb + " needs --name and --url");
    json b{{"name", opts["name"]}, {"url", opts["url"]}};
    r = http(server, "POST", "/api/v1/addins", b.dump());
  } else if (noun == "addin" && verb == "get") {
    r = http(server, "GET", "/api/v1/addins");
    cols = {{"name", "Name"}, {"url", "Url"}};
  } else if (noun == "addin" && verb == "remove") {
    if (!need("name")) return usage("addin remove needs --name");
    r = http(server, "DELETE", "/api/v1/addins/" + url_encode(opts["name"]));
  } else if (noun == "file" && verb == "get") {
    if (!need("room")) return usage("file get needs --room ID|NAME|URI");
    r = http(server, "GET", "/api/v1/files?room=" + url_encode(opts["room"]));
    cols = {{"id", "Id"}, {"name", "Name"}, {"size", "Size"}, {"uploader", "Uploader"}, {"ts", "Uploaded"}};
  } else if (noun == "file" && verb == "remove") {
    if (!need("room-id") || !need("id")) return usage("file remove needs --room-id ID and --id FILE-ID");
    r = http(server, "DELETE", "/api/v1/files/" + url_encode(opts["room-id"]) + "/" + url_encode(opts["id"]));
  } else if (noun == "room" && verb == "clear") {
    if (!need("identity") || !need("before"))
      return usage("room clear needs --identity ID|NAME|URI and --before YYYY-MM-DD[THH:MM:SSZ]");
    json b{{"before", opts["before"]}};
    r = http(server, "POST", "/api/v1/rooms/" + url_encode(opts["identity"]) + "/clear", b.dump());
  } else if (noun == "room" && verb == "remove") {
    if (!need("identity")) return usage("room remove needs --identity ID|NAME|URI");
    r = http(server, "DELETE", "/api/v1/rooms/" + url_encode(opts["identity"]));
  } else if (noun == "category" && (verb == "set" || verb == "remove")) {
    if (!need("identity")) return usage("category " + verb + " needs --identity ID|NAME");
    if (verb == "remove") {
      r = http(server, "DELETE", "/api/v1/categories/" + url_encode(opts["identity"]));
    } else {
      json b = json::object();
      for (const char* k : {"name", "description"})
        if (opts.count(k)) b[k] = opts[k];
      for (std::string l : {"allowed-members", "denied-members", "creators"}) {
        std::string key = l;
        for (auto& ch : key)
          if (ch == '-') ch = '_';
        if (opts.count(l)) b[key] = split_list(opts[l]);
        if (opts.count("add-" + l)) b["add_" + key] = split_list(opts["add-" + l]);
        if (opts.count("remove-" + l)) b["remove_" + key] = split_list(opts["remove-" + l]);
      }
      for (std::string f : {"file-upload", "invitations", "chat-history"}) {
        std::string key = f;
        for (auto& ch : key)
          if (ch == '-') ch = '_';
        if (opts.count(f)) b[key] = opts[f] == "true";
      }
      if (b.empty()) return usage("category set needs at least one setting");
      r = http(server, "PATCH", "/api/v1/categories/" + url_encode(opts["identity"]), b.dump());
      cols = {{"name", "Name"}, {"uri", "Uri"}, {"description", "Description"}};
    }
  } else if (noun == "room" && verb == "set") {
    if (!need("identity")) return usage("room set needs --identity ID|NAME|URI");
    json b = room_settings(opts);
    if (b.empty()) return usage("room set needs at least one setting");
    r = http(server, "PATCH", "/api/v1/rooms/" + url_encode(opts["identity"]), b.dump());
  } else if (noun == "room" && verb == "get") {
    if (need("identity")) r = http(server, "GET", "/api/v1/rooms/" + url_encode(opts["identity"]));
    else r = http(server, "GET", "/api/v1/rooms" + (need("name") ? "?name=" + url_encode(opts["name"]) : std::string()));
    cols = {{"name", "Name"}, {"uri", "Uri"}, {"users", "Users"}, {"private", "Private"},
            {"description", "Description"}};
  } else if (noun == "config" && verb == "get") {
    r = http(server, "GET", "/api/v1/config?identity=" + url_encode(opts.count("identity") ? opts["identity"] : "global"));
  } else if (noun == "config" && verb == "remove") {
    if (!need("identity")) return usage("config remove needs --identity site:NAME");
    r = http(server, "DELETE", "/api/v1/config?identity=" + url_encode(opts["identity"]));
  } else if (noun == "config" && (verb == "set" || verb == "new")) {
    json b = json::object();
    for (auto& [opt, key] : std::vector<std::pair<std::string, std::string>>{
             {"default-chat-history", "default_chat_history"},
             {"max-file-size-kb", "max_file_size_kb"},
             {"participant-update-limit", "participant_update_limit"}}) {
      if (!opts.count(opt)) continue;
      char* end = nullptr;
      long v = std::strtol(opts[opt].c_str(), &end, 10);
      if (opts[opt].empty() || *end != '\0') return usage("--" + opt + " needs a whole number");
      b[key] = v;
    }
    if (opts.count("room-management-url")) b["room_management_url"] = opts["room-management-url"];
    if (b.empty() && verb == "set") return usage("config set needs at least one setting");
    std::string identity = opts.count("identity") ? opts["identity"] : "global";
    r = http(server, verb == "new" ? "POST" : "PUT", "/api/v1/config?identity=" + url_encode(identity), b.dump());
  } else if (noun == "compliance" && verb == "get") {
    r = http(server, "GET", "/api/v1/compliance/config");
  } else if (noun == "compliance" && verb == "status") {
    r = http(server, "GET", "/api/v1/compliance/status");
  } else if (noun == "compliance" && verb == "run") {
    r = http(server, "POST", "/api/v1/compliance/run");
  } else if (noun == "compliance" && verb == "set") {
    json b = json::object();
    for (auto& [opt, key] : std::vector<std::pair<std::string, std::string>>{
             {"enabled", "enabled"},
             {"one-chat-room-per-output-file", "one_chat_room_per_output_file"},
             {"add-user-details", "add_user_details"},
             {"add-chat-room-details", "add_chat_room_details"},
             {"create-file-attachments-manifest", "create_file_attachments_manifest"}}) {
      if (!opts.count(opt)) continue;
      if (opts[opt] != "true" && opts[opt] != "false") return usage("--" + opt + " needs true or false");
      b[key] = opts[opt] == "true";
    }
    if (opts.count("adapter")) b["adapter_type"] = opts["adapter"];
    if (opts.count("output-dir")) b["output_directory"] = opts["output-dir"];
    if (opts.count("run-interval")) {
      char* end = nullptr;
      long v = std::strtol(opts["run-interval"].c_str(), &end, 10);
      if (opts["run-interval"].empty() || *end != '\0') return usage("--run-interval needs whole seconds");
      b["run_interval_seconds"] = v;
    }
    if (b.empty()) return usage("compliance set needs at least one setting");
    r = http(server, "PUT", "/api/v1/compliance/config", b.dump());
  } else if (noun == "message" && verb == "remove") {
    if (!need("room")) return usage("message remove needs --room");
    json b{{"room", opts["room"]}};
    for (auto& [opt, key] : std::vector<std::pair<std::string, std::string>>{
             {"user", "user"}, {"before", "before"}, {"after", "after"},
             {"contains", "contains"}, {"replace", "replacement"}})
      if (opts.count(opt)) b[key] = opts[opt];
    r = http(server, "POST", "/api/v1/messages/replace", b.dump());
  } else if (noun == "user" && (verb == "new" || verb == "set")) {
    if (!need("uri")) return usage("user " + verb + " needs --uri sip:user@domain");
    json b{{"uri", opts["uri"]}};
    if (opts.count("password")) b["password"] = opts["password"];
    if (opts.count("display-name")) b["display_name"] = opts["display-name"];
    if (opts.count("site")) b["site"] = opts["site"];
    if (opts.count("policy")) b["policy"] = opts["policy"];
    if (opts.count("enabled")) b["enabled"] = opts["enabled"] != "false";
    r = http(server, "POST", "/api/v1/users", b.dump());
    cols = {{"uri", "Uri"}, {"display_name", "DisplayName"}, {"enabled", "Enabled"},
            {"policy", "Policy"}, {"has_password", "HasPassword"}};
  } else if (noun == "user" && verb == "get") {
    r = need("uri") ? http(server, "GET", "/api/v1/users/" + url_encode(opts["uri"]))
                    : http(server, "GET", "/api/v1/users");
    cols = {{"uri", "Uri"}, {"display_name", "DisplayName"}, {"enabled", "Enabled"},
            {"policy", "Policy"}, {"has_password", "HasPassword"}};
  } else if (noun == "user" && verb == "remove") {
    if (!need("uri")) return usage("user remove needs --uri");
    r = http(server, "DELETE", "/api/v1/users/" + url_encode(opts["uri"]));
  } else if (noun == "group" && (verb == "new" || verb == "set")) {
    if (!need("name")) return usage("group " + verb + " needs --name");
    json members = json::array();
    std::string list = opts["members"];
    for (size_t pos = 0; pos <= list.size();) {
      size_t c = list.find(',', pos);
      std::string item = list.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
      if (!item.empty()) members.push_back(item);
      if (c == std::string::npos) break;
      pos = c + 1;
    }
    json b{{"name", opts["name"]}, {"description", opts["description"]}, {"members", members}};
    r = http(server, "POST", "/api/v1/groups", b.dump());
    cols = {{"name", "Name"}, {"members", "Members"}};
  } else if (noun == "group" && verb == "get") {
    r = http(server, "GET", "/api/v1/groups");
    cols = {{"name", "Name"}, {"description", "Description"}, {"members", "Members"}};
  } else if (noun == "group" && verb == "remove") {
    if (!need("name")) return usage("group remove needs --name");
    r = http(server, "DELETE", "/api/v1/groups/" + url_encode(opts["name"]));
  } else if (noun == "policy" && (verb == "new" || verb == "set")) {
    if (!need("identity") || !opts.count("enable-persistent-chat"))
      return usage("policy " + verb + " needs --identity global|site:NAME|tag:NAME and --enable-persistent-chat true|false");
    json b{{"enable_persistent_chat", opts["enable-persistent-chat"] == "true"}, {"description", opts["description"]}};
    r = http(server, "PUT", "/api/v1/policies/" + url_encode(opts["identity"]), b.dump());
  } else if (noun == "policy" && verb == "get") {
    r = http(server, "GET", "/api/v1/policies");
    cols = {{"identity", "Identity"}, {"enable_persistent_chat", "EnablePersistentChat"},
            {"description", "Description"}};
  } else if (noun == "policy" && verb == "remove") {
    if (!need("identity")) return usage("policy remove needs --identity");
    r = http(server, "DELETE", "/api/v1/policies/" + url_encode(opts["identity"]));
  } else if (noun == "policy" && verb == "grant") {
    if (!need("user") || !opts.count("policy")) return usage("policy grant needs --user and --policy TAG (\"\" unassigns)");
    json b{{"user", opts["user"]}, {"policy", opts["policy"]}};
    r = http(server, "POST", "/api/v1/policies/grant", b.dump());
  } else if (noun == "principal" && verb == "eligible") {
    if (!need("list")) return usage("principal eligible needs --list P1,P2,...");
    r = http(server, "GET", "/api/v1/principals/eligible?list=" + url_encode(opts["list"]));
  } else {
    return usage("unknown command '" + noun + " " + verb + "'");
  }
  if (!r.error.empty()) {
    std::cerr << "pchatctl: " << r.error << "\n";
    return 3;
  }
  json j = json::parse(r.body, nullptr, false);
  if (r.status >= 400) {
    std::cerr << "pchatctl: server refused (" << r.status << "): "
              << (j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r.body) << "\n";
    return 1;
  }
  if (as_json) {
    std::cout << r.body;
    return 0;
  }
  if (noun == "room" && verb == "new") {
    std::cout << j.value("uri", "") << "\n";  // scripts capture the room URI
    return 0;
  }
  if (j.is_array() && cols.empty()) {  // a plain list (e.g. eligible principals): one per line
    for (auto& v : j) std::cout << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  } else if (j.is_array()) {
    print_table(j, cols);
  } else if (!cols.empty()) {
    print_table(json::array({j}), cols);
  } else {
    for (auto& [k, v] : j.items()) std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  }
  return 0;
}
