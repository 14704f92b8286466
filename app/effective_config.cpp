#include "app/effective_config.h"

#include <unistd.h>

#include <caf/all.hpp>

#include <filesystem>

#include "actors/messages.h"
#include "log/log.h"
#include "storage/configuration.h"
#include "storage/database.h"
#include "storage/records.h"

namespace pchat::app {
namespace {

// The compliance settings by the store's names, as `compliance get` shows them.
constexpr const char* kComplianceSettings[] = {
    "enabled", "adapter_type", "output_directory", "run_interval_seconds", "one_chat_room_per_output_file",
    "add_user_details", "add_chat_room_details", "create_file_attachments_manifest"};

std::string source_of(const config_overrides& o, const std::string& setting) {
  auto it = o.sources.find(setting);
  return it == o.sources.end() ? actors::kSourceFlag : it->second;
}

}  // namespace

status overlay(const config_overrides& o, storage::compliance_config* c, std::map<std::string, std::string>* sources) {
  std::string given;  // which overrides, to name them when the result is refused
  auto over = [&](const char* setting, auto& field, const auto& value) {
    if (!value) return;
    field = *value;
    (*sources)[setting] = source_of(o, setting);
    given += (given.empty() ? "" : ", ") + std::string(setting) + " from " + source_of(o, setting);
  };
  over("enabled", c->enabled, o.enabled);
  over("adapter_type", c->adapter_type, o.adapter_type);
  over("output_directory", c->output_directory, o.output_directory);
  over("run_interval_seconds", c->run_interval_seconds, o.run_interval_seconds);
  if (status v = storage::configuration::validate_compliance(*c); !v.is_ok())
    return status::invalid_argument(v.reason() + (given.empty() ? " (stored)" : " (given: " + given + ")"));
  return status::ok();
}

std::string folder_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  while (!p.empty() && !fs::exists(p, ec) && p != p.parent_path()) p = p.parent_path();
  if (!fs::is_directory(p, ec)) return path + " is not a folder (nor can it be created under one)";
  if (::access(p.c_str(), W_OK | X_OK) != 0)
    return path + ": " + p.string() + " is not writable by this user (uid " + std::to_string(::getuid()) + ")";
  return {};
}

effective_config::effective_config(config_inputs in) : in_(std::move(in)) {}

status effective_config::resolve(const storage::database& store, actors::effective_settings* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  return resolve_locked(store, in_, out);
}

status effective_config::resolve_locked(const storage::database& store, const config_inputs& in,
                                        actors::effective_settings* out) const {
  actors::effective_settings e;
  // Chat settings: the site's configuration when it exists, else the global one.
  bool site_exists = false;
  if (!in.site.empty()) {
    status s = store.configuration().get_at("site:" + in.site, &e.chat, &site_exists);
    if (!s.is_ok() && !s.is_not_found()) return s;
  }
  if (site_exists) {
    e.chat_scope = "site:" + in.site;
    e.chat_source = e.chat_scope;
  } else {
    bool written = false;
    if (status s = store.configuration().get(&e.chat); !s.is_ok()) return s;
    if (status s = store.configuration().written_at("global", &written); !s.is_ok()) return s;
    e.chat_scope = "global";
    e.chat_source = written ? actors::kSourceStored : actors::kSourceDefault;
  }
  // Compliance: the overrides over the stored settings over the defaults.
  storage::compliance_config& c = e.compliance;
  bool stored = false;
  if (status s = store.configuration().get_compliance(&c, &stored); !s.is_ok()) return s;
  if (stored)
    for (const char* k : kComplianceSettings) e.compliance_sources[k] = actors::kSourceStored;
  if (stored && c.output_directory.empty()) e.compliance_sources.erase("output_directory");
  const config_overrides& o = in.overrides;
  if (status v = overlay(o, &c, &e.compliance_sources); !v.is_ok()) return v;
  if (c.output_directory.empty()) {
    c.output_directory = in.data_dir + "/compliance";
    e.compliance_sources.erase("output_directory");
  }
  e.run_interval = std::chrono::milliseconds(int64_t{c.run_interval_seconds} * 1000);
  if (o.test_run_interval.count() != 0) {
    e.run_interval = o.test_run_interval;
    e.compliance_sources["run_interval_seconds"] = source_of(o, "run_interval_ms");
  }
  *out = std::move(e);
  return status::ok();
}

void effective_config::attach(std::shared_ptr<actors::live_settings> live, caf::actor compliance_runner) {
  std::lock_guard<std::mutex> lock(mu_);
  live_ = std::move(live);
  runner_ = std::move(compliance_runner);
}

status effective_config::publish_locked(const storage::database& store, const config_inputs& in) {
  if (!live_) return status::not_found("no running node to apply the settings to (starting or stopping)");
  actors::effective_settings e;
  if (status s = resolve_locked(store, in, &e); !s.is_ok()) return s;
  auto before = live_->current();
  bool compliance_changed = before->compliance.enabled != e.compliance.enabled ||
                            before->compliance.adapter_type != e.compliance.adapter_type ||
                            before->compliance.output_directory != e.compliance.output_directory ||
                            before->compliance.one_chat_room_per_output_file !=
                                e.compliance.one_chat_room_per_output_file ||
                            before->compliance.add_user_details != e.compliance.add_user_details ||
                            before->compliance.add_chat_room_details != e.compliance.add_chat_room_details ||
                            before->compliance.create_file_attachments_manifest !=
                                e.compliance.create_file_attachments_manifest ||
                            before->run_interval != e.run_interval;
  std::string fields = "scope=" + e.chat_scope + " default_chat_history=" +
                       std::to_string(e.chat.default_chat_history) + " participant_update_limit=" +
                       std::to_string(e.chat.participant_update_limit) + " max_file_size_kb=" +
                       std::to_string(e.chat.max_file_size_kb) +
                       " compliance=" + (e.compliance.enabled ? "true" : "false") +
                       " adapter=" + e.compliance.adapter_type +
                       " interval_ms=" + std::to_string(e.run_interval.count());
  live_->publish(std::move(e));
  // The runner reads the new settings itself; rooms, capture and the file service read
  // them at their next use.
  if (compliance_changed && runner_) caf::anon_send(runner_, actors::creconf_atom::value);
  PCHAT_LOG(info, "config", "settings in force", fields);
  return status::ok();
}

status effective_config::apply(const storage::database& store) {
  std::lock_guard<std::mutex> lock(mu_);
  return publish_locked(store, in_);
}

status effective_config::set_overrides(const storage::database& store, config_overrides o) {
  std::lock_guard<std::mutex> lock(mu_);
  config_inputs next = in_;
  next.overrides = std::move(o);
  if (status s = publish_locked(store, next); !s.is_ok()) return s;
  in_ = std::move(next);
  return status::ok();
}

config_inputs effective_config::inputs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_;
}

}  // namespace pchat::app
