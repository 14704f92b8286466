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

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

// Prints the transport failure or the server's refusal; returns the exit status (0 = ok).
int check(const http_result& r) {
  if (!r.error.empty()) {
    std::cerr << "pchatctl: " << r.error << "\n";
    return 3;
  }
  if (r.status >= 400) {
    json j = json::parse(r.body, nullptr, false);
    std::cerr << "pchatctl: server refused (" << r.status << "): "
              << (j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r.body) << "\n";
    return 1;
  }
  return 0;
}

std::string opt(const std::map<std::string, std::string>& opts, const char* key) {
  auto it = opts.find(key);
  return it == opts.end() ? std::string() : it->second;
}

int usage(const std::string& why) {
  std::cerr << "pchatctl: " << why << "\n"
            << "usage: pchatctl [--server=HOST:PORT] [--json] ...\n"
               "  search --query TEXT [--room R[,R2]] [--author U[,U2]] [--from DATE] [--to DATE]\n"
               "         [--limit N]\n"
               "  export --file F [--category C] [--since DATE]\n"
               "  import --file F [--what-if]\n"
               "  test message [--room R] [--user1 U] [--user2 U] [--timeout SECONDS]\n";
  return 2;
}

void print_kv(const json& j) {
  for (auto& [k, v] : j.items()) std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
}

int run_search(const std::string& server, bool as_json, const std::map<std::string, std::string>& opts) {
  std::string q = opt(opts, "query");
  if (q.empty() && opt(opts, "author").empty() && opt(opts, "from").empty() && opt(opts, "to").empty())
    return usage("search needs --query (or --author, --from, --to)");
  std::string path = "/api/v1/search?q=" + url_encode(q);
  for (auto [o, k] : {std::pair{"room", "room"}, std::pair{"author", "author"}, std::pair{"from", "from"},
                      std::pair{"to", "to"}, std::pair{"limit", "limit"}})
    if (!opt(opts, o).empty()) path += std::string("&") + k + "=" + url_encode(opt(opts, o));
  auto r = http(server, "GET", path);
  if (int rc = check(r); rc != 0) return rc;
  if (as_json) {
    std::cout << r.body;
    return 0;
  }
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j["results"].is_array()) {
    std::cerr << "pchatctl: malformed answer from the server\n";
    return 1;
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

int run_export(const std::string& server, bool as_json, const std::map<std::string, std::string>& opts) {
  if (opt(opts, "file").empty()) return usage("export needs --file");
  json b{{"path", absolute(opt(opts, "file"))}};
  if (!opt(opts, "category").empty()) b["category"] = opt(opts, "category");
  if (!opt(opts, "since").empty()) b["since"] = opt(opts, "since");
  auto r = http(server, "POST", "/api/v1/export", b.dump());
  if (int rc = check(r); rc != 0) return rc;
  if (as_json) {
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

int run_import(const std::string& server, bool as_json, const std::map<std::string, std::string>& opts) {
  if (opt(opts, "file").empty()) return usage("import needs --file");
  bool what_if = opts.count("what-if") && opt(opts, "what-if") != "false";
  json b{{"path", absolute(opt(opts, "file"))}, {"what_if", what_if}};
  auto r = http(server, "POST", "/api/v1/import", b.dump());
  if (int rc = check(r); rc != 0) return rc;
  if (as_json) std::cout << r.body;
  else print_kv(json::parse(r.body, nullptr, false));
  return 0;
}

// ---- test message (Test-CsPersistentChatMessage)

struct step {
  std::string name;
  bool ok = false;
  double ms = 0;
  std::string detail;
};

int run_test_message(const std::string& server, bool as_json, const std::map<std::string, std::string>& opts) {
  using namespace std::chrono;
  auto timeout = seconds(opt(opts, "timeout").empty() ? 10 : std::atoi(opt(opts, "timeout").c_str()));
  auto st = http(server, "GET", "/api/v1/status");
  if (int rc = check(st); rc != 0) return rc;
  json status = json::parse(st.body, nullptr, false);
  std::string domain = status.value("domain", "example.com");
  int sip_port = status.value("sip_port", 0);
  auto rooms_r = http(server, "GET", "/api/v1/rooms");
  if (int rc = check(rooms_r); rc != 0) return rc;
  json rooms = json::parse(rooms_r.body, nullptr, false);
  std::string want = opt(opts, "room"), room_uri, room_name;
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
  std::string u1 = opt(opts, "user1").empty() ? "pchat-test1@" + domain : opt(opts, "user1");
  std::string u2 = opt(opts, "user2").empty() ? "pchat-test2@" + domain : opt(opts, "user2");
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
  if (as_json) {
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

bool is_history_command(const std::string& noun) {
  return noun == "search" || noun == "export" || noun == "import" || noun == "test";
}

int run_history_command(const std::string& server, bool as_json,
                        const std::vector<std::string>& words,
                        const std::map<std::string, std::string>& opts) {
  const std::string& noun = words[0];
  if (noun == "test") {
    if (words.size() != 2 || words[1] != "message") return usage("expected: test message");
    return run_test_message(server, as_json, opts);
  }
  if (words.size() != 1) return usage(noun + " takes no verb");
  if (noun == "search") return run_search(server, as_json, opts);
  if (noun == "export") return run_export(server, as_json, opts);
  return run_import(server, as_json, opts);
}

}  // namespace pchat::ctl
