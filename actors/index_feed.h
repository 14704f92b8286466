// index_feed: what the store holds that the search index does not yet, per room, as
// sequence numbers only. The commit actor notes each synced batch here; the indexer takes
// rooms from it, reads their messages from the store (by sequence) and reports how far it
// got. Nothing here holds a message, so the indexer's memory does not grow with its backlog:
// the backlog lives in the store, where it already is (docs/ARCHITECTURE.md, "The indexer").
//
// Per room: `written` (highest seq made durable), `scanned` (the indexer has read every
// stored message up to it), and `redo`: ranges of seqs at or below `scanned` that were
// written again (admin replacements, imports into the past) and must be re-read. A room has
// work while written > scanned or redo is not empty; rooms with work are served round-robin
// so one busy room cannot starve another. Redo ranges are merged and, past kMaxRedoRanges,
// collapsed into one covering range (bounded memory; re-reading more is harmless).
//
// Wake-up: the indexer is either awake (it has a step queued or running) or asleep. note()
// answers true when it woke a sleeping indexer: the caller then sends it (ixstep). The
// indexer calls next() for work; a null answer puts it to sleep atomically with the check,
// so a note cannot be missed.
//
// Lag (read by /metrics and the status page through server_context::index): messages = the sum of
// written - scanned (an upper bound: purged or failed seqs count until scanned past); seconds = how
// long the oldest room with work has had it (since its first note, or since the start-up scan).
//
// Thread safety: every member from any thread (one mutex; held for map updates only).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pchat::actors {

inline constexpr size_t kMaxRedoRanges = 32;

// One write of a synced batch. redo: the seq may already be indexed (a rewrite).
struct index_note {
  std::string room_id;
  uint64_t seq = 0;
  bool redo = false;
};

// A room's work, as handed to the indexer.
struct index_work {
  std::string room_id;
  uint64_t scanned = 0;                             // read through this seq already
  uint64_t written = 0;                             // the newest durable seq
  std::vector<std::pair<uint64_t, uint64_t>> redo;  // inclusive ranges to re-read, ascending
};

class index_feed {
 public:
  using clock = std::chrono::steady_clock;
  index_feed() = default;
  index_feed(const index_feed&) = delete;
  index_feed& operator=(const index_feed&) = delete;

  // The commit actor, after a batch synced. True: the indexer was asleep, send it (ixstep).
  bool note(const std::vector<index_note>& notes);
  // The indexer at start: what the index already holds (its high-water marks) and what the
  // store holds. Never lowers a mark. True: as for note().
  bool seed(const std::string& room_id, uint64_t indexed, uint64_t stored);
  // The indexer: the next room with work (its redo is handed over and cleared), or nullopt,
  // and then the indexer is asleep.
  std::optional<index_work> next();
  // The indexer: `room_id` is read through `seq` and its taken redo done but `redo_left`;
  // the room goes to the back of the round-robin if it still has work.
  void scanned(const std::string& room_id, uint64_t seq,
               const std::vector<std::pair<uint64_t, uint64_t>>& redo_left = {});
  // The indexer (tests' paced steps): stay awake after next() found nothing, so that note()
  // wakes nobody; the indexer's own next step comes later.
  void hold_awake();
  // Read through this seq (0 if the room is unknown).
  uint64_t scanned_through(const std::string& room_id) const;
  // True when the room has no work at or below `seq`.
  bool done_through(const std::string& room_id, uint64_t seq) const;
  // Rooms with work now and their written seqs (an ixsync's targets).
  std::vector<std::pair<std::string, uint64_t>> targets() const;

  uint64_t lag_messages() const;
  // 0 when nothing waits.
  std::chrono::microseconds lag_age(clock::time_point now = clock::now()) const;

 private:
  struct room {
    uint64_t written = 0, scanned = 0;
    std::vector<std::pair<uint64_t, uint64_t>> redo;
    bool queued = false;        // in `order_`
    clock::time_point since{};  // when it got work (valid while it has some)
  };
  bool has_work(const room& r) const { return r.written > r.scanned || !r.redo.empty(); }
  void add_redo(room& r, uint64_t lo, uint64_t hi);
  bool enqueue(const std::string& id, room& r);  // true: woke the indexer

  mutable std::mutex mu_;
  std::map<std::string, room> rooms_;
  std::deque<std::string> order_;  // rooms with work, round-robin
  bool awake_ = false;
  uint64_t lag_ = 0;  // sum of written - scanned
};

}  // namespace pchat::actors
