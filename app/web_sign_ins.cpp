#include "app/web_sign_ins.h"

#include <vector>

#include "protocol/sip/random_token.h"

namespace pchat::app {

std::pair<std::string, web_sign_in> web_sign_ins::add(const std::string& user, const std::string& ha1) {
  auto now = std::chrono::steady_clock::now();
  std::string token = sip::random_hex(32);
  web_sign_in who{user, sip::random_hex(16), ha1};
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
  by_token_.emplace(token, entry{who, now, now});
  return {token, who};
}

std::optional<web_sign_in> web_sign_ins::find(const std::string& token) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return std::nullopt;
  if (now - it->second.used > limits_.idle || now - it->second.made > limits_.max_age) {
    by_token_.erase(it);
    return std::nullopt;
  }
  it->second.used = now;
  return it->second.who;
}

void web_sign_ins::remove(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  by_token_.erase(token);
}

size_t web_sign_ins::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_token_.size();
}

void web_sign_ins::evict_locked(std::chrono::steady_clock::time_point now) {
  for (auto it = by_token_.begin(); it != by_token_.end();)
    it = now - it->second.used > limits_.idle || now - it->second.made > limits_.max_age ? by_token_.erase(it)
                                                                                           : std::next(it);
}

}  // namespace pchat::app
