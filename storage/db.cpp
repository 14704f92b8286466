#include "storage/db.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "log/log.h"
#include "storage/keys.h"
#include "storage/rocksdb_log.h"

namespace pchat::storage {

namespace {

// Column family names, in the order of enum column. DO NOT CHANGE: embedded in the on-disk
// data (MANIFEST).
constexpr const char* kDirectoryCf = "directory";
constexpr const char* kMessagesCf = "messages";
constexpr const char* kPrefsCf = "prefs";
constexpr const char* kConfigCf = "config";
constexpr const char* kComplianceCf = "compliance";

// Bits per key of the messages bloom filter: 10 gives about 1% false positives, the usual
// trade-off. Whole-key filters let point lookups skip SST files; range reads use bounds.
constexpr double kBloomBitsPerKey = 10;

// Turns off RocksDB's own recovery from background errors, which would make our
// DB::Resume() calls answer Busy (its no-space recovery polls every 5 s, not configurable);
// the db's resume thread does it instead, with our backoff and our log lines. Notes
// whether the error came from the write path (the write-ahead log may have failed), and
// when a flush may have left every memtable empty (see db::keep_memtable_filled).
class recovery_listener final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status*) override {
    if (reason == rocksdb::BackgroundErrorReason::kWriteCallback) wal_failed.store(true);
  }
  void OnFlushCompleted(rocksdb::DB*, const rocksdb::FlushJobInfo&) override { flushed.store(true); }
  std::atomic<bool> flushed{true};
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
  std::atomic<bool> wal_failed{false};
};

// The kWriteProbe value: now, in microseconds, 8 bytes big-endian.
std::string probe_value() {
  std::string v;
  keys::put_fixed64_be(&v, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count()));
  return v;
}

}  // namespace

// RocksDB's state text without its kind prefix: our status adds its own in to_string().
status from_rocksdb(const rocksdb::Status& s, std::string_view context) {
  std::string why(context);
  why += ": ";
  why += s.getState() != nullptr ? s.getState() : s.ToString();
  switch (s.code()) {
    case rocksdb::Status::kOk:
      return status::ok();
    case rocksdb::Status::kNotFound:
      return status::not_found(why);
    case rocksdb::Status::kCorruption:
      return status::corruption(why);
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return status::invalid_argument(why);
    default:
      // IOError and the rest (Busy, TimedOut, Aborted, ...) mean the operation did not
      // complete for reasons outside the caller's arguments.
      return status::io_error(why);
  }
}

// The write-failure latch and the resume thread. Reads take none of these.
struct db::latch {
  std::atomic<bool> fail_next_write{false};  // inject_write_failure_for_testing
  std::shared_ptr<recovery_listener> listener = std::make_shared<recovery_listener>();
  std::string path;
  std::chrono::milliseconds resume_first_delay{250}, resume_max_delay{5000};

  // latched is set only after first_error is stored, so a reader that sees it true finds
  // the error under latch_mu. The atomic keeps writable() and the happy path lock-free.
  std::atomic<bool> latched{false};
  std::atomic<uint64_t> resumes{0};
  std::atomic<uint64_t> stops{0}, failed_writes{0};  // for /metrics
  std::mutex latch_mu;
  status first_error;                                // GUARDED_BY(latch_mu)
  std::chrono::steady_clock::time_point failed_at;   // GUARDED_BY(latch_mu)
  uint64_t refused = 0;                              // GUARDED_BY(latch_mu) writes failed meanwhile
  uint64_t failed_wal = 0;                           // GUARDED_BY(latch_mu) WAL number at failure
  bool resuming = false;                             // GUARDED_BY(latch_mu) resume thread running
  bool stopping = false;                             // GUARDED_BY(latch_mu) destructor waits for it
  std::condition_variable resume_cv;
  std::thread resumer;

  status check() {
    if (!latched.load(std::memory_order_acquire)) return status::ok();
    std::lock_guard<std::mutex> lock(latch_mu);
    if (!latched.load(std::memory_order_relaxed)) return status::ok();  // resumed meanwhile
    ++refused;
    return first_error;
  }
};

