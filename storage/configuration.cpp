#include "storage/configuration.h"

#include <string_view>

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/writer.h"

namespace pchat::storage {

namespace {

struct config_range {
  std::string_view setting;
  int chat_config::*field;
  int min;
  int max;
};

// Valid ranges of the integer settings (Set-CsPersistentChatConfiguration limits).
constexpr config_range kConfigRanges[] = {
    {keys::kDefaultChatHistory, &chat_config::default_chat_history, 1, 500},
    {keys::kMaxFileSizeKB, &chat_config::max_file_size_kb, 1, 2097152},
    {keys::kParticipantUpdateLimit, &chat_config::participant_update_limit, 1, 10000},
};

// RunInterval limits of Set-CsPersistentChatComplianceConfiguration: 1 minute .. 30 days.
constexpr int kMinRunIntervalSeconds = 60;
constexpr int kMaxRunIntervalSeconds = 30 * 24 * 3600;

struct compliance_flag {
  std::string_view setting;
  bool compliance_config::*field;
};
constexpr compliance_flag kComplianceFlags[] = {
    {keys::kComplianceEnabled, &compliance_config::enabled},
    {keys::kOneChatRoomPerOutputFile, &compliance_config::one_chat_room_per_output_file},
    {keys::kAddUserDetails, &compliance_config::add_user_details},
    {keys::kAddChatRoomDetails, &compliance_config::add_chat_room_details},
    {keys::kCreateFileAttachmentsManifest, &compliance_config::create_file_attachments_manifest},
};

// Settings of a scope other than global live under "<identity>/<setting>", with the
// marker "<identity>/" saying the scope exists (New-CsPersistentChatConfiguration).
bool valid_scope(const std::string& identity) {
  return identity == "global" || (identity.rfind("site:", 0) == 0 && identity.size() > 5 &&
                                  identity.find('/') == std::string::npos &&
                                  identity.find('\0') == std::string::npos);
}

status bad_scope(const std::string& identity) {
  return status::invalid_argument("configuration identity must be global or site:<name>, got '" + identity + "'");
}

// Reads one setting: *found false if never written.
status read_setting(const db& d, const std::string& key, std::string_view setting, std::string* value,
                    bool* found) {
  status s = d.get(column::config, key, value, "get config " + std::string(setting));
  *found = s.is_ok();
  return s.is_not_found() ? status::ok() : s;
}

}  // namespace

status configuration::validate(const chat_config& c) {
  for (const auto& r : kConfigRanges) {
    int v = c.*r.field;
    if (v < r.min || v > r.max) {
      return status::invalid_argument(std::string(r.setting) + " " + std::to_string(v) +
                                      " is out of range " + std::to_string(r.min) + ".." +
                                      std::to_string(r.max));
    }
  }
  return status::ok();
}

status configuration::get(chat_config* out) const { return get_at("global", out, nullptr); }

status configuration::put(const chat_config& c) { return put_at("global", c); }

status configuration::get_at(const std::string& identity, chat_config* out, bool* exists) const {
  if (!valid_scope(identity)) return bad_scope(identity);
  std::string value;
  bool found = false;
  if (identity != "global") {
    if (status s = read_setting(db_, keys::scoped_config_key(identity, ""), identity, &value, &found);
        !s.is_ok()) {
      return s;
    }
    if (exists) *exists = found;
    if (!found) return status::not_found("configuration " + identity);
  } else if (exists) {
    *exists = true;
  }
  chat_config c;  // defaults for every setting never written
  for (const auto& r : kConfigRanges) {
    if (status s = read_setting(db_, keys::scoped_config_key(identity, r.setting), r.setting, &value, &found);
        !s.is_ok()) {
      return s;
    }
    if (!found) continue;
    if (status d = get_config_int(r.setting, value, &(c.*r.field)); !d.is_ok()) return d;
  }
  if (status s = read_setting(db_, keys::scoped_config_key(identity, keys::kRoomManagementUrl),
                              keys::kRoomManagementUrl, &value, &found);
      !s.is_ok()) {
    return s;
  }
  if (found) c.room_management_url = std::move(value);
  // put never stores an out-of-range value, so one on disk was not written by us.
  if (status v = validate(c); !v.is_ok()) return status::corruption("config: " + v.reason());
  *out = std::move(c);
  return status::ok();
}

status configuration::put_at(const std::string& identity, const chat_config& c) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (!valid_scope(identity)) return bad_scope(identity);
  if (status s = validate(c); !s.is_ok()) return s;
  rocksdb::ColumnFamilyHandle* cf = db_.cf(column::config);
  rocksdb::WriteBatch b;
  rocksdb::Status s;
  for (const auto& r : kConfigRanges) {
    std::string value;
    put_config_int(&value, c.*r.field);
    if (s.ok()) s = b.Put(cf, keys::scoped_config_key(identity, r.setting), value);
  }
  if (s.ok()) s = b.Put(cf, keys::scoped_config_key(identity, keys::kRoomManagementUrl), c.room_management_url);
  if (s.ok() && identity != "global") s = b.Put(cf, keys::scoped_config_key(identity, ""), "1");
  if (!s.ok()) return from_rocksdb(s, "put config");
  return writer_.write_shared(&b);
}

