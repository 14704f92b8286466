#include "tools/pchatctl/directory_commands.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/output.h"

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

const std::vector<column> kCategoryColumns = {
    {"name", "Name"},           {"uri", "Uri"},          {"allowed_members", "AllowedMembers"},
    {"denied_members", "DeniedMembers"}, {"creators", "Creators"}, {"file_upload", "FileUpload"},
    {"invitations", "Invitations"}, {"chat_history", "ChatHistory"}, {"description", "Description"}};
const std::vector<column> kRoomColumns = {
    {"name", "Name"},       {"uri", "Uri"},           {"category", "Category"},     {"privacy", "Privacy"},
    {"type", "Type"},       {"disabled", "Disabled"}, {"invitations", "Invitations"}, {"users", "Users"},
    {"members", "Members"}, {"managers", "Managers"}, {"presenters", "Presenters"}, {"addin", "Addin"},
    {"topic", "Topic"},     {"description", "Description"}};

std::string json_key(std::string option) {
  for (auto& c : option)
    if (c == '-') c = '_';
  return option;
}

// The category settings shared by `category new` and `category set`.
void category_options(leaf& l, bool edits) {
  l.add_text("description", "Description");
  for (const char* list : {"allowed-members", "denied-members", "creators"}) {
    std::string name = list;
    l.add_list(name, "principals: sip:USER, group:NAME, domain:DOMAIN (replaces the list)");
    if (edits) {
      l.add_list("add-" + name, "principals added to " + name);
      l.add_list("remove-" + name, "principals removed from " + name);
    }
  }
  l.add_bool("file-upload", "FileUpload: users may upload files");
  l.add_bool("invitations", "Invitations: rooms may send invitations");
  l.add_bool("chat-history", "ChatHistory: messages are stored (false: relayed only)");
}

json category_body(leaf& l) {
  json b = json::object();
  if (l.has("name")) b["name"] = l.text("name");
  if (l.has("description")) b["description"] = l.text("description");
  for (std::string list : {"allowed-members", "denied-members", "creators"})
    for (std::string prefix : {"", "add-", "remove-"})
      if (l.has(prefix + list)) b[json_key(prefix + list)] = l.list(prefix + list);
  for (const char* flag : {"file-upload", "invitations", "chat-history"})
    if (l.has(flag)) b[json_key(flag)] = l.text(flag) == "true";
  return b;
}

// The room settings shared by `room new` and `room set`.
void room_options(leaf& l, bool edits) {
  l.add_text("description", "Description");
  l.add_text("topic", "Topic");
  l.add_text("privacy", "open, closed (the default for a new room) or secret")
      ->check(CLI::IsMember({"open", "closed", "secret"}))
      ->type_name("open|closed|secret");
  l.add_text("type", "normal or auditorium (only presenters post)")
      ->check(CLI::IsMember({"normal", "auditorium"}))
      ->type_name("normal|auditorium");
  l.add_text("invitations", "inherit (the category's) or false")
      ->check(CLI::IsMember({"inherit", "false"}))
      ->type_name("inherit|false");
  l.add_text("addin", "name of a registered add-in (\"\" for none)");
  l.add_bool("disabled", "a disabled room cannot be joined; its people are removed");
  for (const char* list : {"members", "managers", "presenters"}) {
    std::string name = list;
    l.add_list(name, name + ": sip:USER, group:NAME, domain:DOMAIN (replaces the list)");
    if (edits) {
      l.add_list("add-" + name, "principals added to " + name);
      l.add_list("remove-" + name, "principals removed from " + name);
    }
  }
}

json room_body(leaf& l) {
  json b = json::object();
  for (const char* k : {"name", "description", "topic", "privacy", "type", "invitations", "addin"})
    if (l.has(k)) b[k] = l.text(k);
  if (l.has("category")) b["category"] = category_key(l.text("category"));
  if (l.has("disabled")) b["disabled"] = l.text("disabled") == "true";
  for (std::string list : {"members", "managers", "presenters"})
    for (std::string prefix : {"", "add-", "remove-"})
      if (l.has(prefix + list)) b[json_key(prefix + list)] = l.list(prefix + list);
  return b;
}

