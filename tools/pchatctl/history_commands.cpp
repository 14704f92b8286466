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
}

}  // namespace pchat::ctl
