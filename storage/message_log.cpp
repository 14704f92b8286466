#include "storage/message_log.h"

#include <algorithm>
#include <limits>

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/write_batch.h"
#include "storage/writer.h"

namespace pchat::storage {

namespace {

status check_message(const std::string& room_id, const message_record& m) {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  if (m.seq == 0) return status::invalid_argument("message seq must be >= 1");
  if (m.seq == ~uint64_t{0}) return status::invalid_argument("message seq 2^64-1 is reserved");
  return status::ok();
}

// Decodes one entry of the messages CF and checks that key and value agree, so a value
// written under the wrong key is reported instead of served.
status decode_message_entry(const rocksdb::Slice& key, const rocksdb::Slice& value,
                            message_record* out) {
  std::string room;
  uint64_t key_seq = 0;
  if (!keys::get_message_key(view(key), &room, &key_seq)) {
    return status::corruption("message key: malformed");
  }
  if (status s = get_message_record(view(value), out); !s.is_ok()) return s;
  if (out->seq != key_seq) {
    return status::corruption("message record: seq " + std::to_string(out->seq) +
                              " stored under key seq " + std::to_string(key_seq));
  }
  return status::ok();
}

range_iterator room_messages(const db& d, const std::string& room_id) {
  return range_iterator(d, column::messages, keys::message_range_begin(room_id),
                        keys::message_entries_end(room_id));
}

}  // namespace

status message_log::last_sequence(const std::string& room_id, uint64_t* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  range_iterator it = room_messages(db_, room_id);
  it->SeekForPrev(keys::message_key(room_id, std::numeric_limits<uint64_t>::max()));
  if (!it->Valid()) {
    if (!it->status().ok()) return from_rocksdb(it->status(), "last sequence of " + room_id);
    *out = 0;
    return status::ok();
  }
  std::string room;
  uint64_t seq = 0;
  if (!keys::get_message_key(view(it->key()), &room, &seq) || room != room_id) {
    return status::corruption("message key: malformed");
  }
  *out = seq;
  return status::ok();
}

status message_log::read_latest(const std::string& room_id, size_t n,
                                std::vector<message_record>* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  std::vector<message_record> result;
  if (n > 0) {
    range_iterator it = room_messages(db_, room_id);
    for (it->SeekForPrev(keys::message_key(room_id, std::numeric_limits<uint64_t>::max()));
         it->Valid() && result.size() < n; it->Prev()) {
      message_record m;
      if (status d = decode_message_entry(it->key(), it->value(), &m); !d.is_ok()) return d;
      result.push_back(std::move(m));
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read latest of " + room_id);
    std::reverse(result.begin(), result.end());  // collected newest first
  }
  *out = std::move(result);
  return status::ok();
}

status message_log::read_post_ids(const std::string& room_id, size_t n,
                                  std::vector<post_id>* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  std::vector<post_id> result;
  if (n > 0) {
    range_iterator it = room_messages(db_, room_id);
    size_t seen = 0;
    for (it->SeekForPrev(keys::message_key(room_id, std::numeric_limits<uint64_t>::max()));
         it->Valid() && seen < n; it->Prev(), ++seen) {
      std::string room;
      uint64_t key_seq = 0, seq = 0;
      post_id pid;
      if (!keys::get_message_key(view(it->key()), &room, &key_seq))
        return status::corruption("message key: malformed");
      if (status d = get_message_post_id(view(it->value()), &seq, &pid); !d.is_ok()) return d;
      if (seq != key_seq)
        return status::corruption("message record: seq " + std::to_string(seq) +
                                  " stored under key seq " + std::to_string(key_seq));
      if (!pid.empty()) result.push_back(pid);
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read post ids of " + room_id);
    std::reverse(result.begin(), result.end());  // collected newest first
  }
  *out = std::move(result);
  return status::ok();
}

status message_log::read_from(const std::string& room_id, uint64_t from_seq, size_t limit,
                              std::vector<message_record>* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  std::vector<message_record> result;
  if (limit > 0) {
    range_iterator it = room_messages(db_, room_id);
    for (it->Seek(keys::message_key(room_id, from_seq)); it->Valid() && result.size() < limit;
         it->Next()) {
      message_record m;
      if (status d = decode_message_entry(it->key(), it->value(), &m); !d.is_ok()) return d;
      result.push_back(std::move(m));
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "read from " + room_id);
  }
  *out = std::move(result);
  return status::ok();
}

void message_log::append(write_batch& b, const std::string& room_id, const message_record& m) const {
  if (!b.accepting()) return;
  if (status s = check_message(room_id, m); !s.is_ok()) return b.reject(s);
  std::string& value = b.scratch();
  put_message_record(&value, m);
  b.put(column::messages, keys::message_key(room_id, m.seq), value);
}

void message_log::erase(write_batch& b, const std::string& room_id, uint64_t seq) const {
  if (!b.accepting()) return;
  if (!keys::valid_id(room_id))
    return b.reject(status::invalid_argument("room id must be non-empty and free of NUL bytes"));
  b.erase(column::messages, keys::message_key(room_id, seq));
}

status message_log::put(const std::string& room_id, const message_record& m) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  if (status s = check_message(room_id, m); !s.is_ok()) return s;
  std::string value;
  put_message_record(&value, m);
  rocksdb::WriteBatch b;
  if (rocksdb::Status s = b.Put(db_.cf(column::messages), keys::message_key(room_id, m.seq), value);
      !s.ok()) {
    return from_rocksdb(s, "put message");
  }
  return writer_.write(&b);
}

status message_log::read_state(const std::string& room_id, room_log_state* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  std::string value;
  status s = db_.get(column::messages, keys::room_log_state_key(room_id), &value,
                    "room log state of " + room_id);
  if (s.is_not_found()) {
    *out = room_log_state{};
    return status::ok();
  }
  if (!s.is_ok()) return s;
  return get_room_log_state(value, out);
}

status message_log::read_events(const std::string& room_id, uint64_t from_seq, size_t limit,
                                std::vector<compliance_record>* out) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  std::vector<compliance_record> result;
  range_iterator it(db_, column::messages, keys::room_event_key(room_id, from_seq),
                    keys::room_log_entries_end(room_id));
  for (it->SeekToFirst(); it->Valid() && result.size() < limit; it->Next()) {
    compliance_record e;
    if (status d = get_compliance_record(view(it->value()), &e); !d.is_ok()) return d;
    result.push_back(std::move(e));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read events of " + room_id);
  *out = std::move(result);
  return status::ok();
}

status message_log::trim_events(const std::string& room_id, uint64_t through) {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  if (through == 0) return status::ok();
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  rocksdb::WriteBatch b;
  // [event 0, event through] as [event 0, event through) plus `through` itself (through + 1
  // would wrap at UINT64_MAX).
  rocksdb::ColumnFamilyHandle* cf = db_.cf(column::messages);
  rocksdb::Status s = b.DeleteRange(cf, keys::room_event_key(room_id, 0), keys::room_event_key(room_id, through));
  if (s.ok()) s = b.Delete(cf, keys::room_event_key(room_id, through));
  if (!s.ok()) return from_rocksdb(s, "trim kept events of " + room_id);
  return writer_.write(&b);
}

namespace {
status stale_epoch(const std::string& room_id, uint64_t epoch, const room_log_state& st) {
  return status::invalid_argument("stale epoch " + std::to_string(epoch) + " for room " + room_id +
                                  ": this node accepted epoch " + std::to_string(st.epoch));
}
}  // namespace

void message_log::put_state(write_batch& b, const std::string& room_id, const room_log_state& st) const {
  std::string& value = b.scratch();
  put_room_log_state(&value, st);
  b.put(column::messages, keys::room_log_state_key(room_id), value);
}

status message_log::ship(write_batch& b, const std::string& room_id, uint64_t epoch,
                         const message_record& m, const compliance_record* kept,
                         room_log_state* state) const {
  if (status s = check_message(room_id, m); !s.is_ok()) return s;
  if (stale(*state, epoch)) return stale_epoch(room_id, epoch, *state);
  append(b, room_id, m);
  if (kept != nullptr) {
    std::string& value = b.scratch();
    put_compliance_record(&value, *kept);
    b.put(column::messages, keys::room_event_key(room_id, m.seq), value);
  }
  state->epoch = epoch;
  state->data_epoch = epoch;
  put_state(b, room_id, *state);
  return status::ok();
}

status message_log::copy_chunk(write_batch& b, const std::string& room_id, uint64_t epoch,
                               const std::vector<message_record>& chunk, bool full,
                               room_log_state* state, const std::vector<compliance_record>* events) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  for (const auto& m : chunk)
    if (status s = check_message(room_id, m); !s.is_ok()) return s;
  if (stale(*state, epoch)) return stale_epoch(room_id, epoch, *state);
  if (full) {
    b.erase_range(column::messages, keys::message_range_begin(room_id), keys::room_log_entries_end(room_id));
    state->copying = true;
    state->data_epoch = 0;
  }
  for (const auto& m : chunk) append(b, room_id, m);
  if (events)
    for (const auto& e : *events) {
      if (e.message_id == 0) continue;
      std::string& value = b.scratch();
      put_compliance_record(&value, e);
      b.put(column::messages, keys::room_event_key(room_id, e.message_id), value);
    }
  state->epoch = epoch;
  put_state(b, room_id, *state);
  return status::ok();
}

status message_log::mark(write_batch& b, const std::string& room_id, uint64_t epoch,
                         room_log_state* state) const {
  if (status s = keys::check_id("room id", room_id); !s.is_ok()) return s;
  if (stale(*state, epoch)) return stale_epoch(room_id, epoch, *state);
  *state = room_log_state{epoch, epoch, false};
  put_state(b, room_id, *state);
  return status::ok();
}

status message_log::erase_room(rocksdb::WriteBatch* b, const std::string& room_id) const {
  rocksdb::Status s = b->DeleteRange(db_.cf(column::messages), keys::message_range_begin(room_id),
                                     keys::message_range_end(room_id));
  return s.ok() ? status::ok() : from_rocksdb(s, "delete room messages");
}

}  // namespace pchat::storage