status db::open(const db_options& opts, std::unique_ptr<db>* out) {
  if (opts.path.empty()) return status::invalid_argument("store path is empty");
  std::error_code ec;
  if (opts.create_if_missing) {
    // DB::Open creates only the last path component; missing parents fail with
    // "While mkdir if missing".
    std::filesystem::create_directories(opts.path, ec);
    if (ec) return status::io_error("create directory " + opts.path + ": " + ec.message());
  } else if (!std::filesystem::exists(std::filesystem::path(opts.path) / "CURRENT", ec)) {
    // Checked here because DB::Open creates the directory and an info LOG before it notices
    // that there is no database, and "do not create" should leave nothing behind.
    if (ec) return status::io_error("check " + opts.path + ": " + ec.message());
    return status::not_found("no database at " + opts.path);
  }

  auto state = std::make_unique<latch>();
  state->path = opts.path;
  state->resume_first_delay = std::max(opts.resume_first_delay, std::chrono::milliseconds(1));
  state->resume_max_delay = std::max(opts.resume_max_delay, state->resume_first_delay);
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = opts.create_if_missing;
  // No LOG file in the data folder (rocksdb_log.h: on a full disk it aborts the process).
  dbo.info_log = make_rocksdb_logger();
  // Recovery from write errors is ours (resume_loop); RocksDB's own would race it.
  dbo.listeners.push_back(state->listener);
  dbo.max_bgerror_resume_count = 0;
  // Lets a database written before a column family existed open without a migration step.
  dbo.create_missing_column_families = true;
  dbo.IncreaseParallelism(2);  // the target box has two cores

  rocksdb::ColumnFamilyOptions messages_opts;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  messages_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfds = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kDirectoryCf, rocksdb::ColumnFamilyOptions()},
      {kMessagesCf, messages_opts},
      {kPrefsCf, rocksdb::ColumnFamilyOptions()},
      {kConfigCf, rocksdb::ColumnFamilyOptions()},
      {kComplianceCf, rocksdb::ColumnFamilyOptions()},
  };
  // RocksDB refuses to open a database unless every column family on disk is listed, so
  // families a newer version (or a tool) created are opened too, with default options.
  // A failure here means there is no database yet (or it is unreadable, which DB::Open
  // then reports with a better reason), so the error itself is not needed.
  std::vector<std::string> on_disk;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(dbo, opts.path, &on_disk);
  if (listed.ok()) {
    for (const auto& name : on_disk) {
      bool known =
          std::any_of(cfds.begin(), cfds.end(), [&](const auto& d) { return d.name == name; });
      if (!known) cfds.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, opts.path, cfds, &handles, &raw);
  if (!s.ok()) return from_rocksdb(s, "open " + opts.path);

  std::unique_ptr<db> d(new db());
  d->latch_ = std::move(state);
  d->db_ = raw;
  d->handles_ = std::move(handles);
  // Our families are the first descriptors, in the order of enum column.
  for (size_t i = 0; i < std::size(d->cfs_); ++i) d->cfs_[i] = d->handles_[i + 1];
  *out = std::move(d);
  return status::ok();
}

db::~db() {
  if (latch_) {
    {
      std::lock_guard<std::mutex> lock(latch_->latch_mu);
      latch_->stopping = true;
    }
    latch_->resume_cv.notify_all();
    if (latch_->resumer.joinable()) latch_->resumer.join();
  }
  if (db_ == nullptr) return;
  // Handles must go before the DB. Destroying a handle only fails for the handle returned by
  // DefaultColumnFamily(), which we never hold; nothing is left to make durable on close
  // because every write was synced before it returned.
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete db_;
}

bool db::writable() const {
  return !latch_->latched.load(std::memory_order_acquire);
}

uint64_t db::resume_count() const { return latch_->resumes.load(); }
uint64_t db::stop_count() const { return latch_->stops.load(std::memory_order_relaxed); }
uint64_t db::failed_write_count() const { return latch_->failed_writes.load(std::memory_order_relaxed); }

