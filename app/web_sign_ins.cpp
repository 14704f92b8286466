#include "app/web_sign_ins.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <sstream>
#include <vector>

#include "log/log.h"
#include "protocol/sip/random_token.h"

namespace pchat::app {

namespace {

// Writes `text` to dir/name through a synced temporary file and a rename (then the folder
// is synced): the file is the old list or the new one, never half of one.
std::string write_whole(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name, tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "open " + tmp + ": " + std::strerror(errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = done == text.size() && ::fsync(fd) == 0;
  std::string err = ok ? "" : "write " + tmp + ": " + std::strerror(errno);
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = "rename " + tmp + ": " + std::strerror(errno);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return err;
  }
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string web_sign_ins::digest(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {hex[md[i] >> 4], hex[md[i] & 15]};
  return out;
}

void web_sign_ins::keep_in(const std::string& dir, const std::string& name) {
  auto now = std::chrono::steady_clock::now();
  int64_t unix = unix_now();
  std::lock_guard<std::mutex> lock(mu_);
  dir_ = dir;
  name_ = name;
  // One sign-in a line: digest(token) user csrf digest(ha1) made (unix seconds).
  std::ifstream in(dir + "/" + name);
  std::string line;
  bool dropped = false;  // a line not taken: the file is rewritten without it
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    entry e;
    if (!(fields >> key >> e.who.user >> e.who.csrf >> e.who.ha1_digest >> e.made_unix) || key.size() != 64 ||
        e.made_unix > unix) {
      dropped = true;  // not a line this file writes: skipped
      continue;
    }
    e.made = now - std::chrono::seconds(unix - e.made_unix);
    e.used = now;
    by_token_.emplace(key, std::move(e));
  }
  if (evict_locked(now) || dropped) save_locked();
}

void web_sign_ins::save_locked() {
  if (dir_.empty()) return;
  std::string text;
  for (auto& [key, e] : by_token_)
    text += key + " " + e.who.user + " " + e.who.csrf + " " + e.who.ha1_digest + " " + std::to_string(e.made_unix) + "\n";
  if (auto err = write_whole(dir_, name_, text); !err.empty())
    log::write(log::level::error, "web", "sign-ins not saved: a restart signs these browsers out",
               "error=" + log::quote(err) + " action=" + log::quote("check the data folder"));
}

std::pair<std::string, web_sign_in> web_sign_ins::add(const std::string& user, const std::string& ha1) {
  auto now = std::chrono::steady_clock::now();
  std::string token = sip::random_hex(32);
  web_sign_in who{user, sip::random_hex(16), digest(ha1)};
  std::lock_guard<std::mutex> lock(mu_);
  evict_locked(now);
  // This user's oldest beyond max_per_user, then the least recently used beyond max_total.
  std::vector<std::unordered_map<std::string, entry>::iterator> mine;
  for (auto it = by_token_.begin(); it != by_token_.end(); ++it)
    if (it->second.who.user == user) mine.push_back(it);
  while (!mine.empty() && mine.size() >= limits_.max_per_user) {
    auto oldest = mine.begin();
    for (auto it = mine.begin(); it != mine.end(); ++it)
      if ((*it)->second.made < (*oldest)->second.made) oldest = it;
    by_token_.erase(*oldest);
    mine.erase(oldest);
  }
  while (!by_token_.empty() && by_token_.size() >= limits_.max_total) {
    auto lru = by_token_.begin();
    for (auto it = by_token_.begin(); it != by_token_.end(); ++it)
      if (it->second.used < lru->second.used) lru = it;
    by_token_.erase(lru);
  }
  by_token_.emplace(digest(token), entry{who, now, now, unix_now()});
  save_locked();
  return {token, who};
}

std::optional<web_sign_in> web_sign_ins::find(const std::string& token) {
  auto now = std::chrono::steady_clock::now();
  std::string key = digest(token);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_token_.find(key);
  if (it == by_token_.end()) return std::nullopt;
  if (now - it->second.used > limits_.idle || now - it->second.made > limits_.max_age) {
    by_token_.erase(it);
    save_locked();
    return std::nullopt;
  }
  it->second.used = now;
  return it->second.who;
}

void web_sign_ins::remove(const std::string& token) {
  std::string key = digest(token);
  std::lock_guard<std::mutex> lock(mu_);
  if (by_token_.erase(key) > 0) save_locked();
}

size_t web_sign_ins::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_token_.size();
}

bool web_sign_ins::evict_locked(std::chrono::steady_clock::time_point now) {
  size_t before = by_token_.size();
  for (auto it = by_token_.begin(); it != by_token_.end();)
    it = now - it->second.used > limits_.idle || now - it->second.made > limits_.max_age ? by_token_.erase(it)
                                                                                           : std::next(it);
  return by_token_.size() != before;
}

}  // namespace pchat::app
