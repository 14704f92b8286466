#include "tools/pchatctl/identity_commands.h"

#include <nlohmann/json.hpp>

#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/output.h"

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

const std::vector<column> kUserColumns = {{"uri", "Uri"},       {"display_name", "DisplayName"},
                                          {"enabled", "Enabled"}, {"site", "Site"},
                                          {"policy", "Policy"},   {"has_password", "HasPassword"},
                                          {"chat_enabled", "ChatEnabled"}};
const std::vector<column> kGroupColumns = {{"name", "Name"}, {"description", "Description"}, {"members", "Members"}};
const std::vector<column> kPolicyColumns = {
    {"identity", "Identity"}, {"enable_persistent_chat", "EnablePersistentChat"}, {"description", "Description"}};

// Keeps the elements of a JSON list answer whose `field` is `value` (for lists the API
// does not filter itself).
void keep_only(http_result& r, const std::string& field, const std::string& value) {
  if (!r.error.empty() || r.status >= 400) return;
  json all = json::parse(r.body, nullptr, false), keep = json::array();
  if (!all.is_array()) return;
  for (auto& e : all)
    if (e.value(field, "") == value) keep.push_back(e);
  r.body = keep.dump(2) + "\n";
}

}  // namespace

void add_identity_commands(CLI::App& app, ctl_context& ctx) {
  // ---- user
  CLI::App* user = add_noun(app, "user", "the user directory");
  for (const char* verb : {"new", "set"}) {
    leaf& l = add_leaf(user, verb, std::string(verb) == "new" ? "create a user" : "change a user", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b{{"uri", l.text("uri")}};
                         for (auto [opt, key] : {std::pair{"password", "password"}, std::pair{"display-name", "display_name"},
                                                 std::pair{"site", "site"}, std::pair{"policy", "policy"}})
                           if (l.has(opt)) b[key] = l.text(opt);
                         if (l.has("enabled")) b["enabled"] = l.text("enabled") == "true";
                         return show(http(c.server, "POST", "/api/v1/users", b.dump()), c, kUserColumns);
                       });
    l.add_text("uri", "the user: user@domain or sip:user@domain", true);
    l.add_text("password", "SIP Digest password")->check(not_empty());
    l.add_text("display-name", "DisplayName");
    l.add_text("site", "site (its site:NAME policy applies)");
    l.add_text("policy", "policy tag (\"\" for none)");
    l.add_bool("enabled", "a disabled user cannot sign in");
  }
  {
    leaf& l = add_leaf(user, "get", "list users, or one with --uri", ctx, [](leaf& l, const ctl_context& c) {
      if (l.has("uri")) return show(http(c.server, "GET", "/api/v1/users/" + url_encode(l.text("uri"))), c, kUserColumns);
      return show(http(c.server, "GET", "/api/v1/users"), c, kUserColumns);
    });
    l.add_text("uri", "one user: user@domain or sip:user@domain (--json: an object)")->check(not_empty());
  }
  {
    leaf& l = add_leaf(user, "remove", "remove a user", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "DELETE", "/api/v1/users/" + url_encode(l.text("uri"))), c);
    });
    l.add_text("uri", "the user: user@domain or sip:user@domain", true);
  }

  // ---- group
  CLI::App* group = add_noun(app, "group", "groups of principals (group:NAME)");
  for (const char* verb : {"new", "set"}) {
    leaf& l = add_leaf(group, verb, std::string(verb) == "new" ? "create a group" : "replace a group's members", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b{{"name", l.text("name")}, {"description", l.text("description")},
                                {"members", l.list("members")}};
                         return show(http(c.server, "POST", "/api/v1/groups", b.dump()), c, kGroupColumns);
                       });
    l.add_text("name", "Name", true);
    l.add_list("members", "sip:USER, group:NAME, domain:DOMAIN", true);
    l.add_text("description", "Description");
  }
  {
    leaf& l = add_leaf(group, "get", "list groups", ctx, [](leaf& l, const ctl_context& c) {
      auto r = http(c.server, "GET", "/api/v1/groups");
      if (l.has("name")) keep_only(r, "name", l.text("name"));
      return show(r, c, kGroupColumns);
    });
    l.add_text("name", "only the group with this name");
  }
  {
    leaf& l = add_leaf(group, "remove", "remove a group", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "DELETE", "/api/v1/groups/" + url_encode(l.text("name"))), c);
    });
    l.add_text("name", "Name", true);
  }

  // ---- policy
  CLI::App* policy = add_noun(app, "policy", "Persistent Chat policies (user tag > site > global)");
  for (const char* verb : {"new", "set"}) {
    leaf& l = add_leaf(policy, verb, std::string(verb) == "new" ? "create a policy" : "change a policy", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b{{"enable_persistent_chat", l.text("enable-persistent-chat") == "true"},
                                {"description", l.text("description")}};
                         return show(http(c.server, "PUT", "/api/v1/policies/" + url_encode(l.text("identity")), b.dump()),
                                     c, kPolicyColumns);
                       });
    l.add_text("identity", "global, site:NAME or tag:NAME", true);
    l.add_bool("enable-persistent-chat", "EnablePersistentChat", true);
    l.add_text("description", "Description");
  }
  {
    leaf& l = add_leaf(policy, "get", "list policies, or one with --identity", ctx, [](leaf& l, const ctl_context& c) {
      if (l.has("identity"))
        return show(http(c.server, "GET", "/api/v1/policies/" + url_encode(l.text("identity"))), c, kPolicyColumns);
      return show(http(c.server, "GET", "/api/v1/policies"), c, kPolicyColumns);
    });
    l.add_text("identity", "one policy: global, site:NAME or tag:NAME (--json: an object)")->check(not_empty());
  }
  {
    leaf& l = add_leaf(policy, "remove", "remove a policy", ctx, [](leaf& l, const ctl_context& c) {
      return show(http(c.server, "DELETE", "/api/v1/policies/" + url_encode(l.text("identity"))), c);
    });
    l.add_text("identity", "global, site:NAME or tag:NAME", true);
  }
  {
    leaf& l = add_leaf(policy, "grant", "give a user a tag policy (Grant-CsPersistentChatPolicy)", ctx,
                       [](leaf& l, const ctl_context& c) {
                         json b{{"user", l.text("user")}, {"policy", l.text("policy")}};
                         return show(http(c.server, "POST", "/api/v1/policies/grant", b.dump()), c);
                       });
    l.add_text("user", "the user: user@domain or sip:user@domain", true);
    l.add_text("policy", "the tag (NAME or tag:NAME; \"\" unassigns)")->required();
  }

  // ---- principal
  CLI::App* principal = add_noun(app, "principal", "principals (Get-CsPersistentChatEligiblePrincipal)");
  {
    leaf& l = add_leaf(principal, "eligible", "expand principals to the users they name", ctx,
                       [](leaf& l, const ctl_context& c) {
                         std::string list;
                         for (auto& p : l.list("list")) list += (list.empty() ? "" : ",") + p;
                         return show(http(c.server, "GET", "/api/v1/principals/eligible?list=" + url_encode(list)), c);
                       });
    l.add_list("list", "sip:USER, group:NAME, domain:DOMAIN", true);
  }
}

}  // namespace pchat::ctl
