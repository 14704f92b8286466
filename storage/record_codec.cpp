#include "storage/record_codec.h"

#include <charconv>
#include <vector>

namespace pchat::storage {

namespace {

// ---- encoding helpers (grammar in record_codec.h)

void put_varint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

void put_zigzag64(std::string* dst, int64_t v) {
  // Arithmetic on the unsigned value avoids undefined behaviour of left-shifting negatives.
  uint64_t u = static_cast<uint64_t>(v);
  put_varint64(dst, (u << 1) ^ (v < 0 ? ~uint64_t{0} : 0));
}

void put_string(std::string* dst, std::string_view s) {
  put_varint64(dst, s.size());
  dst->append(s);
}

void put_list(std::string* dst, const std::vector<std::string>& list) {
  put_varint64(dst, list.size());
  for (const auto& s : list) put_string(dst, s);
}

void put_bool(std::string* dst, bool b) {
  dst->push_back(b ? '\x01' : '\x00');
}
void put_byte(std::string* dst, uint8_t b) {
  dst->push_back(static_cast<char>(b));
}

// ---- decoding: reads fields from the front of `in_`; the first failure is kept in error()
// and makes every later read fail, so a decoder is a chain of && without per-field checks.
class field_reader {
 public:
  field_reader(std::string_view in, std::string_view record) : in_(in), record_(record) {}

  bool read_version() {
    uint8_t v = 0;
    return read_version_in(kRecordFormatVersion, kRecordFormatVersion, &v);
  }

  // For records with more than one layout: accepts versions first..last, stores it in *v.
  bool read_version_in(uint8_t first, uint8_t last, uint8_t* v) {
    if (!read_byte("format version", v)) return false;
    if (*v < first || *v > last) return fail("unsupported format version " + std::to_string(*v));
    return true;
  }

  bool read_varint(std::string_view field, uint64_t* out) {
    if (!error_.is_ok()) return false;
    uint64_t result = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      if (in_.empty()) return fail("truncated " + std::string(field));
      uint8_t b = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      // The 10th byte may only carry the single top bit of a uint64.
      if (shift == 63 && b > 1) return fail("overlong varint in " + std::string(field));
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = result;
        return true;
      }
    }
    return fail("overlong varint in " + std::string(field));
  }

  bool read_zigzag(std::string_view field, int64_t* out) {
    uint64_t u = 0;
    if (!read_varint(field, &u)) return false;
    *out = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }

  bool read_string(std::string_view field, std::string* out) {
    uint64_t n = 0;
    if (!read_varint(field, &n)) return false;
    if (n > in_.size()) return fail("truncated " + std::string(field));
    out->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }

  // A string field as a view into the input (no copy).
  bool read_view(std::string_view field, std::string_view* out) {
    uint64_t n = 0;
    if (!read_varint(field, &n)) return false;
    if (n > in_.size()) return fail("truncated " + std::string(field));
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

  bool at_end() const { return in_.empty(); }

  bool read_list(std::string_view field, std::vector<std::string>* out) {
    uint64_t n = 0;
    if (!read_varint(field, &n)) return false;
    // Each element takes at least one byte; checking first keeps a garbage count from
    // reserving gigabytes.
    if (n > in_.size()) return fail("truncated " + std::string(field));
    out->clear();
    out->resize(n);
    for (auto& s : *out) {
      if (!read_string(field, &s)) return false;
    }
    return true;
  }

  bool read_bool(std::string_view field, bool* out) {
    uint8_t b = 0;
    if (!read_byte(field, &b)) return false;
    if (b > 1) return fail("bad " + std::string(field) + " flag " + std::to_string(b));
    *out = b == 1;
    return true;
  }

  // Reads one byte and accepts it only if it is <= max_value (the enum's largest value).
  template <typename Enum>
  bool read_enum(std::string_view field, Enum max_value, Enum* out) {
    uint8_t b = 0;
    if (!read_byte(field, &b)) return false;
    if (b > static_cast<uint8_t>(max_value)) {
      return fail("bad " + std::string(field) + " " + std::to_string(b));
    }
    *out = static_cast<Enum>(b);
    return true;
  }

  // Call after the last field: the input must be used up.
  status finish() {
    if (error_.is_ok() && !in_.empty()) {
      fail(std::to_string(in_.size()) + " trailing bytes");
    }
    return error_;
  }

  const status& error() const { return error_; }

 private:
  bool read_byte(std::string_view field, uint8_t* out) {
    if (!error_.is_ok()) return false;
    if (in_.empty()) return fail("truncated " + std::string(field));
    *out = static_cast<uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }

  bool fail(const std::string& why) {
    error_ = status::corruption(std::string(record_) + ": " + why);
    return false;
  }

  std::string_view in_;
  std::string_view record_;
  status error_;
};

}  // namespace

