// digest_nonces: the Digest nonces the SIP edge handed out (RFC 7616 §3.3, §5.12), so that
// an answer is good once. A nonce is 128 random bits (random_token.h), bound to the
// connection it was sent on, good for max_age_s, and an answer is accepted only with a
// nonce count (nc) above every one accepted for that nonce before: a captured answer
// replayed (same nonce, same or lower nc) is refused. SIPE answers each challenge once with
// nc=00000001 and a fresh nonce (sip_digest.h), standard clients count up on one nonce.
//
// Bounded memory: at most `capacity` nonces (32,768, ~250 bytes each: ~8 MiB at worst) and
// `per_scope` (8) per connection; beyond either, the oldest is forgotten. The request key
// (Call-ID and CSeq, as long as a message allows) is kept as its SHA-256, 32 bytes, so a
// client choosing long Call-IDs grows nothing; a hash no one can aim at, so a replay
// cannot pass for the accepted request's retransmission. A forgotten, expired or other connection's nonce is `stale`: the client is
// challenged again with stale=true and answers the fresh nonce without asking its user, so
// a flood of challenges costs an honest client one round trip, never its sign-in.
// Thread safety: none; the SIP thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pchat::sip {

class digest_nonces {
 public:
  struct limits {
    size_t capacity = 32768;  // nonces remembered, all connections
    size_t per_scope = 8;     // nonces remembered per connection
    int max_age_s = 300;      // a nonce older than this is stale
  };
  explicit digest_nonces(limits l) : limits_(l) {}
  digest_nonces() : digest_nonces(limits{}) {}

  // Times (`now_s`) are seconds of a monotonic clock (steady_clock), the same for every call.
  // A new nonce (32 hex digits) for connection `scope`.
  std::string issue(uint64_t scope, int64_t now_s);

  enum class verdict {
    fresh,           // known, in time, nc above every accepted one: check the digest
    retransmission,  // the request that was accepted with this nonce and nc, sent again
    replayed,        // nc not above one accepted before, from another request: refuse
    stale,           // unknown here (never issued, forgotten, another connection's) or expired
    bad_count,       // nc is not 1..8 hex digits, or zero
  };
  // What an answer with `nonce` and nonce count `nc` (empty: RFC 2069 answer without qop,
  // counted as 1) is worth on connection `scope`, before its digest is checked.
  // `request_key` names the request (Call-ID and CSeq) so that a retransmission of the
  // accepted request is told from a replay. Changes nothing.
  verdict check(std::string_view nonce, std::string_view nc, uint64_t scope,
                std::string_view request_key, int64_t now_s) const;
  // The digest of an answer with this nonce and nc was right: later answers need a higher
  // nc. REQUIRES: check() said fresh for it just before.
  void accept(std::string_view nonce, std::string_view nc, std::string_view request_key);
  // The connection ended: its nonces go.
  void forget(uint64_t scope);
  size_t size() const { return by_nonce_.size(); }

  // nc as a number (1..0xffffffff); 0 if it is not 1..8 hex digits or is zero.
  static uint32_t parse_count(std::string_view nc);

 private:
  struct entry {
    uint64_t scope = 0;
    int64_t issued_s = 0;
    uint32_t nc = 0;          // highest accepted (0: none yet)
    std::string answered_by;  // SHA-256 (32 bytes) of the request key of that acceptance
    std::list<std::string>::iterator age;
  };
  void erase(const std::string& nonce);
  static std::string key_digest(std::string_view request_key);

  limits limits_;
  std::unordered_map<std::string, entry> by_nonce_;
  std::list<std::string> order_;  // oldest first (nonces are issued in time order)
  std::unordered_map<uint64_t, std::vector<std::string>> by_scope_;  // oldest first
};

}  // namespace pchat::sip
