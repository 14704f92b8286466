#include "actors/directory_log.h"

#include <caf/send.hpp>

#include <rocksdb/write_batch.h>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "log/log.h"
#include "pool/etcd_client.h"
#include "storage/database.h"
#include "storage/db.h"
#include "storage/keys.h"
#include "text/utc_time.h"

namespace pchat::actors {
namespace {

std::string revision_bytes(int64_t rev) {
  std::string out(8, '\0');
  auto v = static_cast<uint64_t>(rev);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

// Whether a batch writes to one column family (the configuration's: its appliers follow).
class family_touched final : public rocksdb::WriteBatch::Handler {
 public:
  explicit family_touched(uint32_t id) : id_(id) {}
  bool hit() const { return hit_; }
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice&, const rocksdb::Slice&) override { return note(cf); }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice&) override { return note(cf); }
  rocksdb::Status SingleDeleteCF(uint32_t cf, const rocksdb::Slice&) override { return note(cf); }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return note(cf);
  }
  rocksdb::Status MergeCF(uint32_t cf, const rocksdb::Slice&, const rocksdb::Slice&) override { return note(cf); }

 private:
  rocksdb::Status note(uint32_t cf) {
    hit_ = hit_ || cf == id_;
    return rocksdb::Status::OK();
  }
  uint32_t id_;
  bool hit_ = false;
};

int64_t revision_of(std::string_view bytes) {
  if (bytes.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(v);
}

}  // namespace

directory_log::directory_log(std::unique_ptr<pool::etcd_client> etcd, storage::database& store,
                             directory_log_options options)
    : etcd_(std::move(etcd)), store_(store), options_(std::move(options)) {
  prefix_ = "/" + options_.pool_name + "/dir/";
  // Unique per writer and start: a restarted node never reuses a key of its earlier run.
  key_base_ = options_.node_name + "-" + std::to_string(utc::now_micros()) + "-";
  std::string bytes;
  if (store_.db()
          .get(storage::column::config, storage::keys::config_key(storage::keys::kPoolDirectoryApplied), &bytes,
               "read the applied directory revision")
          .is_ok())
    applied_.store(revision_of(bytes));
}

directory_log::~directory_log() { stop(); }

void directory_log::start() {
  store_.writer().set_shared_log(this);
  std::lock_guard<std::mutex> lock(mu_);
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void directory_log::stop() {
  store_.writer().set_shared_log(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  applied_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void directory_log::attach(std::shared_ptr<identity_registry> identities, caf::actor directory) {
  std::lock_guard<std::mutex> lock(notify_mu_);
  identities_ = std::move(identities);
  directory_ = std::move(directory);
}

void directory_log::detach() {
  std::lock_guard<std::mutex> lock(notify_mu_);
  identities_.reset();
  directory_ = caf::actor();
  config_changed_ = nullptr;
}

void directory_log::on_config_change(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(notify_mu_);
  config_changed_ = std::move(fn);
}

pchat::status directory_log::catch_up(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    auto s = apply_available();
    if (s.is_ok() || std::chrono::steady_clock::now() + options_.poll >= until) return s;
    std::this_thread::sleep_for(options_.poll);
  }
}

pchat::status directory_log::apply_available() {
  std::lock_guard<std::mutex> serial(apply_mu_);
  // etcd filters by create revision only after reading every key under the prefix, so a
  // range costs O(records): skip it while etcd's revision has not moved since the last one
  // that read to the end.
  int64_t now = 0;
  if (auto s = etcd_->current_revision(&now); !s.is_ok()) return s;
  if (now == read_through_) return pchat::status::ok();
  for (;;) {
    pool::etcd_range page;
    if (auto s = etcd_->range_created_since(prefix_, applied() + 1, options_.page, &page); !s.is_ok()) return s;
    if (page.kvs.empty()) {
      read_through_ = page.revision;
      return pchat::status::ok();
    }
    bool memory_changed = false;
    bool config_changed = false;
    for (const auto& kv : page.kvs) {
      rocksdb::WriteBatch b;
      if (auto d = storage::decode_shared_batch(store_.db(), kv.value, &b); !d.is_ok()) {
        // Skipped, not retried forever: the log must not stall on one record.
        PCHAT_LOG(error, "pool", "directory record skipped: it does not decode",
                  "key=" + log::quote(kv.key) + " revision=" + std::to_string(kv.create_revision) +
                      " error=" + log::quote(d.to_string()) +
                      " action=" + log::quote("run the same pchatd version on every node of the pool"));
        b.Clear();
      }
      memory_changed = memory_changed || !only_preferences(b);
      if (!config_changed) {
        family_touched config(store_.db().cf(storage::column::config)->GetID());
        (void)b.Iterate(&config);  // the handler fails nothing; a malformed batch is refused below
        config_changed = config.hit();
      }
      // The record and the revision it brings this node to, in one synced write.
      if (auto p = b.Put(store_.db().cf(storage::column::config),
                         storage::keys::config_key(storage::keys::kPoolDirectoryApplied),
                         revision_bytes(kv.create_revision));
          !p.ok())
        return storage::from_rocksdb(p, "apply directory record");
      if (auto w = store_.writer().write(&b); !w.is_ok()) return w;
      applied_.store(kv.create_revision, std::memory_order_release);
    }
    // Preferences are read from the store at each use: a page of them alone changes
    // nothing held in memory (no registry reload on every node for a followed room).
    if (memory_changed) tell_memory(config_changed);
    {
      std::lock_guard<std::mutex> lock(mu_);  // no waiter misses the wake-up
    }
    applied_cv_.notify_all();
    if (!page.more) {
      read_through_ = page.revision;
      return pchat::status::ok();
    }
  }
}

bool directory_log::only_preferences(const rocksdb::WriteBatch& b) const {
  // Which families a record writes (decode_shared_batch made it of ours only).
  struct families : rocksdb::WriteBatch::Handler {
    uint32_t prefs = 0;
    bool other = false;
    rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice&, const rocksdb::Slice&) override { return note(cf); }
    rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice&) override { return note(cf); }
    rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice&, const rocksdb::Slice&) override { return note(cf); }
    rocksdb::Status note(uint32_t cf) {
      other = other || cf != prefs;
      return rocksdb::Status::OK();
    }
  } f;
  f.prefs = store_.db().cf(storage::column::prefs)->GetID();
  if (b.Count() == 0 || !b.Iterate(&f).ok()) return false;
  return !f.other;
}

