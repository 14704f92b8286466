#include "tools/pchatctl/history_commands.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "tools/client/xccos_client.h"
#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/output.h"

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

int run_search(leaf& l, const ctl_context& c) {
  std::string q = l.text("query");
  if (q.empty() && l.text("author").empty() && l.text("from").empty() && l.text("to").empty()) {
    std::cerr << "pchatctl: search needs --query (or --author, --from, --to) (see pchatctl search --help)\n";
    return kExitUsage;
  }
  std::string path = "/api/v1/search?q=" + url_encode(q);
  for (const char* k : {"room", "author", "from", "to", "limit"})
    if (!l.text(k).empty()) path += std::string("&") + k + "=" + url_encode(l.text(k));
  auto r = http(c.server, "GET", path);
  if (int rc = check(r); rc != 0) return rc;
  if (c.json) {
    std::cout << r.body;
    return 0;
  }
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j["results"].is_array()) {
    std::cerr << "pchatctl: malformed answer from the server\n";
    return kExitUnreachable;
  }
  std::vector<std::vector<std::string>> rows{{"Time (UTC)", "Room", "Author", "Text"}};
  for (auto& h : j["results"]) {
    std::string ts = h.value("ts", "");
    if (ts.size() > 19) ts = ts.substr(0, 10) + " " + ts.substr(11, 8);
    std::string text = h.value("text", "");
    for (auto& c : text)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    rows.push_back({ts, h.value("room", ""), h.value("author", ""), text});
  }
  std::vector<size_t> width(4, 0);
  for (auto& row : rows)
    for (size_t i = 0; i < 3; ++i) width[i] = std::max(width[i], row[i].size());
  for (auto& row : rows)
    std::printf("%-*s  %-*s  %-*s  %s\n", static_cast<int>(width[0]), row[0].c_str(),
                static_cast<int>(width[1]), row[1].c_str(), static_cast<int>(width[2]), row[2].c_str(),
                row[3].c_str());
  size_t n = j["results"].size();
  std::printf("%zu result%s", n, n == 1 ? "" : "s");
  if (j.value("truncated", false))
    std::printf(" (truncated at the limit of %llu; about %llu match: narrow the search or raise --limit)",
                static_cast<unsigned long long>(j.value("limit", 0)),
                static_cast<unsigned long long>(j.value("total_estimate", 0)));
  std::printf("\n");
  return 0;
}

std::string absolute(const std::string& f) {
  std::error_code ec;
  auto p = std::filesystem::absolute(f, ec);
  return ec ? f : p.lexically_normal().string();
}

int run_export(leaf& l, const ctl_context& c) {
  json b{{"path", absolute(l.text("file"))}};
  if (!l.text("category").empty()) b["category"] = category_key(l.text("category"));
  if (!l.text("since").empty()) b["since"] = l.text("since");
  auto r = http(c.server, "POST", "/api/v1/export", b.dump());
  if (int rc = check(r); rc != 0) return rc;
  if (c.json) {
    std::cout << r.body;
    return 0;
  }
  // Records an older version stored with invalid text were exported repaired (U+FFFD): name them.
  json j = json::parse(r.body, nullptr, false);
  json repaired = j.is_object() && j.contains("repaired_records") ? j["repaired_records"] : json::array();
  if (j.is_object()) j.erase("repaired_records");
  print_kv(j);
  for (auto& rec : repaired)
    if (rec.is_string()) std::cout << "repaired record: " << rec.get<std::string>() << "\n";
  return 0;
}

int run_import(leaf& l, const ctl_context& c) {
  json b{{"path", absolute(l.text("file"))}, {"what_if", l.has("what-if")}};
  return show(http(c.server, "POST", "/api/v1/import", b.dump()), c);
}

