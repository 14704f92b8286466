#include "tools/pchatctl/test_credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

// The file as JSON; an absent file is an empty object.
std::optional<json> read_all(const std::string& file, std::string* why) {
  std::ifstream in(file);
  if (!in) {
    if (errno == ENOENT) return json::object();
    *why = "cannot read " + file + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || (j.contains("servers") && !j["servers"].is_object())) {
    *why =
        file + " is not a test credential file (remove it, then run pchatctl test credential set)";
    return std::nullopt;
  }
  return j;
}

}  // namespace

std::string default_credential_file() {
  if (const char* f = std::getenv("PCHATCTL_TEST_CREDENTIALS"); f && *f) return f;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    return std::string(x) + "/pchatctl/test-credentials.json";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::string(h) + "/.config/pchatctl/test-credentials.json";
  return {};
}

std::optional<test_credential> load_test_credential(const std::string& file,
                                                    const std::string& server, std::string* why) {
  why->clear();
  auto all = read_all(file, why);
  if (!all || !all->contains("servers") || !(*all)["servers"].contains(server)) return std::nullopt;
  const json& s = (*all)["servers"][server];
  test_credential c;
  for (auto [key, field] : {std::pair{"user1", &c.user1}, std::pair{"password1", &c.password1},
                            std::pair{"user2", &c.user2}, std::pair{"password2", &c.password2},
                            std::pair{"room", &c.room}}) {
    if (!s.is_object() || !s.contains(key) || !s[key].is_string()) {
      *why = file + ": the set for " + server + " lacks " + key +
             " (run pchatctl test credential set again)";
      return std::nullopt;
    }
    *field = s[key].get<std::string>();
  }
  return c;
}

std::string store_test_credential(const std::string& file, const std::string& server,
                                  const test_credential* c) {
  std::string why;
  auto all = read_all(file, &why);
  if (!all) return why;
  json& servers = (*all)["servers"];
  if (!servers.is_object()) servers = json::object();
  if (c)
    servers[server] = json{{"user1", c->user1},
                           {"password1", c->password1},
                           {"user2", c->user2},
                           {"password2", c->password2},
                           {"room", c->room}};
  else
    servers.erase(server);
  std::filesystem::path p(file);
  std::error_code ec;
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return "cannot create " + p.parent_path().string() + ": " + ec.message();
    ::chmod(p.parent_path().c_str(), 0700);
  }
  // Passwords: never readable by others, not even for an instant (created 0600).
  std::string tmp = file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + ": " + std::strerror(errno);
  std::string text = all->dump(2) + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    return "cannot write " + file + ": " + std::strerror(err);
  }
  return {};
}

}  // namespace pchat::ctl