void directory_log::tell_memory(bool config_changed) {
  store_.directory().forget_room_names();
  std::lock_guard<std::mutex> lock(notify_mu_);
  if (identities_) {
    if (auto s = identities_->load(store_.identities()); !s.is_ok())
      PCHAT_LOG(error, "pool", "cannot reload users, groups and policies after a directory change",
                "error=" + log::quote(s.to_string()));
  }
  if (directory_) caf::anon_send(directory_, dirsync_atom::value);
  if (config_changed && config_changed_) config_changed_();
}

void directory_log::run() {
  bool failing = false;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, options_.poll, [&] { return stopping_ || wanted_; });
      if (stopping_) return;
      wanted_ = false;
    }
    auto s = apply_available();
    if (!s.is_ok() && !failing)
      PCHAT_LOG(warn, "pool", "cannot read the pool's directory log; changes of other nodes wait",
                "error=" + log::quote(s.to_string()) + " action=" + log::quote("check that etcd runs"));
    else if (s.is_ok() && failing)
      PCHAT_LOG(warn, "pool", "the pool's directory log is readable again", "applied=" + std::to_string(applied()));
    failing = !s.is_ok();
  }
}

pchat::status directory_log::append(const rocksdb::WriteBatch& b) {
  std::string record;
  if (auto s = storage::encode_shared_batch(store_.db(), b, &record); !s.is_ok()) return s;
  std::string key = prefix_ + key_base_ + std::to_string(next_record_.fetch_add(1));
  int64_t revision = 0;
  if (auto s = etcd_->put(key, record, 0, &revision); !s.is_ok())
    return pchat::status::io_error("the change was not made: the pool's directory log did not take it (" +
                                   s.to_string() + ")");
  std::unique_lock<std::mutex> lock(mu_);
  wanted_ = true;
  wake_.notify_one();
  if (applied_cv_.wait_for(lock, options_.apply_timeout, [&] { return stopping_ || applied() >= revision; }) &&
      applied() >= revision)
    return pchat::status::ok();
  return pchat::status::io_error(
      "the change is in the pool's directory log (etcd revision " + std::to_string(revision) +
      ") but this node has not applied it within " + std::to_string(options_.apply_timeout.count()) +
      " ms; it is applied when this node can read etcd again");
}

}  // namespace pchat::actors
