// node_record: a node's entry in the pool registry (/<pool>/nodes/<name>, bound to the
// node's lease): where other nodes reach it and what `pchatctl pool status` shows. Its one
// codec (JSON) is here.
//
//   {"name":"n1","tag":4711,"host":"127.0.0.1","pool_port":7101,"sip_port":5041,
//    "http_port":8011,"draining":false}
//
// Threads: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "status/status.h"

namespace pchat::pool {

struct node_record {
  std::string name;
  uint16_t tag = 0;
  std::string host;
  uint16_t pool_port = 0;
  uint16_t sip_port = 0;
  uint16_t http_port = 0;
  bool draining = false;
};

std::string encode(const node_record& r);
// invalid_argument (with the reason) unless `json` is a node record with a valid name
// (pool_settings.h), a non-zero tag and pool port, and ports in range.
status decode(std::string_view json, node_record* out);

}  // namespace pchat::pool
