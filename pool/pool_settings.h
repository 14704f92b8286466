// pool_settings: what one node needs to join a pool (pchatd's --etcd, --node-name,
// --pool-host, --pool-port, --pool-name; docs/POOL.md "Running a pool"), and the checks
// they pass before anything starts.
//
// Threads: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "status/status.h"

namespace pchat::pool {

struct pool_settings {
  std::string node_name;                // stable across restarts; placement is over names
  std::string host = "127.0.0.1";       // the BASP listener other nodes connect to
  uint16_t port = 0;                    // its port; 0 = a free one (the registry says which)
  std::string etcd;                     // "http://IP:PORT[,...]" (etcd_client.h parses it)
  std::string pool_name = "pchat";      // the etcd key prefix: /<pool_name>/...
};

// Names of nodes and pools become etcd keys and log fields: 1..63 of [A-Za-z0-9._-], not
// starting with '.' or '-'.
constexpr size_t kMaxNameLength = 63;
bool valid_name(std::string_view name);

// What is wrong with `s` (named as pchatd's options), or ok. The host must be a numeric
// IPv4 or IPv6 address other nodes can connect to (not a wildcard: it is registered).
status check(const pool_settings& s);

}  // namespace pchat::pool
