// The web client's signed-in browsers (docs/WEB.md, "Sign-in"): an unguessable token per
// sign-in, carried by the browser as an HttpOnly, SameSite=Strict cookie, with a second
// token (csrf) the page sends in a header on writes. Kept in a file of the data folder
// when given one (pchatd: <data-dir>/web-sign-ins, rewritten whole and synced on every
// sign-in and sign-out), so that a restart signs no browser out and its page reconnects;
// the file holds SHA-256 digests of the tokens and of the HA1, never a token.
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
  std::string user;        // lower-case SIP URI
  std::string csrf;        // sent back by the page in X-PChat-CSRF on writes
  std::string ha1_digest;  // digest() of the user's HA1 at sign-in: a new password ends it
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
  // Keeps the sign-ins in `dir`/`name` from now on, after taking those it holds (a sign-in
  // is as old as when it was made; its idle time starts now). A file that cannot be read
  // or written is logged, and the sign-ins live in memory.
  void keep_in(const std::string& dir, const std::string& name);
  // A new sign-in for `user` with `ha1` (the directory's): its token (the cookie's value)
  // and its csrf token.
  std::pair<std::string, web_sign_in> add(const std::string& user, const std::string& ha1);
  // The sign-in of `token` if it is live (its idle time starts again).
  std::optional<web_sign_in> find(const std::string& token);
  // Signs the token out (nothing if unknown).
  void remove(const std::string& token);
  size_t size() const;
  // Lower-case hex SHA-256 of `text`.
  static std::string digest(const std::string& text);

 private:
  struct entry {
    web_sign_in who;
    std::chrono::steady_clock::time_point made, used;
    int64_t made_unix = 0;  // seconds: `made` across a restart
  };
  // Removes the expired; true if it removed any.
  bool evict_locked(std::chrono::steady_clock::time_point now);
  // Rewrites the file (if kept in one) from by_token_.
  void save_locked();
  web_sign_in_limits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, entry> by_token_;  // by digest(token)
  std::string dir_, name_;                           // the file; empty: memory only
};

}  // namespace pchat::app
