// sign_in_throttle: failed sign-ins make the next attempts wait, per user and per source
// address, with delays that double with each further failure (SIP Digest and HTTP Basic
// share one, so alternating between them buys a guesser nothing).
//
// A key (a user's address, or a source IP) may fail `free_failures` times without delay;
// from then on each failure blocks the key for base_delay doubling up to max_delay. While
// a key is blocked its attempts are refused without checking the password (SIP 403 with
// Retry-After, HTTP 429), so guessing is limited to about one try per max_delay, and the
// right password works again as soon as the delay has passed. A success clears the user's
// count, never the source's (a guesser holding one valid account must not reset its own
// address). A key with no failure for `forget_after` is forgotten. The user limit is
// lower than the source one: many users share an address behind NAT or a front end.
// The cost: a guesser can keep one user waiting up to max_delay between attempts.
//
// Bounded: each table holds at most `max_keys` keys; beyond, the key whose last failure
// is oldest is forgotten. A key is cut to `max_key_bytes` (256) before it is looked up or
// kept, so a table costs at most ~400 bytes a key (~26 MiB for 65,536), whatever length
// of user name a client sends (a 16 KiB name per key would be ~1 GiB). Names that share
// their first 256 bytes share a count, which costs an honest user nothing: addresses are
// far shorter.
// Thread safety: every method may be called from any thread (the SIP thread, the HTTP
// handler threads); one mutex, taken only by sign-in attempts that carry credentials.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pchat::sip {

struct sign_in_throttle_limits {
  int user_free_failures = 5;
  int source_free_failures = 20;
  std::chrono::milliseconds base_delay{1000};
  std::chrono::milliseconds max_delay{30000};
  std::chrono::seconds forget_after{900};
  size_t max_keys = 65536;      // per table (users, sources)
  size_t max_key_bytes = 256;   // longer keys are cut to this
};

class sign_in_throttle {
 public:
  using clock = std::chrono::steady_clock;
  explicit sign_in_throttle(sign_in_throttle_limits l = {}) : limits_(l) {}

  // How long an attempt for `user` ("sip:alice@example.com", lower-case) from `source`
  // (an IP address) must still wait; zero: check it now.
  std::chrono::milliseconds wait(std::string_view user, std::string_view source,
                                 clock::time_point now = clock::now());
  struct outcome {
    int user_failures = 0;
    int source_failures = 0;
    std::chrono::milliseconds delay{0};  // what the next attempt now waits (the longer)
  };
  // A checked attempt failed (wrong password, unknown user, replayed answer).
  outcome failed(std::string_view user, std::string_view source, clock::time_point now = clock::now());
  // A checked attempt succeeded: the user's failures are forgotten.
  void succeeded(std::string_view user);

  const sign_in_throttle_limits& limits() const { return limits_; }

 private:
  struct key_state {
    int failures = 0;
    clock::time_point last_failure{};
    clock::time_point blocked_until{};
    std::list<std::string>::iterator age;
  };
  struct table {
    std::unordered_map<std::string, key_state> keys;
    std::list<std::string> order;  // least recently failed first
  };
  std::string_view cut(std::string_view key) const { return key.substr(0, limits_.max_key_bytes); }
  key_state* find(table& t, std::string_view key, clock::time_point now);
  int fail(table& t, std::string_view key, int free_failures, clock::time_point now,
           std::chrono::milliseconds* delay);

  const sign_in_throttle_limits limits_;
  std::mutex mu_;
  table users_;
  table sources_;
};

}  // namespace pchat::sip
