// The web client's signed-in browsers (docs/WEB.md, "Sign-in"): an unguessable token per
// sign-in, carried by the browser as an HttpOnly, SameSite=Strict cookie, with a second
// token (csrf) the page sends in a header on writes. In memory only: a restart signs every
// browser out (the page signs in again).
//
// Limits: a sign-in unused for `idle` (default 30 min) or older than `max_age` (12 h) is
// gone; at most `max_total` (10,000) sign-ins, the least recently used going first beyond,
// and `max_per_user` (20) per user, that user's oldest going first.
//
// Threads: any thread (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace pchat::app {

struct web_sign_in {
  std::string user;   // lower-case SIP URI
  std::string csrf;   // sent back by the page in X-PChat-CSRF on writes
  std::string ha1;    // the user's HA1 at sign-in: a new password (or none) ends the sign-in
};

struct web_sign_in_limits {
  std::chrono::milliseconds idle{30 * 60 * 1000};
  std::chrono::milliseconds max_age{12 * 3600 * 1000};
  size_t max_total = 10'000;
  size_t max_per_user = 20;
};

class web_sign_ins {
 public:
  explicit web_sign_ins(web_sign_in_limits limits = {}) : limits_(limits) {}
  // A new sign-in for `user`: its token (the cookie's value) and its csrf token.
  std::pair<std::string, web_sign_in> add(const std::string& user, const std::string& ha1);
  // The sign-in of `token` if it is live (its idle time starts again).
  std::optional<web_sign_in> find(const std::string& token);
  // Signs the token out (nothing if unknown).
  void remove(const std::string& token);
  size_t size() const;

 private:
  struct entry {
    web_sign_in who;
    std::chrono::steady_clock::time_point made, used;
  };
  void evict_locked(std::chrono::steady_clock::time_point now);
  web_sign_in_limits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, entry> by_token_;
};

}  // namespace pchat::app