status configuration::remove_at(const std::string& identity) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (identity == "global") return status::invalid_argument("the global configuration cannot be removed");
  bool exists = false;
  chat_config ignored;
  if (status s = get_at(identity, &ignored, &exists); !s.is_ok()) return s;
  rocksdb::ColumnFamilyHandle* cf = db_.cf(column::config);
  rocksdb::WriteBatch b;
  rocksdb::Status s;
  for (const auto& r : kConfigRanges)
    if (s.ok()) s = b.Delete(cf, keys::scoped_config_key(identity, r.setting));
  if (s.ok()) s = b.Delete(cf, keys::scoped_config_key(identity, keys::kRoomManagementUrl));
  if (s.ok()) s = b.Delete(cf, keys::scoped_config_key(identity, ""));
  if (!s.ok()) return from_rocksdb(s, "delete config");
  return writer_.write_shared(&b);
}

status configuration::validate_compliance(const compliance_config& c) {
  if (c.adapter_type != "xml" && c.adapter_type != "csv") {
    return status::invalid_argument("ComplianceAdapterType '" + c.adapter_type +
                                    "' is not one of xml, csv");
  }
  if (c.run_interval_seconds < kMinRunIntervalSeconds ||
      c.run_interval_seconds > kMaxRunIntervalSeconds) {
    return status::invalid_argument("RunInterval " + std::to_string(c.run_interval_seconds) +
                                    " s is out of range " + std::to_string(kMinRunIntervalSeconds) +
                                    ".." + std::to_string(kMaxRunIntervalSeconds) + " s");
  }
  return status::ok();
}

status configuration::written_at(const std::string& identity, bool* written) const {
  if (!valid_scope(identity)) return bad_scope(identity);
  std::string value;
  return read_setting(db_, keys::scoped_config_key(identity, keys::kDefaultChatHistory), keys::kDefaultChatHistory,
                      &value, written);
}

status configuration::get_compliance(compliance_config* out, bool* written) const {
  compliance_config c;
  std::string value;
  bool found = false;
  if (written) *written = false;
  for (const auto& f : kComplianceFlags) {
    if (status s = read_setting(db_, keys::config_key(f.setting), f.setting, &value, &found); !s.is_ok())
      return s;
    if (!found) continue;
    if (written) *written = true;
    if (value != "0" && value != "1") {
      return status::corruption("config " + std::string(f.setting) + ": not 0 or 1");
    }
    c.*f.field = value == "1";
  }
  if (status s = read_setting(db_, keys::config_key(keys::kComplianceAdapterType), keys::kComplianceAdapterType,
                              &value, &found);
      !s.is_ok()) {
    return s;
  }
  if (found) c.adapter_type = value;
  if (status s = read_setting(db_, keys::config_key(keys::kComplianceOutputDirectory),
                              keys::kComplianceOutputDirectory, &value, &found);
      !s.is_ok()) {
    return s;
  }
  if (found) c.output_directory = value;
  if (status s = read_setting(db_, keys::config_key(keys::kComplianceRunInterval), keys::kComplianceRunInterval,
                              &value, &found);
      !s.is_ok()) {
    return s;
  }
  if (found) {
    if (status d = get_config_int(keys::kComplianceRunInterval, value, &c.run_interval_seconds); !d.is_ok()) {
      return d;
    }
  }
  if (status v = validate_compliance(c); !v.is_ok()) return status::corruption("config: " + v.reason());
  *out = std::move(c);
  return status::ok();
}

status configuration::put_compliance(const compliance_config& c) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = validate_compliance(c); !s.is_ok()) return s;
  rocksdb::ColumnFamilyHandle* cf = db_.cf(column::config);
  rocksdb::WriteBatch b;
  rocksdb::Status s;
  for (const auto& f : kComplianceFlags) {
    if (s.ok()) s = b.Put(cf, keys::config_key(f.setting), (c.*f.field) ? "1" : "0");
  }
  std::string interval;
  put_config_int(&interval, c.run_interval_seconds);
  if (s.ok()) s = b.Put(cf, keys::config_key(keys::kComplianceRunInterval), interval);
  if (s.ok()) s = b.Put(cf, keys::config_key(keys::kComplianceAdapterType), c.adapter_type);
  if (s.ok()) s = b.Put(cf, keys::config_key(keys::kComplianceOutputDirectory), c.output_directory);
  if (!s.ok()) return from_rocksdb(s, "put compliance config");
  return writer_.write_shared(&b);
}

}  // namespace pchat::storage
