#include "tools/pchatctl/test_commands.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/client/xccos_client.h"
#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/output.h"
#include "tools/pchatctl/test_credentials.h"

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

std::string credential_file(leaf& l) {
  return l.text("credential-file").empty() ? default_credential_file() : l.text("credential-file");
}

std::string bare(std::string user) {  // the client signs in as user@domain
  if (user.rfind("sip:", 0) == 0) user.erase(0, 4);
  return user;
}

// The room named by id, name or URI, as the admin API shows it; nullopt with *why.
std::optional<json> find_room(const std::string& server, const std::string& key, std::string* why) {
  auto r = http(server, "GET", "/api/v1/rooms/" + url_encode(key));
  if (r.status == 404) {
    *why = "no room with id, name or uri '" + key + "'";
    return std::nullopt;
  }
  if (check(r) != 0) {
    *why = "cannot read the room (see above)";
    return std::nullopt;
  }
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) {
    *why = "the server's answer about the room is not JSON";
    return std::nullopt;
  }
  return j;
}

// ---- test credential set|get|remove (Set-CsTestUserCredential)

int run_credential_set(leaf& l, const ctl_context& c) {
  std::string file = credential_file(l);
  if (file.empty()) {
    std::cerr << "pchatctl: no place for test credentials: give --credential-file (no $HOME)\n";
    return kExitUsage;
  }
  test_credential tc;
  tc.user1 = bare(l.text("user1"));
  tc.user2 = bare(l.text("user2"));
  tc.room = l.text("room");
  tc.password1 = l.has("password1") ? l.text("password1") : "";
  tc.password2 = l.has("password2") ? l.text("password2") : "";
  if (const char* p = std::getenv("PCHAT_TEST_PASSWORD1"); tc.password1.empty() && p)
    tc.password1 = p;
  if (const char* p = std::getenv("PCHAT_TEST_PASSWORD2"); tc.password2.empty() && p)
    tc.password2 = p;
  if (tc.user1 == tc.user2) {
    std::cerr << "pchatctl: --user1 and --user2 must be two different users\n";
    return kExitUsage;
  }
  // The accounts must exist already: pchatctl never creates them.
  for (const auto& u : {tc.user1, tc.user2}) {
    auto r = http(c.server, "GET", "/api/v1/users/" + url_encode("sip:" + u));
    if (r.status == 404) {
      std::cerr << "pchatctl: no user sip:" << u << ": create it first (pchatctl user new --uri "
                << u << " --password ...) or name an existing user\n";
      return kExitRefused;
    }
    if (int rc = check(r); rc != 0) return rc;
    json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && !j.value("chat_enabled", true)) {
      std::cerr << "pchatctl: sip:" << u
                << " may not use Persistent Chat (its policy): grant it a policy "
                << "that enables chat, or name another user\n";
      return kExitRefused;
    }
  }
  std::string why;
  auto room = find_room(c.server, tc.room, &why);
  if (!room) {
    std::cerr << "pchatctl: " << why << "\n";
    return kExitRefused;
  }
  if (room->value("disabled", false)) {
    std::cerr << "pchatctl: room " << tc.room << " is disabled: enable it or name another room\n";
    return kExitRefused;
  }
  if (room->value("privacy", "open") != "open") {
    // Closed and secret rooms are joined by members only: check both are, now, rather
    // than have every later test fail with 403.
    std::string list;
    if (room->contains("members") && (*room)["members"].is_array())
      for (auto& m : (*room)["members"])
        if (m.is_string()) list += (list.empty() ? "" : ",") + m.get<std::string>();
    auto r = http(c.server, "GET", "/api/v1/principals/eligible?list=" + url_encode(list));
    if (int rc = check(r); rc != 0) return rc;
    json members = json::parse(r.body, nullptr, false);
    for (const auto& u : {tc.user1, tc.user2}) {
      bool in = false;
      if (members.is_array())
        for (auto& m : members) in = in || (m.is_string() && bare(m.get<std::string>()) == u);
      if (!in) {
        std::cerr << "pchatctl: sip:" << u << " is not a member of the "
                  << room->value("privacy", "") << " room " << tc.room
                  << ": add it (pchatctl room set --identity '" << tc.room
                  << "' --add-members sip:" << u << ") or name an open room\n";
        return kExitRefused;
      }
    }
  }
  tc.room = room->value("uri", tc.room);
  if (std::string err = store_test_credential(file, c.server, &tc); !err.empty()) {
    std::cerr << "pchatctl: " << err << "\n";
    return kExitRefused;
  }
  json out{
      {"server", c.server}, {"user1", "sip:" + tc.user1},           {"user2", "sip:" + tc.user2},
      {"room", tc.room},    {"room_name", room->value("name", "")}, {"file", file}};
  if (c.json)
    std::cout << out.dump(2) << "\n";
  else
    print_kv(out);
  return kExitOk;
}