// `NOUN get`: one object by --identity (GET COLLECTION/KEY), else the list, filtered by
// --name on the server; both print the same columns.
void add_get(CLI::App* noun, ctl_context& ctx, const std::string& help, const std::string& collection,
             const std::vector<column>& cols, const std::string& identity_help, const std::string& name_help) {
  leaf& l = add_leaf(noun, "get", help, ctx, [collection, cols](leaf& l, const ctl_context& c) {
    if (l.has("identity")) return show(http(c.server, "GET", collection + "/" + url_encode(l.text("identity"))), c, cols);
    std::string q = l.has("name") ? "?name=" + url_encode(l.text("name")) : "";
    return show(http(c.server, "GET", collection + q), c, cols);
  });
  l.add_text("identity", identity_help)->check(not_empty());
  l.add_text("name", name_help)->excludes("--identity");
}

int usage(const leaf& l, const std::string& why) {
  std::cerr << "pchatctl: " << why << " (see pchatctl " << l.cmd()->get_parent()->get_name() << " "
            << l.cmd()->get_name() << " --help)\n";
  return kExitUsage;
}

}  // namespace

void add_directory_commands(CLI::App& app, ctl_context& ctx) {
  // ---- category
  CLI::App* category = add_noun(app, "category", "room categories (*-CsPersistentChatCategory)");
  {
    leaf& l = add_leaf(category, "new", "create a category", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "POST", "/api/v1/categories", category_body(l).dump()), c, kCategoryColumns);
    });
    l.add_text("name", "Name (unique)", true);
    category_options(l, false);
  }
  add_get(category, ctx, "show categories: every field", "/api/v1/categories", kCategoryColumns,
          "one category by id, name or ma-cat:// URI (--json: an object)",
          "only the category with this name (case-insensitive; --json: a list)");
  {
    leaf& l = add_leaf(category, "set", "change a category", ctx, [](leaf& l, const ctl_context& c) {
      json b = category_body(l);
      if (b.empty()) return usage(l, "category set needs at least one setting besides --identity");
      return show(http(c.server, "PATCH", "/api/v1/categories/" + url_encode(l.text("identity")), b.dump()), c,
                  kCategoryColumns);
    });
    l.add_text("identity", "the category: id, name or ma-cat:// URI", true);
    l.add_text("name", "new Name");
    category_options(l, true);
  }
  {
    leaf& l = add_leaf(category, "remove", "remove an empty category", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "DELETE", "/api/v1/categories/" + url_encode(l.text("identity"))), c);
    });
    l.add_text("identity", "the category: id, name or ma-cat:// URI", true);
  }

  // ---- room
  CLI::App* room = add_noun(app, "room", "chat rooms (*-CsPersistentChatRoom)");
  {
    leaf& l = add_leaf(room, "new", "create a room; prints its URI (--json: the room)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         auto r = http(c.server, "POST", "/api/v1/rooms", room_body(l).dump());
                         if (c.json || check(r) != kExitOk) return show(r, c);
                         std::cout << json::parse(r.body, nullptr, false).value("uri", "") << "\n";
                         return kExitOk;
                       });
    l.add_text("name", "Name (unique)", true);
    l.add_text("category", "its category: id, name or ma-cat:// URI", true);
    room_options(l, false);
  }
  add_get(room, ctx, "show rooms: settings, category, members, live users", "/api/v1/rooms", kRoomColumns,
          "one room by id, name or ma-chan:// URI (--json: an object)",
          "rooms whose name contains this text (--json: a list)");
  {
    leaf& l = add_leaf(room, "set", "change a room (live rooms apply it at once)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b = room_body(l);
                         if (b.empty()) return usage(l, "room set needs at least one setting besides --identity");
                         return show(http(c.server, "PATCH", "/api/v1/rooms/" + url_encode(l.text("identity")),
                                          b.dump()),
                                     c, kRoomColumns);
                       });
    l.add_text("identity", "the room: id, name or ma-chan:// URI", true);
    l.add_text("name", "new Name");
    l.add_text("category", "move it to this category: id, name or ma-cat:// URI");
    room_options(l, true);
  }
  {
    leaf& l = add_leaf(room, "remove", "remove a room with all its history and files", ctx,
                       [](leaf& l, const ctl_context& c) {
                         return show(http(c.server, "DELETE", "/api/v1/rooms/" + url_encode(l.text("identity"))), c);
                       });
    l.add_text("identity", "the room: id, name or ma-chan:// URI", true);
  }
  {
    leaf& l = add_leaf(room, "clear", "remove a room's messages before a date (Clear-CsPersistentChatRoom)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b{{"before", l.text("before")}};
                         return show(http(c.server, "POST",
                                          "/api/v1/rooms/" + url_encode(l.text("identity")) + "/clear", b.dump()),
                                     c);
                       });
    l.add_text("identity", "the room: id, name or ma-chan:// URI", true);
    l.add_text("before", "YYYY-MM-DD (the whole day) or YYYY-MM-DDTHH:MM:SSZ", true);
  }

  // ---- message
  CLI::App* message = add_noun(app, "message", "stored messages (Remove-CsPersistentChatMessage)");
  {
    leaf& l = add_leaf(message, "remove", "replace matching stored messages", ctx, [](leaf& l, const ctl_context& c) {
      json b{{"room", l.text("room")}};
      for (auto [opt, key] : {std::pair{"user", "user"}, std::pair{"before", "before"}, std::pair{"after", "after"},
                              std::pair{"contains", "contains"}, std::pair{"replace", "replacement"}})
        if (l.has(opt)) b[key] = l.text(opt);
      return show(http(c.server, "POST", "/api/v1/messages/replace", b.dump()), c);
    });
    l.add_text("room", "the room: id, name or ma-chan:// URI", true);
    l.add_text("user", "only this author (user@domain or sip:user@domain)");
    l.add_text("before", "only messages before YYYY-MM-DD[THH:MM:SSZ]");
    l.add_text("after", "only messages after YYYY-MM-DD[THH:MM:SSZ]");
    l.add_text("contains", "only messages containing this text");
    l.add_text("replace", "replacement text (default: the reference's notice)");
  }

  // ---- addin
  CLI::App* addin = add_noun(app, "addin", "room add-ins (*-CsPersistentChatAddin)");
  for (const char* verb : {"new", "set"}) {
    leaf& l = add_leaf(addin, verb, std::string(verb) == "new" ? "register an add-in" : "change an add-in's URL", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b{{"name", l.text("name")}, {"url", l.text("url")}};
                         return show(http(c.server, "POST", "/api/v1/addins", b.dump()), c,
                                     {{"name", "Name"}, {"url", "Url"}});
                       });
    l.add_text("name", "Name", true);
    l.add_text("url", "https:// URL of the add-in page", true);
  }
  {
    leaf& l = add_leaf(addin, "get", "list add-ins", ctx, [](leaf& l, const ctl_context& c) {
      auto r = http(c.server, "GET", "/api/v1/addins");
      if (!l.has("name") || check(r) != kExitOk) return show(r, c, {{"name", "Name"}, {"url", "Url"}});
      // The API lists them all: keep the one asked for.
      json all = json::parse(r.body, nullptr, false), keep = json::array();
      for (auto& a : all.is_array() ? all : json::array())
        if (a.value("name", "") == l.text("name")) keep.push_back(a);
      r.body = keep.dump(2) + "\n";
      return show(r, c, {{"name", "Name"}, {"url", "Url"}});
    });
    l.add_text("name", "only the add-in with this name");
  }
  {
    leaf& l = add_leaf(addin, "remove", "remove an add-in no room uses", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "DELETE", "/api/v1/addins/" + url_encode(l.text("name"))), c);
    });
    l.add_text("name", "Name", true);
  }

  // ---- file
  CLI::App* file = add_noun(app, "file", "files uploaded to rooms");
  {
    leaf& l = add_leaf(file, "get", "list a room's files", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "GET", "/api/v1/files?room=" + url_encode(l.text("room"))), c,
                  {{"id", "Id"}, {"name", "Name"}, {"size", "Size"}, {"uploader", "Uploader"}, {"ts", "Uploaded"},
                   {"stored_name", "StoredName"}, {"room_id", "RoomId"}});
    });
    l.add_text("room", "the room: id, name or ma-chan:// URI", true);
  }
  {
    leaf& l = add_leaf(file, "remove", "take a file down (record and bytes)", ctx, [](leaf& l, const ctl_context& c) {
      // The API addresses a file by room id: resolve a room name or URI first.
      auto room = http(c.server, "GET", "/api/v1/rooms/" + url_encode(l.text("room")));
      if (int rc = check(room); rc != kExitOk) return rc;
      std::string id = json::parse(room.body, nullptr, false).value("id", "");
      return show(http(c.server, "DELETE", "/api/v1/files/" + url_encode(id) + "/" + l.text("id")), c);
    });
    l.add_text("room", "the room: id, name or ma-chan:// URI", true, "--room-id");
    // File ids are microsecond numbers: beyond 32 bits.
    l.add_number("id", "the file's Id (file get)", 0, 9223372036854775807L, true);
  }
}

}  // namespace pchat::ctl
