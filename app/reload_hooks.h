// reload_hooks: what pchatd reloads on SIGHUP besides its own options (those are
// app/pchatd.cpp's reload_on_sighup and app/effective_config.h): a small registry of named
// callbacks, e.g. the TLS certificates of the SIP and HTTP listeners.
//
// Registering: in pchatd's main(), once the service exists and before the node serves
// (before the signal loop), e.g.
//     reload.add("tls-certificates", [&] { return edge.reload_certificates(); });
// Running: on every SIGHUP, after the options were re-read (whether they were accepted or
// not: a renewed certificate does not wait for a valid config file), in registration
// order, on pchatd's main thread (the signal thread: no CAF worker, no SIP loop, no HTTP
// thread), one at a time.
// A hook:
//   - reads what it needs (files named by the options in force at start; a changed path is
//     an option change and needs a restart) and hands the result to the thread that owns
//     the state through that service's own thread-safe call; it may block briefly (file
//     reads), never for long: the next SIGHUP and SIGTERM wait for it;
//   - returns a status: ok, or why nothing was changed (the old state stays in force). It
//     must not throw and must never drop a connection.
// Each outcome is logged (info when ok, error with the reason otherwise).
//
// Threads: add() only before the signal loop (main thread); run() on the main thread.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "status/status.h"

namespace pchat::app {

class reload_hooks {
 public:
  using hook = std::function<status()>;
  void add(std::string name, hook h) { hooks_.emplace_back(std::move(name), std::move(h)); }
  // Runs every hook (see above); returns how many failed.
  size_t run() const;
  size_t size() const { return hooks_.size(); }

 private:
  std::vector<std::pair<std::string, hook>> hooks_;
};

}  // namespace pchat::app