int run_credential_get(leaf& l, const ctl_context& c) {
  std::string file = credential_file(l), why;
  auto tc = load_test_credential(file, c.server, &why);
  if (!tc) {
    std::cerr << "pchatctl: "
              << (why.empty() ? "no test users are set for " + c.server + " in " + file : why)
              << "\n";
    return kExitRefused;
  }
  json out{{"server", c.server},
           {"user1", "sip:" + tc->user1},
           {"user2", "sip:" + tc->user2},
           {"room", tc->room},
           {"file", file}};
  if (c.json)
    std::cout << out.dump(2) << "\n";
  else
    print_kv(out);
  return kExitOk;
}

int run_credential_remove(leaf& l, const ctl_context& c) {
  std::string file = credential_file(l), why;
  if (!load_test_credential(file, c.server, &why)) {
    std::cerr << "pchatctl: "
              << (why.empty() ? "no test users are set for " + c.server + " in " + file : why)
              << "\n";
    return kExitRefused;
  }
  if (std::string err = store_test_credential(file, c.server, nullptr); !err.empty()) {
    std::cerr << "pchatctl: " << err << "\n";
    return kExitRefused;
  }
  if (c.json)
    std::cout << json{{"removed", c.server}, {"file", file}}.dump(2) << "\n";
  else
    std::cout << "removed: " << c.server << "\n";
  return kExitOk;
}

// ---- test message (Test-CsPersistentChatMessage)

struct step {
  std::string name;
  bool ok = false;
  double ms = 0;
  std::string detail;
};