db::stall_figures db::stalls() const {
  stall_figures f;
  for (auto* h : handles_) {
    std::map<std::string, std::string> cf;
    if (!db_->GetMapProperty(h, rocksdb::DB::Properties::kCFStats, &cf)) continue;
    auto number = [&](const char* key) -> uint64_t {
      auto it = cf.find(key);
      return it == cf.end() ? 0 : std::strtoull(it->second.c_str(), nullptr, 10);
    };
    f.stops += number("io_stalls.total_stop");
    f.slowdowns += number("io_stalls.total_slowdown");
  }
  uint64_t v = 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &v)) f.stopped_now = v != 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &v)) f.delayed_write_rate = v;
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &v)) f.live_data_bytes = v;
  return f;
}

void db::inject_write_failure_for_testing(bool fail_next) {
  latch_->fail_next_write.store(fail_next);
}

status db::checkpoint(const std::string& dir, uint64_t* sequence) const {
  rocksdb::Checkpoint* raw = nullptr;
  if (auto s = from_rocksdb(rocksdb::Checkpoint::Create(db_, &raw), "checkpoint"); !s.is_ok()) return s;
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // No forced flush: the live log is copied instead, so a backup adds no flush (and no
  // compaction it could trigger) to the post path's I/O.
  uint64_t seq = 0;
  auto s = from_rocksdb(cp->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max(), &seq),
                        "checkpoint into " + dir);
  if (s.is_ok() && sequence != nullptr) *sequence = seq;
  return s;
}

status db::verify_checksums() const { return from_rocksdb(db_->VerifyChecksum(), "verify checksums"); }

status db::flush_for_testing() {
  rocksdb::FlushOptions fo;
  return from_rocksdb(db_->Flush(fo, handles_), "flush");
}

status db::check_writable() const { return latch_->check(); }

// RocksDB's Resume() starts a new write-ahead log only if some memtable holds data; with
// all of them empty it keeps the log that failed, and the next write to that log aborts the
// process (librocksdb asserts on a log writer that has seen an error). So before a synced
// write may fail, a memtable holds at least the probe key: written without the log (nothing
// to fail on a full disk; it is a timestamp, losing it in a crash is harmless), again after
// every flush (the listener says when).
void db::keep_memtable_filled() {
  if (!latch_->listener->flushed.exchange(false)) return;
  std::string now = probe_value();
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  // A failure means the database is already stopped: the write that follows reports it.
  if (!db_->Put(wo, cf(column::config), keys::config_key(keys::kWriteProbe), now).ok())
    latch_->listener->flushed.store(true);
}

status db::write_synced(rocksdb::WriteBatch* b) {
  if (status s = check_writable(); !s.is_ok()) return s;
  keep_memtable_filled();
  if (latch_->fail_next_write.exchange(false)) {
    return write_failed(status::io_error("injected write failure (test only)"));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = db_->Write(wo, b);
  // Nothing of a failed write is acknowledged. Writes stay off until a resume has put the
  // database back on a fresh write-ahead log (the failed one may hold part of this batch).
  if (!s.ok()) return write_failed(from_rocksdb(s, "synced write"));
  return status::ok();
}

status db::write_failed(status s) {
  latch_->failed_writes.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(latch_->latch_mu);
  if (latch_->latched.load(std::memory_order_relaxed)) {
    ++latch_->refused;
    return s;  // a write that raced the first failure: already being resumed
  }
  latch_->stops.fetch_add(1, std::memory_order_relaxed);
  latch_->first_error = s;
  latch_->failed_at = std::chrono::steady_clock::now();
  latch_->refused = 0;
  std::unique_ptr<rocksdb::LogFile> wal;
  latch_->failed_wal = db_->GetCurrentWalFile(&wal).ok() && wal ? wal->LogNumber() : 0;
  latch_->latched.store(true, std::memory_order_release);
  PCHAT_LOG(warn, "store", "writes failing; posts and other changes are refused (SIP 503) until they resume",
            "path=" + log::quote(latch_->path) + " error=" + log::quote(s.to_string()) +
                " action=" + log::quote("free disk space in the data folder (or fix the I/O error); writes resume by themselves"));
  if (!latch_->resuming && !latch_->stopping) {
    if (latch_->resumer.joinable()) latch_->resumer.join();  // finished: it cleared `resuming`
    latch_->resuming = true;
    latch_->resumer = std::thread([this] { resume_loop(); });
  }
  return s;
}

void db::resume_loop() {
  auto delay = latch_->resume_first_delay;
  uint64_t attempts = 0;
  status last;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(latch_->latch_mu);
      if (latch_->resume_cv.wait_for(lock, delay, [&] { return latch_->stopping; })) {
        latch_->resuming = false;
        return;
      }
    }
    ++attempts;
    last = try_resume();
    std::lock_guard<std::mutex> lock(latch_->latch_mu);
    if (last.is_ok()) {
      auto down = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                        latch_->failed_at);
      latch_->first_error = status::ok();
      latch_->latched.store(false, std::memory_order_release);
      latch_->resumes.fetch_add(1);
      latch_->resuming = false;
      PCHAT_LOG(warn, "store", "writes resumed",
                "path=" + log::quote(latch_->path) + " down_ms=" + std::to_string(down.count()) +
                    " attempts=" + std::to_string(attempts) + " refused_writes=" + std::to_string(latch_->refused));
      return;
    }
    if (last.is_corruption()) {
      // Resuming cannot help; a restart (and RocksDB's recovery at open) may.
      latch_->resuming = false;
      PCHAT_LOG(error, "store", "writes cannot resume without a restart",
                "path=" + log::quote(latch_->path) + " error=" + log::quote(last.to_string()) +
                    " action=" + log::quote("free disk space, then restart pchatd"));
      return;
    }
    PCHAT_LOG(debug, "store", "resume attempt failed",
              "attempt=" + std::to_string(attempts) + " error=" + log::quote(last.to_string()));
    delay = std::min(delay * 2, latch_->resume_max_delay);
  }
}