void put_category_record(std::string* dst, const category_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_string(dst, in.id);
  put_string(dst, in.name);
  put_string(dst, in.description);
  put_list(dst, in.allowed_members);
  put_list(dst, in.denied_members);
  put_list(dst, in.creators);
  put_bool(dst, in.file_upload);
  put_bool(dst, in.invitations);
  put_bool(dst, in.chat_history);
}

status get_category_record(std::string_view in, category_record* out) {
  field_reader r(in, "category record");
  r.read_version() && r.read_string("id", &out->id) && r.read_string("name", &out->name) &&
      r.read_string("description", &out->description) &&
      r.read_list("allowed_members", &out->allowed_members) &&
      r.read_list("denied_members", &out->denied_members) &&
      r.read_list("creators", &out->creators) && r.read_bool("file_upload", &out->file_upload) &&
      r.read_bool("invitations", &out->invitations) &&
      r.read_bool("chat_history", &out->chat_history);
  return r.finish();
}

void put_room_record(std::string* dst, const room_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_string(dst, in.id);
  put_string(dst, in.name);
  put_string(dst, in.description);
  put_string(dst, in.category_id);
  put_string(dst, in.topic);
  put_byte(dst, static_cast<uint8_t>(in.type));
  put_byte(dst, static_cast<uint8_t>(in.privacy));
  put_byte(dst, static_cast<uint8_t>(in.invitations));
  put_bool(dst, in.disabled);
  put_string(dst, in.addin);
  put_list(dst, in.members);
  put_list(dst, in.managers);
  put_list(dst, in.presenters);
}

status get_room_record(std::string_view in, room_record* out) {
  field_reader r(in, "room record");
  r.read_version() && r.read_string("id", &out->id) && r.read_string("name", &out->name) &&
      r.read_string("description", &out->description) &&
      r.read_string("category_id", &out->category_id) && r.read_string("topic", &out->topic) &&
      r.read_enum("type", room_type::auditorium, &out->type) &&
      r.read_enum("privacy", room_privacy::secret, &out->privacy) &&
      r.read_enum("invitations", room_invitations::off, &out->invitations) &&
      r.read_bool("disabled", &out->disabled) && r.read_string("addin", &out->addin) &&
      r.read_list("members", &out->members) && r.read_list("managers", &out->managers) &&
      r.read_list("presenters", &out->presenters);
  return r.finish();
}

void put_user_record(std::string* dst, const user_record& in) {
  put_byte(dst, kUserFormatVersion);
  put_string(dst, in.uri);
  put_string(dst, in.display_name);
  put_string(dst, in.ha1);
  put_bool(dst, in.enabled);
  put_string(dst, in.site);
  put_string(dst, in.policy);
  put_string(dst, in.ha1_user);
}

status get_user_record(std::string_view in, user_record* out) {
  field_reader r(in, "user record");
  uint8_t version = 0;
  out->ha1_user.clear();
  r.read_version_in(kRecordFormatVersion, kUserFormatVersion, &version) && r.read_string("uri", &out->uri) &&
      r.read_string("display_name", &out->display_name) && r.read_string("ha1", &out->ha1) &&
      r.read_bool("enabled", &out->enabled) && r.read_string("site", &out->site) &&
      r.read_string("policy", &out->policy) &&
      (version == kRecordFormatVersion || r.read_string("ha1_user", &out->ha1_user));
  return r.finish();
}

void put_group_record(std::string* dst, const group_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_string(dst, in.name);
  put_string(dst, in.description);
  put_list(dst, in.members);
}

status get_group_record(std::string_view in, group_record* out) {
  field_reader r(in, "group record");
  r.read_version() && r.read_string("name", &out->name) &&
      r.read_string("description", &out->description) && r.read_list("members", &out->members);
  return r.finish();
}