int run_test_message(leaf& l, const ctl_context& c) {
  using namespace std::chrono;
  const std::string& server = c.server;
  auto timeout = seconds(l.text("timeout").empty() ? 10 : std::atoi(l.text("timeout").c_str()));
  std::string file = credential_file(l), why;
  auto tc = load_test_credential(file, server, &why);
  if (!tc) {
    if (!why.empty()) {
      std::cerr << "pchatctl: " << why << "\n";
    } else {
      std::cerr << "pchatctl: no test users are set for " << server
                << ": name two existing users and the room they may both join with\n"
                   "  pchatctl test credential set --user1 USER --password1 PASSWORD --user2 USER "
                   "--password2 PASSWORD --room ROOM\n"
                   "(Set-CsTestUserCredential; test message never creates accounts)\n";
    }
    return kExitRefused;
  }
  auto st = http(server, "GET", "/api/v1/status");
  if (int rc = check(st); rc != 0) return rc;
  json status = json::parse(st.body, nullptr, false);
  int sip_port = status.is_object() ? status.value("sip_port", 0) : 0;
  std::string want = l.text("room").empty() ? tc->room : l.text("room"), room_uri, room_name;

  std::vector<step> steps;
  bool ok = true;
  auto run = [&](const std::string& name, const std::function<std::string()>& f) {
    if (!ok) return;
    auto t0 = steady_clock::now();
    std::string err = f();
    steps.push_back(
        {name, err.empty(), duration<double, std::milli>(steady_clock::now() - t0).count(), err});
    ok = err.empty();
  };
  run("find room", [&]() -> std::string {
    if (sip_port == 0) return "the server reported no sip_port";
    std::string why;
    auto room = find_room(server, want, &why);
    if (!room) return why;
    if (room->value("disabled", false)) return "room " + want + " is disabled";
    room_uri = room->value("uri", "");
    room_name = room->value("name", "");
    return "";
  });
  client::client_loop loop;
  std::vector<std::unique_ptr<client::chat_client>> users;
  std::string host = server.substr(0, server.rfind(':'));
  for (auto [u, pw] : {std::pair{tc->user1, tc->password1}, std::pair{tc->user2, tc->password2}}) {
    client::connection_config cc;
    cc.server_host = host == "localhost" ? "127.0.0.1" : host;
    cc.server_port = static_cast<uint16_t>(sip_port);
    client::client_config cfg;
    cfg.user = u;
    cfg.password = pw;
    users.push_back(std::make_unique<client::chat_client>(loop, cc, cfg));
  }
  for (size_t i = 0; i < 2; ++i)
    run("sign in " + users[i]->self_uri(), [&]() -> std::string {
      return users[i]->sign_in(timeout) ? "" : "sign-in failed: " + users[i]->failure_reason();
    });
  for (size_t i = 0; i < 2; ++i)
    run("join " + room_name + " (user" + std::to_string(i + 1) + ")", [&]() -> std::string {
      auto j = users[i]->join_and_wait(room_uri, timeout);
      if (!j) return "no reply to join";
      return j->code == 200 ? "" : "join refused with code " + std::to_string(j->code);
    });
  std::string tag = std::to_string(system_clock::now().time_since_epoch().count());
  for (size_t i = 0; i < 2; ++i) {
    auto& from = *users[i];
    auto& to = *users[1 - i];
    std::string text = "pchat test message " + tag + " from user" + std::to_string(i + 1);
    run("user" + std::to_string(i + 1) + " -> user" + std::to_string(2 - i), [&]() -> std::string {
      if (!from.post_and_wait_ack(room_uri, text, timeout)) return "post not acknowledged";
      auto got =
          to.wait_for_message([&](const client::chat_post& p) { return p.text == text; }, timeout);
      return got ? "" : "the other user did not receive the message";
    });
  }
  for (auto& u : users)
    if (u->is_ready()) {
      u->part_and_wait(room_uri, timeout);
      u->sign_out_and_wait(timeout);
    }
  if (c.json) {
    json arr = json::array();
    for (auto& s : steps)
      arr.push_back(json{{"step", s.name}, {"ok", s.ok}, {"ms", s.ms}, {"error", s.detail}});
    std::cout << json{{"success", ok}, {"room", room_uri}, {"steps", arr}}.dump(2) << "\n";
  } else {
    for (auto& s : steps)
      std::printf("%-4s %-40s %9.1f ms  %s\n", s.ok ? "ok" : "FAIL", s.name.c_str(), s.ms,
                  s.detail.c_str());
    std::printf("%s\n", ok ? "Success" : "Failure");
  }
  return ok ? kExitOk : kExitRefused;
}

}  // namespace

void add_test_commands(CLI::App& app, ctl_context& ctx) {
  CLI::App* test =
      add_noun(app, "test", "end-to-end checks with the test users (test credential set)");
  const std::string file_help =
      "the test credential file (default $PCHATCTL_TEST_CREDENTIALS, else "
      "~/.config/pchatctl/test-credentials.json)";
  {
    leaf& l = add_leaf(test, "message",
                       "the two test users exchange a message (Test-CsPersistentChatMessage)", ctx,
                       run_test_message);
    l.add_text("room", "the room instead of the test set's: id, name or ma-chan:// URI")
        ->check(not_empty());
    l.add_number("timeout", "seconds each step may take (default 10)", 1, 3600);
    l.add_text("credential-file", file_help)->check(not_empty());
  }
  CLI::App* cred =
      add_noun(*test, "credential", "the test users and their room (Set-CsTestUserCredential)");
  {
    leaf& l =
        add_leaf(cred, "set", "name two existing users, their passwords and the room they meet in",
                 ctx, run_credential_set);
    l.add_text("user1", "the first test user: an existing user@domain", true)->check(not_empty());
    l.add_text("password1", "its password (or $PCHAT_TEST_PASSWORD1)");
    l.add_text("user2", "the second test user: another existing user@domain", true)
        ->check(not_empty());
    l.add_text("password2", "its password (or $PCHAT_TEST_PASSWORD2)");
    l.add_text("room", "the room both may join: id, name or ma-chan:// URI", true)
        ->check(not_empty());
    l.add_text("credential-file", file_help)->check(not_empty());
  }
  {
    leaf& l =
        add_leaf(cred, "get", "show the test users and room set for this server (no passwords)",
                 ctx, run_credential_get);
    l.add_text("credential-file", file_help)->check(not_empty());
  }
  {
    leaf& l = add_leaf(cred, "remove", "forget the test users set for this server", ctx,
                       run_credential_remove);
    l.add_text("credential-file", file_help)->check(not_empty());
  }
}

}  // namespace pchat::ctl
