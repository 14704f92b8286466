#include "storage/database.h"

namespace pchat::storage {

status database::open(const db_options& opts, std::unique_ptr<database>* out) {
  std::unique_ptr<database> d(new database());
  if (status s = storage::db::open(opts, &d->db_); !s.is_ok()) return s;
  storage::db& base = *d->db_;
  d->writer_ = std::make_unique<storage::writer>(base);
  storage::writer& w = *d->writer_;
  d->messages_ = std::make_unique<storage::message_log>(base, w);
  if (status s = storage::file_index::open(base, w, &d->files_); !s.is_ok()) return s;
  if (status s = storage::directory::open(base, w, *d->messages_, *d->files_, &d->directory_); !s.is_ok())
    return s;
  d->identities_ = std::make_unique<storage::identities>(base, w);
  d->configuration_ = std::make_unique<storage::configuration>(base, w);
  d->compliance_ = std::make_unique<storage::compliance_queue>(base, w);
  d->preferences_ = std::make_unique<storage::preferences>(base, w);
  *out = std::move(d);
  return status::ok();
}

database::~database() = default;

std::unique_ptr<write_batch> database::new_batch() const {
  return std::make_unique<write_batch>(*db_, *writer_);
}

}  // namespace pchat::storage
