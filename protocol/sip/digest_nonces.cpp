#include "protocol/sip/digest_nonces.h"

#include <openssl/evp.h>

#include <algorithm>

#include "protocol/sip/random_token.h"

namespace pchat::sip {

uint32_t digest_nonces::parse_count(std::string_view nc) {
  if (nc.empty() || nc.size() > 8) return 0;
  uint32_t v = 0;
  for (char ch : nc) {
    int d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (d < 0) return 0;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  return v;
}

std::string digest_nonces::key_digest(std::string_view request_key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(request_key.data(), request_key.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string digest_nonces::issue(uint64_t scope, int64_t now_s) {
  // Expired nonces are at the front: drop them first, they are stale anyway.
  while (!order_.empty() && now_s - by_nonce_.at(order_.front()).issued_s > limits_.max_age_s)
    erase(std::string(order_.front()));
  auto& mine = by_scope_[scope];
  if (limits_.per_scope > 0 && mine.size() >= limits_.per_scope) erase(std::string(mine.front()));
  if (limits_.capacity > 0 && by_nonce_.size() >= limits_.capacity) erase(std::string(order_.front()));
  std::string nonce = random_hex(16);
  order_.push_back(nonce);
  entry e;
  e.scope = scope;
  e.issued_s = now_s;
  e.age = std::prev(order_.end());
  by_nonce_.emplace(nonce, std::move(e));
  by_scope_[scope].push_back(nonce);  // `mine` may have been invalidated by erase()
  return nonce;
}

digest_nonces::verdict digest_nonces::check(std::string_view nonce, std::string_view nc,
                                            uint64_t scope, std::string_view request_key,
                                            int64_t now_s) const {
  auto it = by_nonce_.find(std::string(nonce));
  if (it == by_nonce_.end() || it->second.scope != scope) return verdict::stale;
  const entry& e = it->second;
  uint32_t n = nc.empty() ? 1 : parse_count(nc);
  if (n == 0) return verdict::bad_count;
  if (n <= e.nc) {
    if (n < e.nc) return verdict::replayed;
    std::string key = key_digest(request_key);
    return !key.empty() && key == e.answered_by ? verdict::retransmission : verdict::replayed;
  }
  // now_s is the caller's monotonic clock: a nonce is never issued in its future.
  if (now_s - e.issued_s > limits_.max_age_s) return verdict::stale;
  return verdict::fresh;
}

void digest_nonces::accept(std::string_view nonce, std::string_view nc, std::string_view request_key) {
  auto it = by_nonce_.find(std::string(nonce));
  if (it == by_nonce_.end()) return;
  uint32_t n = nc.empty() ? 1 : parse_count(nc);
  if (n <= it->second.nc) return;
  it->second.nc = n;
  it->second.answered_by = key_digest(request_key);
}

void digest_nonces::forget(uint64_t scope) {
  auto s = by_scope_.find(scope);
  if (s == by_scope_.end()) return;
  std::vector<std::string> nonces = std::move(s->second);
  by_scope_.erase(s);
  for (const auto& n : nonces) {
    auto it = by_nonce_.find(n);
    if (it == by_nonce_.end()) continue;
    order_.erase(it->second.age);
    by_nonce_.erase(it);
  }
}

void digest_nonces::erase(const std::string& nonce) {
  auto it = by_nonce_.find(nonce);
  if (it == by_nonce_.end()) return;
  uint64_t scope = it->second.scope;
  order_.erase(it->second.age);
  by_nonce_.erase(it);
  auto s = by_scope_.find(scope);
  if (s == by_scope_.end()) return;
  std::erase(s->second, nonce);
  if (s->second.empty()) by_scope_.erase(s);
}

}  // namespace pchat::sip
