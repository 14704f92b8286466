// etcd_client: a blocking client of etcd 3.4's v3 JSON gateway (HTTP/1.1 POST /v3/...,
// keys and values base64, 64-bit numbers as JSON strings). What the pool keeps in etcd
// goes through it: node leases, room ownership claims (create-if-absent; the claim's
// create_revision is the room's epoch), the registry ranges and the directory log.
//
// Endpoints: "http://127.0.0.1:2379,http://127.0.0.2:2379" (host: an IPv4/IPv6 address, or
// a name looked up once by create(), so a call never waits on a resolver). A call starts at the
// endpoint that answered last; on a transport failure (refused, reset, timed out, an answer
// that is not HTTP) or etcd saying it is unavailable it moves to the next, until every
// endpoint was tried once or the call's deadline passed. One keep-alive connection is
// reused between calls.
//
// Errors are values, never exceptions: every call answers within options.timeout (default
// 1 s) with ok or a status naming the endpoint(s) and what failed:
//   not_found        the key, or the lease (expired or revoked), does not exist
//   io_error         no endpoint answered in time, or etcd refused the request
//   corruption       an endpoint answered something that is not a valid gateway answer
//                    (bad JSON, bad base64, a missing field, an answer over the size bound)
// A request whose answer was lost (timed out after it was sent) may still have been applied
// by etcd: put and the transactions are safe to repeat, callers of create_if_absent compare
// the holder's value with their own.
//
// Threads: internally locked. Any thread may call any method; calls on one client run one
// at a time (each holds the lock for its whole exchange, at most options.timeout). Blocking:
// call it from a detached actor or an I/O thread, never from a cooperative actor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "status/status.h"

namespace pchat::pool {

struct etcd_options {
  // The whole call, every endpoint tried included.
  std::chrono::milliseconds timeout{1000};
  // The largest answer body taken (a range of many keys); a larger one is corruption.
  size_t max_response_bytes = 16u << 20;
};

// One key as etcd holds it. Revisions are etcd's (cluster-wide, only growing).
struct etcd_kv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // puts since the key was created (1 after the first)
  int64_t lease = 0;    // 0: none
};

struct etcd_range {
  int64_t revision = 0;  // the store's revision the range was read at (the header's)
  std::vector<etcd_kv> kvs;
  bool more = false;  // a limit cut the answer short
};

// One condition of a transaction: the key's create or mod revision equals `revision` (0: the
// key does not exist).
struct etcd_compare {
  enum class target { create, mod };
  std::string key;
  target what = target::mod;
  int64_t revision = 0;
};

struct etcd_claim {
  bool created = false;  // true: this call created the key
  etcd_kv holder;        // the key as it is now (ours when created)
};

class etcd_client {
 public:
  // Parses `endpoints` (comma-separated http:// URLs, no path) and looks up host names
  // (blocking). invalid_argument names the first bad one. *out is set on ok only.
  static status create(std::string_view endpoints, const etcd_options& options,
                       std::unique_ptr<etcd_client>* out);
  ~etcd_client();
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  // A lease of `ttl_s` seconds (REQUIRES: ttl_s >= 1); *lease gets its id.
  status grant_lease(int64_t ttl_s, int64_t* lease);
  // Renews the lease; *ttl_s gets its TTL again. not_found once it expired or was revoked.
  status keep_alive(int64_t lease, int64_t* ttl_s);
  // Ends the lease now and deletes every key attached to it. not_found if it did not exist.
  status revoke(int64_t lease);

  // Sets key = value, attached to `lease` (0: none); *revision (may be null) gets the
  // store's revision after the put (the key's new mod_revision). not_found: no such lease.
  status put(std::string_view key, std::string_view value, int64_t lease, int64_t* revision);
  // The key, or not_found.
  status get(std::string_view key, etcd_kv* out);
  // Every key that starts with `prefix` (REQUIRES: non-empty), in key order, and the
  // revision they were read at.
  status range(std::string_view prefix, etcd_range* out);
  // The keys under `prefix` created at a revision >= min_create_revision, oldest first, at
  // most `limit` (REQUIRES: limit >= 1; out->more says whether there are others). For logs
  // kept as keys: read what came after the last revision applied.
  status range_created_since(std::string_view prefix, int64_t min_create_revision, int64_t limit,
                             etcd_range* out);

  // The store's current revision (it grows with every write anywhere in etcd): a cheap
  // check whether anything may have changed since a range.
  status current_revision(int64_t* revision);

  // Creates key = value (attached to `lease`, 0: none) only if the key does not exist, in
  // one transaction (compare create_revision == 0). out->created says whether this call
  // created it; out->holder is the key as it is now either way.
  status create_if_absent(std::string_view key, std::string_view value, int64_t lease,
                          etcd_claim* out);
  // Deletes the key only if it is the one created at `create_revision` (a claim not since
  // lost and remade). *deleted (may be null): whether it was deleted.
  status delete_if(std::string_view key, int64_t create_revision, bool* deleted);
  // Puts every (key, value) of `puts` (no lease) in one transaction, only if every compare
  // holds; *succeeded says whether they did (false: nothing was written).
  status put_if(const std::vector<etcd_compare>& compares,
                const std::vector<std::pair<std::string, std::string>>& puts, bool* succeeded);
  // Deletes the key; *deleted (may be null) gets how many keys went (0 or 1).
  status erase(std::string_view key, int64_t* deleted);

  // The endpoint the next call starts with (for logs and tests).
  std::string current_endpoint() const;

 private:
  struct impl;
  explicit etcd_client(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace pchat::pool