void put_addin_record(std::string* dst, const addin_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_string(dst, in.name);
  put_string(dst, in.url);
}

status get_addin_record(std::string_view in, addin_record* out) {
  field_reader r(in, "addin record");
  r.read_version() && r.read_string("name", &out->name) && r.read_string("url", &out->url);
  return r.finish();
}

void put_invitation_record(std::string* dst, const invitation_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_varint64(dst, in.id);
  put_string(dst, in.user);
  put_string(dst, in.room_id);
  put_string(dst, in.inviter);
  put_zigzag64(dst, in.ts_micros);
}

status get_invitation_record(std::string_view in, invitation_record* out) {
  field_reader r(in, "invitation record");
  r.read_version() && r.read_varint("id", &out->id) && r.read_string("user", &out->user) &&
      r.read_string("room_id", &out->room_id) && r.read_string("inviter", &out->inviter) &&
      r.read_zigzag("ts_micros", &out->ts_micros);
  return r.finish();
}

void put_policy_record(std::string* dst, const policy_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_string(dst, in.identity);
  put_bool(dst, in.enable_persistent_chat);
  put_string(dst, in.description);
}

status get_policy_record(std::string_view in, policy_record* out) {
  field_reader r(in, "policy record");
  r.read_version() && r.read_string("identity", &out->identity) &&
      r.read_bool("enable_persistent_chat", &out->enable_persistent_chat) &&
      r.read_string("description", &out->description);
  return r.finish();
}

void put_message_record(std::string* dst, const message_record& in) {
  put_byte(dst, kMessageFormatVersion);
  put_varint64(dst, in.seq);
  put_zigzag64(dst, in.ts_micros);
  put_varint64(dst, in.pid.origin);
  put_varint64(dst, in.pid.counter);
  put_string(dst, in.author);
  put_string(dst, in.text);
  put_string(dst, in.extra_xml);
}

namespace {

// The fields before the texts, both formats; `version` is the one read.
bool read_message_head(field_reader& r, uint8_t* version, message_record* out) {
  out->pid = {};
  return r.read_version_in(kRecordFormatVersion, kMessageFormatVersion, version) &&
         r.read_varint("seq", &out->seq) && r.read_zigzag("ts_micros", &out->ts_micros) &&
         (*version == kRecordFormatVersion ||
          (r.read_varint("post_origin", &out->pid.origin) &&
           r.read_varint("post_counter", &out->pid.counter)));
}

}  // namespace

status get_message_record(std::string_view in, message_record* out) {
  field_reader r(in, "message record");
  uint8_t version = 0;
  read_message_head(r, &version, out) && r.read_string("author", &out->author) &&
      r.read_string("text", &out->text) && r.read_string("extra_xml", &out->extra_xml);
  return r.finish();
}

status get_message_post_id(std::string_view in, uint64_t* seq, post_id* out) {
  field_reader r(in, "message record");
  uint8_t version = 0;
  message_record head;
  if (!read_message_head(r, &version, &head)) return r.error();
  *seq = head.seq;
  *out = head.pid;
  return status::ok();
}

void put_room_log_state(std::string* dst, const room_log_state& in) {
  put_byte(dst, kRecordFormatVersion);
  put_varint64(dst, in.epoch);
  put_varint64(dst, in.data_epoch);
  put_bool(dst, in.copying);
}

status get_room_log_state(std::string_view in, room_log_state* out) {
  field_reader r(in, "room log state");
  r.read_version() && r.read_varint("epoch", &out->epoch) &&
      r.read_varint("data_epoch", &out->data_epoch) && r.read_bool("copying", &out->copying);
  return r.finish();
}

void put_file_record(std::string* dst, const file_record& in) {
  put_byte(dst, kRecordFormatVersion);
  put_varint64(dst, in.id);
  put_string(dst, in.room_id);
  put_string(dst, in.name);
  put_varint64(dst, in.size);
  put_string(dst, in.uploader);
  put_zigzag64(dst, in.ts_micros);
  put_string(dst, in.blob);
}

status get_file_record(std::string_view in, file_record* out) {
  field_reader r(in, "file record");
  r.read_version() && r.read_varint("id", &out->id) && r.read_string("room_id", &out->room_id) &&
      r.read_string("name", &out->name) && r.read_varint("size", &out->size) &&
      r.read_string("uploader", &out->uploader) && r.read_zigzag("ts_micros", &out->ts_micros) &&
      r.read_string("blob", &out->blob);
  return r.finish();
}

