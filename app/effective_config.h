// effective_config: what a node runs with, where each value comes from, and the one place
// that changes it while the node runs (issue 16 pt 2).
//
// Sources, highest first (the words are actors/live_settings.h's, shown by `pchatctl config
// get` and `compliance get`, docs/ADMIN.md "Effective configuration"):
//   compliance settings: pchatd's command line ("flag") > its --config-file ("config-file")
//                        > the store ("stored", pchatctl compliance set) > "default";
//                        an empty output folder is <data-dir>/compliance ("default").
//   chat settings:       the node's site configuration ("site:NAME", pchatd --site, when it
//                        exists) > the global one ("stored") > "default".
//
// apply() re-reads the store, resolves, validates, and only then publishes into the node's
// live settings (actors/live_settings.h: rooms, the file service and capture read them
// there) and tells the compliance runner (creconf). Called by the admin API after a write
// of the configuration or compliance settings, and by pchatd on SIGHUP with the overrides
// of the re-read command line and config file (set_overrides). A refused change publishes
// nothing: what was in force stays in force.
//
// Threads: any (HTTP handler threads, pchatd's signal thread); changes are serialised by
// one mutex, so two applies publish in the order they read the store.
#pragma once

#include <caf/actor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actors/live_settings.h"
#include "status/status.h"

namespace pchat::storage {
class database;
}

namespace pchat::app {

// The compliance settings given to pchatd itself, each with where it came from (flag or
// config-file; `sources` names only the ones given).
struct config_overrides {
  std::optional<bool> enabled;
  std::optional<std::string> adapter_type;
  std::optional<std::string> output_directory;
  std::optional<int> run_interval_seconds;
  std::chrono::milliseconds test_run_interval{0};  // --compliance-test-run-interval-ms (tests only); 0 unused
  std::map<std::string, std::string> sources;      // setting (the store's names) -> source
  bool operator==(const config_overrides&) const = default;
};

struct config_inputs {
  std::string site;      // pchatd --site ("" none)
  std::string data_dir;  // the default compliance output folder is <data_dir>/compliance
  config_overrides overrides;
};

// `o` over the compliance settings *c (the stored ones, or the defaults when pchatd checks
// its options before it opens the store), noting each overridden setting's source in
// *sources; then validated: invalid_argument names the setting, its range and where the
// offending values came from.
status overlay(const config_overrides& o, storage::compliance_config* c,
               std::map<std::string, std::string>* sources);

// What is wrong with `path` as a folder pchatd must write (it need not exist: its nearest
// existing parent must be a writable folder), or "".
std::string folder_problem(const std::string& path);

class effective_config {
 public:
  explicit effective_config(config_inputs in);

  // What is in force given the store as it is now and the inputs (*out), or why the
  // combination is refused (invalid_argument naming the setting and its source; a store
  // failure as it is).
  status resolve(const storage::database& store, actors::effective_settings* out) const;

  // Once the node exists: where apply() publishes and whom it tells (the runner may be
  // invalid: nothing to tell). attach({}, {}) once the node stopped and before its actor
  // system goes: the runner's handle must not outlive it (the system waits for it).
  void attach(std::shared_ptr<actors::live_settings> live, caf::actor compliance_runner);

  // Resolves and publishes (see above); not_found while no node is attached.
  status apply(const storage::database& store);
  // SIGHUP: the re-read command line's and config file's overrides replace the current
  // ones and are applied; refused (nothing changes) when the result is invalid.
  status set_overrides(const storage::database& store, config_overrides o);

  // The inputs in force (the site, the folder, the overrides).
  config_inputs inputs() const;

 private:
  status resolve_locked(const storage::database& store, const config_inputs& in, actors::effective_settings* out) const;
  status publish_locked(const storage::database& store, const config_inputs& in);

  mutable std::mutex mu_;
  config_inputs in_;
  std::shared_ptr<actors::live_settings> live_;
  caf::actor runner_;
};

}  // namespace pchat::app