status db::try_resume() {
  rocksdb::Status r = db_->Resume();
  // A fatal background error (an I/O error other than a full disk, say) is not resumable.
  if (!r.ok() && r.severity() >= rocksdb::Status::Severity::kFatalError)
    return status::corruption("resume: " + r.ToString());
  if (!r.ok()) return from_rocksdb(r, "resume");
  // Resume() starts a new write-ahead log only when some memtable has data. Were the failed
  // log still current, writing to it would abort the process (keep_memtable_filled): never.
  uint64_t failed_wal = 0;
  {
    std::lock_guard<std::mutex> lock(latch_->latch_mu);
    failed_wal = latch_->failed_wal;
  }
  std::unique_ptr<rocksdb::LogFile> wal;
  if (latch_->listener->wal_failed.load() &&
      (!db_->GetCurrentWalFile(&wal).ok() || !wal || wal->LogNumber() == failed_wal))
    return status::corruption("RocksDB kept the write-ahead log that failed (log " + std::to_string(failed_wal) + ")");
  latch_->listener->wal_failed.store(false);
  // Resume() flushed every memtable: fill one before the probe, which may fail again.
  latch_->listener->flushed.store(true);
  keep_memtable_filled();
  // The probe is a synced write of its own: Resume() succeeding says the flush found room,
  // this says the log takes synced writes again.
  std::string now = probe_value();
  rocksdb::WriteBatch probe;
  rocksdb::Status s = probe.Put(cf(column::config), keys::config_key(keys::kWriteProbe), now);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (s.ok()) s = db_->Write(wo, &probe);
  if (!s.ok()) {
    std::unique_ptr<rocksdb::LogFile> now_wal;
    std::lock_guard<std::mutex> lock(latch_->latch_mu);
    latch_->failed_wal = db_->GetCurrentWalFile(&now_wal).ok() && now_wal ? now_wal->LogNumber() : 0;
    return from_rocksdb(s, "probe write");
  }
  return status::ok();
}

status db::get(column c, std::string_view key, std::string* value, std::string_view context) const {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(c), rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return status::not_found(std::string(context));
  return from_rocksdb(s, context);
}

range_iterator::range_iterator(const db& d, column c, std::string lo, std::string hi)
    : lo_(std::move(lo)), hi_(std::move(hi)), lo_s_(lo_), hi_s_(hi_) {
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo_s_;
  ro.iterate_upper_bound = &hi_s_;
  it_.reset(d.raw()->NewIterator(ro, d.cf(c)));
}

}  // namespace pchat::storage