void put_compliance_record(std::string* dst, const compliance_record& in) {
  put_compliance_record(dst, in.seq, in);
}

void put_compliance_record(std::string* dst, uint64_t seq, const compliance_record& in) {
  const bool admin = !in.target.empty() || !in.previous.empty();
  put_byte(dst, admin ? kComplianceAdminFormatVersion : kComplianceFormatVersion);
  put_varint64(dst, seq);
  put_byte(dst, static_cast<uint8_t>(in.kind));
  put_zigzag64(dst, in.ts_micros);
  put_string(dst, in.room_id);
  put_string(dst, in.room_name);
  put_string(dst, in.user_uri);
  put_string(dst, in.user_display);
  put_varint64(dst, in.message_id);
  put_string(dst, in.text);
  if (admin) {
    put_string(dst, in.target);
    put_string(dst, in.previous);
  }
}

status get_compliance_record(std::string_view in, compliance_record* out) {
  field_reader r(in, "compliance record");
  uint8_t version = 0;
  if (!in.empty() && static_cast<uint8_t>(in.front()) == 3)  // no format 3 (the group's byte)
    return status::corruption("compliance record: unsupported format version 3");
  r.read_version_in(1, kComplianceAdminFormatVersion, &version) && r.read_varint("seq", &out->seq) &&
      r.read_enum("kind", compliance_kind::admin_membership, &out->kind) &&
      r.read_zigzag("ts_micros", &out->ts_micros) &&
      (version == 1 ? r.read_string("room_uri", &out->room_uri)
                    : r.read_string("room_id", &out->room_id)) &&
      r.read_string("room_name", &out->room_name) && r.read_string("user_uri", &out->user_uri) &&
      r.read_string("user_display", &out->user_display) &&
      r.read_varint("message_id", &out->message_id) && r.read_string("text", &out->text) &&
      (version < kComplianceAdminFormatVersion ||
       (r.read_string("target", &out->target) && r.read_string("previous", &out->previous)));
  return r.finish();
}

void append_compliance_group(std::string* dst, std::string_view encoded) {
  if (dst->empty()) put_byte(dst, kComplianceGroupVersion);
  put_string(dst, encoded);
}

status get_compliance_value(std::string_view in, std::vector<compliance_record>* out) {
  if (in.empty() || static_cast<uint8_t>(in.front()) != kComplianceGroupVersion) {
    compliance_record e;
    if (status s = get_compliance_record(in, &e); !s.is_ok()) return s;
    out->push_back(std::move(e));
    return status::ok();
  }
  field_reader r(in.substr(1), "compliance group");
  std::string_view event;
  do {
    if (!r.read_view("event", &event)) return r.finish();
    compliance_record e;
    if (status s = get_compliance_record(event, &e); !s.is_ok()) return s;
    out->push_back(std::move(e));
  } while (!r.at_end());
  return r.finish();
}

status count_compliance_value(std::string_view in, uint64_t* n) {
  if (in.empty() || static_cast<uint8_t>(in.front()) != kComplianceGroupVersion) {
    *n = 1;
    return status::ok();
  }
  field_reader r(in.substr(1), "compliance group");
  std::string_view event;
  uint64_t count = 0;
  do {
    if (!r.read_view("event", &event)) return r.finish();
    ++count;
  } while (!r.at_end());
  *n = count;
  return r.finish();
}

void put_config_int(std::string* dst, int v) {
  dst->append(std::to_string(v));
}

status get_config_int(std::string_view setting, std::string_view in, int* out) {
  // from_chars accepts exactly "-"? digits, which is the grammar; it rejects "+5" and " 5".
  int v = 0;
  auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
  if (in.empty() || ec != std::errc() || end != in.data() + in.size()) {
    // Quote at most a short sample: the bytes may be arbitrary garbage.
    constexpr size_t kSample = 32;
    return status::corruption("config " + std::string(setting) + ": not a decimal int '" +
                              std::string(in.substr(0, kSample)) +
                              (in.size() > kSample ? "...'" : "'"));
  }
  *out = v;
  return status::ok();
}

}  // namespace pchat::storage
