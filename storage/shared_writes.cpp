#include "storage/shared_writes.h"

#include <rocksdb/write_batch.h>

#include "storage/db.h"

namespace pchat::storage {
namespace {

constexpr char kVersion = 0x01;
constexpr char kPut = 'P', kDelete = 'D', kDeleteRange = 'R';
constexpr int kColumns = 5;  // storage::column's values: 0..4

void put_varint(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool get_varint(std::string_view* in, uint32_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 28 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint32_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

void put_bytes(std::string* out, const rocksdb::Slice& s) {
  put_varint(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

bool get_bytes(std::string_view* in, std::string_view* out) {
  uint32_t n = 0;
  if (!get_varint(in, &n) || in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

class encoder final : public rocksdb::WriteBatch::Handler {
 public:
  encoder(const db& d, std::string* out) : db_(d), out_(out) {}
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    if (!op(kPut, cf, key)) return unknown(cf);
    put_bytes(out_, value);
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    return op(kDelete, cf, key) ? rocksdb::Status::OK() : unknown(cf);
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin, const rocksdb::Slice& end) override {
    if (!op(kDeleteRange, cf, begin)) return unknown(cf);
    put_bytes(out_, end);
    return rocksdb::Status::OK();
  }

 private:
  bool op(char kind, uint32_t cf, const rocksdb::Slice& key) {
    for (int c = 0; c < kColumns; ++c) {
      if (db_.cf(static_cast<column>(c))->GetID() != cf) continue;
      out_->push_back(kind);
      out_->push_back(static_cast<char>(c));
      put_bytes(out_, key);
      return true;
    }
    return false;
  }
  static rocksdb::Status unknown(uint32_t cf) {
    return rocksdb::Status::InvalidArgument("shared write: column family " + std::to_string(cf) +
                                            " is not one of the store's");
  }
  const db& db_;
  std::string* out_;
};

}  // namespace

status encode_shared_batch(const db& d, const rocksdb::WriteBatch& b, std::string* out) {
  out->assign(1, kVersion);
  encoder e(d, out);
  // Anything else a batch can hold (merge, single delete, log data) fails in the handler's
  // defaults: shared writes never make them.
  if (rocksdb::Status s = b.Iterate(&e); !s.ok()) return from_rocksdb(s, "encode shared write");
  return status::ok();
}

status decode_shared_batch(const db& d, std::string_view record, rocksdb::WriteBatch* out) {
  if (record.empty() || record.front() != kVersion)
    return status::corruption("shared write record: unknown version");
  record.remove_prefix(1);
  while (!record.empty()) {
    if (record.size() < 2) return status::corruption("shared write record: truncated operation");
    char kind = record[0];
    auto c = static_cast<uint8_t>(record[1]);
    record.remove_prefix(2);
    if (c >= kColumns) return status::corruption("shared write record: unknown column " + std::to_string(c));
    auto* cf = d.cf(static_cast<column>(c));
    std::string_view key, bytes;
    if (!get_bytes(&record, &key)) return status::corruption("shared write record: truncated key");
    rocksdb::Status s;
    switch (kind) {
      case kPut:
        if (!get_bytes(&record, &bytes)) return status::corruption("shared write record: truncated value");
        s = out->Put(cf, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(bytes.data(), bytes.size()));
        break;
      case kDelete:
        s = out->Delete(cf, rocksdb::Slice(key.data(), key.size()));
        break;
      case kDeleteRange:
        if (!get_bytes(&record, &bytes)) return status::corruption("shared write record: truncated range end");
        s = out->DeleteRange(cf, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(bytes.data(), bytes.size()));
        break;
      default:
        return status::corruption("shared write record: unknown operation");
    }
    if (!s.ok()) return from_rocksdb(s, "decode shared write");
  }
  return status::ok();
}

}  // namespace pchat::storage