int run_backup(leaf& l, const ctl_context& c) {
  json b{{"dir", absolute(l.text("dir"))}};
  int timeout = 3600;  // the server's default (app/backup_api.h)
  if (l.has("timeout")) timeout = std::atoi(l.text("timeout").c_str());
  b["timeout_seconds"] = timeout;
  // The server answers by its own timeout; wait a little longer than it.
  return show(http(c.server, "POST", "/api/v1/backup", b.dump(), timeout + 30), c);
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
  auto st = http(server, "GET", "/api/v1/status");
  if (int rc = check(st); rc != 0) return rc;
  json status = json::parse(st.body, nullptr, false);
  std::string domain = status.value("domain", "example.com");
  int sip_port = status.value("sip_port", 0);
  auto rooms_r = http(server, "GET", "/api/v1/rooms");
  if (int rc = check(rooms_r); rc != 0) return rc;
  json rooms = json::parse(rooms_r.body, nullptr, false);
  std::string want = l.text("room"), room_uri, room_name;
  for (auto& r : rooms) {
    if (r.value("disabled", false)) continue;
    if (want.empty() || r.value("id", "") == want || r.value("uri", "") == want || r.value("name", "") == want) {
      room_uri = r.value("uri", "");
      room_name = r.value("name", "");
      break;
    }
  }
  std::vector<step> steps;
  bool ok = true;
  auto run = [&](const std::string& name, const std::function<std::string()>& f) {
    if (!ok) return;
    auto t0 = steady_clock::now();
    std::string err = f();
    steps.push_back({name, err.empty(), duration<double, std::milli>(steady_clock::now() - t0).count(), err});
    ok = err.empty();
  };
  run("find room", [&]() -> std::string {
    if (sip_port == 0) return "the server reported no sip_port";
    return room_uri.empty() ? (want.empty() ? "no rooms exist" : "no enabled room '" + want + "'") : "";
  });
  std::string u1 = l.text("user1").empty() ? "pchat-test1@" + domain : l.text("user1");
  std::string u2 = l.text("user2").empty() ? "pchat-test2@" + domain : l.text("user2");
  client::client_loop loop;
  std::vector<std::unique_ptr<client::chat_client>> users;
  std::string host = server.substr(0, server.rfind(':'));
  for (auto& u : {u1, u2}) {
    client::connection_config cc;
    cc.server_host = host == "localhost" ? "127.0.0.1" : host;
    cc.server_port = static_cast<uint16_t>(sip_port);
    client::client_config cfg;
    cfg.user = u;
    // Like Test-CsPersistentChatMessage's test users: (re)provision each with a fresh random
    // password through the admin API, so the check also proves Digest sign-in works.
    std::random_device rd;
    char pw[33];
    std::snprintf(pw, sizeof pw, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
    json body{{"uri", u}, {"password", std::string(pw)}, {"display_name", "pchat test user"}};
    if (http(server, "POST", "/api/v1/users", body.dump()).status / 100 == 2) cfg.password = pw;
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
      auto got = to.wait_for_message([&](const client::chat_post& p) { return p.text == text; }, timeout);
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
    for (auto& s : steps) arr.push_back(json{{"step", s.name}, {"ok", s.ok}, {"ms", s.ms}, {"error", s.detail}});
    std::cout << json{{"success", ok}, {"room", room_uri}, {"steps", arr}}.dump(2) << "\n";
  } else {
    for (auto& s : steps)
      std::printf("%-4s %-40s %9.1f ms  %s\n", s.ok ? "ok" : "FAIL", s.name.c_str(), s.ms, s.detail.c_str());
    std::printf("%s\n", ok ? "Success" : "Failure");
  }
  return ok ? 0 : 1;
}

}  // namespace

void add_history_commands(CLI::App& app, ctl_context& ctx) {
  {
    leaf& l = add_leaf(&app, "search", "search room history (the admin reads every room)", ctx, run_search);
    l.add_text("query", "words, or \"a phrase\"");
    l.add_text("room", "only these rooms: id, name or ma-chan:// URI, comma-separated");
    l.add_text("author", "only these authors: user@domain, comma-separated");
    l.add_text("from", "only messages from YYYY-MM-DD[THH:MM:SSZ]");
    l.add_text("to", "only messages up to YYYY-MM-DD[THH:MM:SSZ]");
    l.add_number("limit", "at most N results", 1, 2147483647L);
  }
  {
    leaf& l = add_leaf(&app, "export", "write rooms and history to a file (Export-CsPersistentChatData)", ctx,
                       run_export);
    l.add_text("file", "the archive to write (by the server, on this host; docs/ARCHIVE.md)", true);
    l.add_text("category", "only this category: id, name or ma-cat:// URI");
    l.add_text("since", "only messages since YYYY-MM-DD[THH:MM:SSZ]");
  }
  {
    leaf& l = add_leaf(&app, "import", "load an archive (Import-CsPersistentChatData)", ctx, run_import);
    l.add_text("file", "the archive to read (by the server, on this host)", true);
    l.add_flag("what-if", "only check the archive and count what it would change");
  }
  {
    leaf& l = add_leaf(&app, "backup", "online backup of this node into a new or empty folder (docs/ADMIN.md)", ctx,
                       run_backup);
    l.add_text("dir", "the backup folder (written by the server, on this host; new or empty)", true)->check(not_empty());
    l.add_number("timeout", "seconds the backup may take before it is cancelled (default 3600)", 1, 86400);
  }
  CLI::App* test = add_noun(app, "test", "end-to-end checks");
  {
    leaf& l = add_leaf(test, "message", "two test users exchange a message (Test-CsPersistentChatMessage)", ctx,
                       run_test_message);
    l.add_text("room", "the room: id, name or ma-chan:// URI (default: the first enabled room)");
    l.add_text("user1", "first test user (default pchat-test1@DOMAIN)");
    l.add_text("user2", "second test user (default pchat-test2@DOMAIN)");
    l.add_number("timeout", "seconds each step may take (default 10)", 1, 3600);
  }
}

}  // namespace pchat::ctl
