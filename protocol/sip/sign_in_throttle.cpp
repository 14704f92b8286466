#include "protocol/sip/sign_in_throttle.h"

#include <algorithm>

namespace pchat::sip {

sign_in_throttle::key_state* sign_in_throttle::find(table& t, std::string_view key, clock::time_point now) {
  auto it = t.keys.find(std::string(key));
  if (it == t.keys.end()) return nullptr;
  if (now - it->second.last_failure > limits_.forget_after) {
    t.order.erase(it->second.age);
    t.keys.erase(it);
    return nullptr;
  }
  return &it->second;
}

std::chrono::milliseconds sign_in_throttle::wait(std::string_view user, std::string_view source,
                                                 clock::time_point now) {
  std::lock_guard<std::mutex> l(mu_);
  clock::time_point until{};
  if (auto* u = find(users_, cut(user), now)) until = std::max(until, u->blocked_until);
  if (auto* s = find(sources_, cut(source), now)) until = std::max(until, s->blocked_until);
  if (until <= now) return std::chrono::milliseconds(0);
  // Rounded up: a caller that waits exactly this long is let through.
  return std::chrono::ceil<std::chrono::milliseconds>(until - now);
}

int sign_in_throttle::fail(table& t, std::string_view key, int free_failures, clock::time_point now,
                           std::chrono::milliseconds* delay) {
  key_state* k = find(t, key, now);
  if (!k) {
    // Forget expired keys from the old end first, then the oldest if still full.
    while (!t.order.empty() && now - t.keys.at(t.order.front()).last_failure > limits_.forget_after) {
      t.keys.erase(t.order.front());
      t.order.pop_front();
    }
    if (limits_.max_keys > 0 && t.keys.size() >= limits_.max_keys) {
      t.keys.erase(t.order.front());
      t.order.pop_front();
    }
    t.order.emplace_back(key);
    k = &t.keys[t.order.back()];
    k->age = std::prev(t.order.end());
  } else {
    t.order.splice(t.order.end(), t.order, k->age);  // now the most recent
  }
  k->failures = std::min(k->failures + 1, 1 << 20);
  k->last_failure = now;
  if (k->failures >= free_failures) {
    int doublings = std::min(k->failures - free_failures, 30);
    auto d = limits_.base_delay;
    for (int i = 0; i < doublings && d < limits_.max_delay; ++i) d *= 2;
    d = std::min(d, limits_.max_delay);
    k->blocked_until = now + d;
    *delay = std::max(*delay, d);
  }
  return k->failures;
}

sign_in_throttle::outcome sign_in_throttle::failed(std::string_view user, std::string_view source,
                                                   clock::time_point now) {
  std::lock_guard<std::mutex> l(mu_);
  outcome o;
  o.user_failures = fail(users_, cut(user), limits_.user_free_failures, now, &o.delay);
  o.source_failures = fail(sources_, cut(source), limits_.source_free_failures, now, &o.delay);
  return o;
}

void sign_in_throttle::succeeded(std::string_view user) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = users_.keys.find(std::string(cut(user)));
  if (it == users_.keys.end()) return;
  users_.order.erase(it->second.age);
  users_.keys.erase(it);
}

}  // namespace pchat::sip
