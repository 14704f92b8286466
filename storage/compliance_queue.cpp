#include "storage/compliance_queue.h"

#include <algorithm>
#include <memory>

#include <rocksdb/write_batch.h>

#include "storage/db.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/write_batch.h"
#include "storage/writer.h"

namespace pchat::storage {

namespace {

// A batch may carry thousands of events (clearing a big room): groups stay small enough for
// the runner to read a few at a time and for RocksDB values.
constexpr size_t kGroupEvents = 1000, kGroupBytes = 1 << 20;

// Decodes one compliance CF entry and checks its events against its key: the first carries
// the key's sequence, the rest follow it one by one.
status decode_compliance_entry(const rocksdb::Iterator& it, std::vector<compliance_record>* out) {
  uint64_t key_seq = 0;
  if (!keys::get_compliance_key(view(it.key()), &key_seq)) {
    return status::corruption("compliance key: malformed");
  }
  size_t first = out->size();
  if (status d = get_compliance_value(view(it.value()), out); !d.is_ok()) return d;
  for (size_t i = first; i < out->size(); ++i) {
    if ((*out)[i].seq != key_seq + (i - first)) {
      return status::corruption("compliance record: seq " + std::to_string((*out)[i].seq) +
                                " stored in the entry of seq " + std::to_string(key_seq));
    }
  }
  return status::ok();
}

std::unique_ptr<rocksdb::Iterator> queue_iterator(const db& d) {
  return std::unique_ptr<rocksdb::Iterator>(
      d.raw()->NewIterator(rocksdb::ReadOptions(), d.cf(column::compliance)));
}

}  // namespace

void compliance_queue::stage(write_batch& b, uint64_t seq, const compliance_record& e) const {
  if (!b.accepting()) return;
  if (seq == 0) return b.reject(status::invalid_argument("compliance event seq must be >= 1"));
  write_batch::open_entry& group = b.open();
  if (!group.empty() && seq != group.next) {
    return b.reject(status::invalid_argument("compliance events of one batch must be consecutive: " +
                                             std::to_string(seq) + " after " +
                                             std::to_string(group.next - 1)));
  }
  std::string& value = b.scratch();
  put_compliance_record(&value, seq, e);
  if (group.items >= kGroupEvents || group.value.size() + value.size() > kGroupBytes) b.close_open();
  if (!b.accepting()) return;
  if (group.empty()) {
    group.cf = column::compliance;
    group.key = keys::compliance_key(seq);
  }
  append_compliance_group(&group.value, value);
  ++group.items;
  group.next = seq + 1;
  b.count_item();
}

status compliance_queue::delivered_through(uint64_t* out) const {
  std::string mark;
  status s = db_.get(column::config, keys::config_key(keys::kComplianceDeliveredThrough), &mark,
                     "get compliance high-water mark");
  if (s.is_not_found()) {
    *out = 0;
    return status::ok();
  }
  if (!s.is_ok()) return s;
  std::string_view in(mark);
  if (in.size() != 8 || !keys::get_fixed64_be(&in, out)) {
    return status::corruption("config " + std::string(keys::kComplianceDeliveredThrough) +
                              ": not 8 bytes");
  }
  return status::ok();
}

status compliance_queue::last_sequence(uint64_t* out) const {
  uint64_t delivered = 0;
  if (status s = delivered_through(&delivered); !s.is_ok()) return s;
  auto it = queue_iterator(db_);
  it->SeekToLast();
  uint64_t seq = 0;
  if (it->Valid()) {
    std::vector<compliance_record> last;
    if (status d = decode_compliance_entry(*it, &last); !d.is_ok()) return d;
    seq = last.back().seq;
  } else if (!it->status().ok()) {
    return from_rocksdb(it->status(), "last compliance sequence");
  }
  *out = std::max(seq, delivered);
  return status::ok();
}

status compliance_queue::read(uint64_t from_seq, size_t limit, std::vector<compliance_record>* out) const {
  std::vector<compliance_record> result;
  auto it = queue_iterator(db_);
  // The entry holding from_seq may start before it (a group).
  it->SeekForPrev(keys::compliance_key(from_seq));
  if (!it->Valid()) it->Seek(keys::compliance_key(from_seq));
  std::vector<compliance_record> entry;
  for (; it->Valid() && result.size() < limit; it->Next()) {
    entry.clear();
    if (status d = decode_compliance_entry(*it, &entry); !d.is_ok()) return d;
    for (auto& e : entry)
      if (e.seq >= from_seq) result.push_back(std::move(e));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read compliance");
  *out = std::move(result);
  return status::ok();
}

status compliance_queue::count(uint64_t* out) const {
  auto it = queue_iterator(db_);
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t in_entry = 0;
    if (status d = count_compliance_value(view(it->value()), &in_entry); !d.is_ok()) return d;
    n += in_entry;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "count compliance");
  *out = n;
  return status::ok();
}

status compliance_queue::delivered_totals(delivery_totals* out) const {
  std::string v;
  status s = db_.get(column::config, keys::config_key(keys::kComplianceDeliveredTotals), &v,
                     "get compliance delivery totals");
  *out = delivery_totals{};
  if (s.is_not_found()) return status::ok();
  if (!s.is_ok()) return s;
  std::string_view in(v);
  uint64_t ts = 0;
  if (in.size() != 24 || !keys::get_fixed64_be(&in, &out->batches) ||
      !keys::get_fixed64_be(&in, &out->events) || !keys::get_fixed64_be(&in, &ts)) {
    return status::corruption("config " + std::string(keys::kComplianceDeliveredTotals) +
                              ": not 24 bytes");
  }
  out->last_success_micros = static_cast<int64_t>(ts);
  return status::ok();
}

status compliance_queue::remove(uint64_t first, uint64_t last, uint64_t events, int64_t now_micros) {
  if (status s = db_.check_writable(); !s.is_ok()) return s;
  delivery_totals totals;  // the runner is the one deleter: read, add, write back
  if (status s = delivered_totals(&totals); !s.is_ok()) return s;
  if (first == 0 || last < first) {
    return status::invalid_argument("compliance range " + std::to_string(first) + ".." +
                                    std::to_string(last) + " is empty or starts at 0");
  }
  // Groups are deleted whole: a range that starts or ends inside one would leave some of
  // its events staged although marked delivered, or delete undelivered ones.
  for (uint64_t edge : {first, last}) {
    auto it = queue_iterator(db_);
    it->SeekForPrev(keys::compliance_key(edge));
    if (!it->Valid()) {
      if (!it->status().ok()) return from_rocksdb(it->status(), "delete compliance");
      continue;
    }
    std::vector<compliance_record> entry;
    if (status d = decode_compliance_entry(*it, &entry); !d.is_ok()) return d;
    uint64_t lo = entry.front().seq, hi = entry.back().seq;
    if ((edge == first && lo < first && hi >= first) || (edge == last && hi > last)) {
      return status::invalid_argument("compliance range " + std::to_string(first) + ".." +
                                      std::to_string(last) + " splits the stored group " +
                                      std::to_string(lo) + ".." + std::to_string(hi));
    }
  }
  rocksdb::WriteBatch b;
  rocksdb::ColumnFamilyHandle* queue = db_.cf(column::compliance);
  // DeleteRange's end is exclusive, so the range is [first, last) plus `last` itself: one
  // form for every `last`, including UINT64_MAX (last + 1 would wrap).
  rocksdb::Status s = b.DeleteRange(queue, keys::compliance_key(first), keys::compliance_key(last));
  if (s.ok()) s = b.Delete(queue, keys::compliance_key(last));
  // Same write: the high-water mark outlives the deleted events, so numbering never restarts
  // at 1 on an empty queue (a reused range would match an old output file name and be
  // mistaken for work already done).
  std::string mark;
  keys::put_fixed64_be(&mark, last);
  if (s.ok()) s = b.Put(db_.cf(column::config), keys::config_key(keys::kComplianceDeliveredThrough), mark);
  if (events > 0) {
    std::string t;
    keys::put_fixed64_be(&t, totals.batches + 1);
    keys::put_fixed64_be(&t, totals.events + events);
    keys::put_fixed64_be(&t, static_cast<uint64_t>(now_micros));
    if (s.ok()) s = b.Put(db_.cf(column::config), keys::config_key(keys::kComplianceDeliveredTotals), t);
  }
  if (!s.ok()) return from_rocksdb(s, "delete compliance");
  return writer_.write(&b);
}

}  // namespace pchat::storage
