#include "actors/index_feed.h"

#include <algorithm>

namespace pchat::actors {

void index_feed::add_redo(room& r, uint64_t lo, uint64_t hi) {
  auto& v = r.redo;
  // Ascending, inclusive, disjoint and not touching: the first range that ends at or after
  // lo - 1, then every one that starts by hi + 1 merges with [lo, hi].
  auto it = std::lower_bound(
      v.begin(), v.end(), lo,
      [](const std::pair<uint64_t, uint64_t>& x, uint64_t l) { return x.second + 1 < l; });
  auto end = it;
  while (end != v.end() && end->first <= hi + 1) {
    lo = std::min(lo, end->first);
    hi = std::max(hi, end->second);
    ++end;
  }
  it = v.erase(it, end);
  v.insert(it, {lo, hi});
  if (v.size() > kMaxRedoRanges) v = {{v.front().first, v.back().second}};
}

bool index_feed::enqueue(const std::string& id, room& r) {
  if (!has_work(r) || r.queued) return false;
  if (r.since == clock::time_point{}) r.since = clock::now();
  r.queued = true;
  order_.push_back(id);
  if (awake_) return false;
  awake_ = true;
  return true;
}

bool index_feed::note(const std::vector<index_note>& notes) {
  std::lock_guard lock(mu_);
  bool wake = false;
  for (const auto& n : notes) {
    auto& r = rooms_[n.room_id];
    if (n.seq > r.written) {
      uint64_t base = std::max(r.written, r.scanned);
      if (n.seq > base) lag_ += n.seq - base;
      r.written = n.seq;
    }
    if (n.redo && n.seq <= r.scanned) {
      add_redo(r, n.seq, n.seq);
    }
    // A redo above `scanned` needs nothing: the forward read will reach it.
    wake = enqueue(n.room_id, r) || wake;
  }
  return wake;
}

bool index_feed::seed(const std::string& room_id, uint64_t indexed, uint64_t stored) {
  std::lock_guard lock(mu_);
  auto& r = rooms_[room_id];
  uint64_t old_lag = r.written > r.scanned ? r.written - r.scanned : 0;
  r.scanned = std::max(r.scanned, indexed);
  r.written = std::max(r.written, stored);
  uint64_t new_lag = r.written > r.scanned ? r.written - r.scanned : 0;
  lag_ = lag_ - old_lag + new_lag;
  return enqueue(room_id, r);
}

std::optional<index_work> index_feed::next() {
  std::lock_guard lock(mu_);
  while (!order_.empty()) {
    std::string id = std::move(order_.front());
    order_.pop_front();
    auto it = rooms_.find(id);
    if (it == rooms_.end()) continue;
    auto& r = it->second;
    r.queued = false;
    if (!has_work(r)) continue;
    index_work w{id, r.scanned, r.written, std::move(r.redo)};
    r.redo.clear();
    return w;
  }
  awake_ = false;
  return std::nullopt;
}

void index_feed::scanned(const std::string& room_id, uint64_t seq,
                         const std::vector<std::pair<uint64_t, uint64_t>>& redo_left) {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  auto& r = it->second;
  for (auto [lo, hi] : redo_left) add_redo(r, lo, hi);
  if (seq > r.scanned) {
    uint64_t old_lag = r.written > r.scanned ? r.written - r.scanned : 0;
    r.scanned = seq;
    uint64_t new_lag = r.written > r.scanned ? r.written - r.scanned : 0;
    lag_ = lag_ - old_lag + new_lag;
  }
  if (!has_work(r)) {
    r.since = {};
    return;
  }
  if (!r.queued) {
    r.queued = true;
    order_.push_back(room_id);
  }
}

void index_feed::hold_awake() {
  std::lock_guard lock(mu_);
  awake_ = true;
}

uint64_t index_feed::scanned_through(const std::string& room_id) const {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? 0 : it->second.scanned;
}

bool index_feed::done_through(const std::string& room_id, uint64_t seq) const {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return true;
  const auto& r = it->second;
  return r.scanned >= seq && (r.redo.empty() || r.redo.front().first > seq);
}

std::vector<std::pair<std::string, uint64_t>> index_feed::targets() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [id, r] : rooms_) {
    if (!has_work(r)) continue;
    uint64_t top = r.written;
    if (!r.redo.empty()) top = std::max(top, r.redo.back().second);
    out.emplace_back(id, top);
  }
  return out;
}

uint64_t index_feed::lag_messages() const {
  std::lock_guard lock(mu_);
  return lag_;
}

std::chrono::microseconds index_feed::lag_age(clock::time_point now) const {
  std::lock_guard lock(mu_);
  clock::time_point oldest = now;
  for (const auto& [id, r] : rooms_)
    if (has_work(r) && r.since != clock::time_point{}) oldest = std::min(oldest, r.since);
  return std::chrono::duration_cast<std::chrono::microseconds>(now - oldest);
}

}  // namespace pchat::actors
