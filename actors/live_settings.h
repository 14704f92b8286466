// live_settings: the settings a node applies without a restart, as they are in force now,
// and where each value comes from. Lync applied these live (Set-CsPersistentChat
// Configuration / ComplianceConfiguration); so do we.
//
//   chat (DefaultChatHistory, ParticipantUpdateLimit, MaxFileSizeKB, RoomManagementUrl):
//     the node's site configuration (--site, when it exists), else the global one, else
//     the built-in defaults;
//   compliance (enabled, adapter, output folder, run interval, the four output switches):
//     pchatd's command line ("flag") over its config file ("config-file") over the stored
//     settings ("stored") over the defaults ("default").
// Who resolves them: app/effective_config.h (start, admin API writes, SIGHUP). Who reads
// them: rooms (history on join, roster mute, compliance capture), capture(), the file
// service (upload limit), the compliance runner (told by creconf, messages.h), status and
// /metrics.
//
// Threads: publish() swaps in a new immutable snapshot atomically; readers take current()
// once per decision (a join, an upload, a post) and never see half of a change. Any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "storage/records.h"

namespace pchat::actors {

// Where a value in force comes from. The words are stable: `pchatctl config get` and
// `compliance get` show them (docs/ADMIN.md "Effective configuration").
inline constexpr const char* kSourceDefault = "default";        // built in, never set
inline constexpr const char* kSourceStored = "stored";          // pchatctl ... set (the store); global scope
inline constexpr const char* kSourceConfigFile = "config-file";  // pchatd --config-file
inline constexpr const char* kSourceFlag = "flag";              // pchatd's command line
// A site's stored configuration is "site:NAME".

struct effective_settings {
  storage::chat_config chat;
  std::string chat_scope = "global";          // the configuration identity in force
  std::string chat_source = kSourceDefault;   // default | stored | site:NAME (one write sets all)
  storage::compliance_config compliance;      // output_directory resolved (never empty in pchatd)
  std::chrono::milliseconds run_interval{15 * 60 * 1000};  // compliance RunInterval in force
  // Per compliance setting (the store's names: enabled, adapter_type, output_directory,
  // run_interval_seconds, one_chat_room_per_output_file, ...): its source. Missing: default.
  std::map<std::string, std::string> compliance_sources;
  std::string compliance_source(const std::string& setting) const {
    auto it = compliance_sources.find(setting);
    return it == compliance_sources.end() ? kSourceDefault : it->second;
  }
};

class live_settings {
 public:
  explicit live_settings(effective_settings initial)
      : current_(std::make_shared<const effective_settings>(std::move(initial))) {}
  std::shared_ptr<const effective_settings> current() const { return current_.load(); }
  void publish(effective_settings s) { current_.store(std::make_shared<const effective_settings>(std::move(s))); }

 private:
  std::atomic<std::shared_ptr<const effective_settings>> current_;
};

}  // namespace pchat::actors
