// What pchatd knows about itself that its HTTP services show: version, start time, where it
// keeps its data and where it listens. Filled by pchatd before the HTTP server starts and
// read by the status, metrics, health and backup handlers.
//
// Thread safety: written only before http_server::start() (whose threads then read it; the
// thread start orders the writes before the reads), read-only afterwards.
#pragma once

#include <cstdint>
#include <string>

namespace pchat::web {
class http_server;
}

namespace pchat::app {

struct node_facts {
  std::string version;         // the build's version (CMake project version)
  std::string data_dir;        // --data-dir as given
  std::string host;            // --host
  int64_t started_micros = 0;  // wall clock, Unix epoch
  const web::http_server* http = nullptr;  // its port() and stats(); null in tests without one
};

}  // namespace pchat::app
