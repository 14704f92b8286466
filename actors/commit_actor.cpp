#include "actors/commit_actor.h"
#include "actors/live_settings.h"

#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <unordered_map>
#include <optional>

#include "actors/index_feed.h"
#include "actors/messages.h"
#include "actors/pref_writer.h"
#include "actors/node_metrics.h"
#include "actors/server_context.h"
#include "log/log.h"
#include "text/utc_time.h"
#include "storage/crash_point.h"
#include "storage/database.h"
#include "storage/message_log.h"

namespace pchat::actors {
namespace {

// What the commit actor is built from: it exists before the server_context that names it.
struct commit_inputs : server_settings {
  storage::database* store = nullptr;
  caf::actor indexer;
  std::shared_ptr<index_feed> index;
  std::shared_ptr<node_metrics> metrics;
};

struct commit_state {
  const storage::database* store = nullptr;
  node_metrics* metrics = nullptr;
  std::unique_ptr<storage::write_batch> batch;
  std::vector<std::pair<caf::response_promise, uint64_t>> waiters;  // promise, value to deliver
  bool flush_scheduled = false;
  uint64_t next_event_seq = 1;      // global compliance event sequence (we are its only writer)
  size_t staged_events = 0;         // compliance events in the open batch
  bool staged_post_event = false;   // one of them is a post's (crash point "after_capture")
  caf::actor indexer;               // woken when a synced batch's notes wake it (may be invalid)
  index_feed* index = nullptr;      // null: no indexer
  std::vector<index_note> index_notes;  // the batch's messages (room, seq), noted once synced
  // Preferences in the open batch (user -> label -> bytes): the quota counts them too.
  std::map<std::string, uint64_t> pending_uploads;  // uploader -> bytes in the open batch
  // Pool: each room log's state as stored plus the open batch's changes (we are its only
  // writer). Dropped when a commit fails (the batch's changes never landed) and when it
  // grows past kMaxLogStates (it is re-read on the next write of a room).
  std::unordered_map<std::string, storage::room_log_state> log_states;
  static inline const char* name = "commit";

  // The room log's state, read once from the store. False (and *err set) if unreadable.
  storage::room_log_state* log_state(const std::string& room_id, caf::error* err) {
    auto it = log_states.find(room_id);
    if (it != log_states.end()) return &it->second;
    storage::room_log_state s;
    if (auto r = store->messages().read_state(room_id, &s); !r.is_ok()) {
      *err = make_error(errc::storage_failure, "room log state of " + room_id + ": " + r.to_string());
      return nullptr;
    }
    return &log_states.emplace(room_id, s).first->second;
  }

  // Keeps a written message's place for the indexer (noted after the batch has synced).
  // redo: it may be indexed already (a rewrite).
  void keep_for_index(const std::string& room_id, uint64_t seq, bool redo) {
    if (index) index_notes.push_back(index_note{room_id, seq, redo});
  }

  // Assigns the next event sequence and adds the event to the open batch.
  void stage(const storage::compliance_record& e) {
    store->compliance().stage(*batch, next_event_seq, e);
    if (next_event_seq != 0) ++next_event_seq;
    ++staged_events;
  }
};

void flush(caf::stateful_actor<commit_state>* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.waiters.empty() && st.staged_events == 0) return;
  auto began = std::chrono::steady_clock::now();
  pchat::status s = st.batch->commit();
  auto& m = *st.metrics;
  m.commit_batches.add();
  m.commit_batch_entries.observe(st.waiters.size() + st.staged_events);
  m.commit_sync_us.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began).count()));
  auto waiters = std::move(st.waiters);
  st.waiters.clear();
  bool had_post_event = st.staged_post_event;
  st.staged_events = 0;
  st.staged_post_event = false;
  st.pending_uploads.clear();
  if (!s.is_ok() || st.log_states.size() > kMaxLogStates) st.log_states.clear();
  if (s.is_ok()) {
    if (had_post_event) storage::crash_point("after_capture");
    // Before the waiters: an acknowledged message is always noted for the indexer already.
    if (st.index && !st.index_notes.empty()) {
      m.index_queued.add(st.index_notes.size());
      if (st.index->note(st.index_notes)) self->send(st.indexer, ixstep_atom::value);
    }
    st.index_notes.clear();
    for (auto& [rp, value] : waiters) rp.deliver(value);
    return;
  }
  // The store logs when writes stop and when they resume; this is per batch.
  st.index_notes.clear();
  m.commit_failures.add();
  PCHAT_LOG(debug, "commit", "group commit failed",
            "error=" + log::quote(s.to_string()) + " waiters=" + std::to_string(waiters.size()));
  for (auto& [rp, value] : waiters)
    rp.deliver(make_error(errc::storage_failure, "store write failed: " + s.to_string()));
}

// Makes sure the open batch is flushed soon (behind every request already queued).
void schedule_flush(caf::stateful_actor<commit_state>* self) {
  auto& st = self->state;
  if (st.waiters.size() + st.staged_events >= kMaxBatch) {
    flush(self);
  } else if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

void enqueue(caf::stateful_actor<commit_state>* self, uint64_t value) {
  auto& st = self->state;
  st.waiters.emplace_back(self->make_response_promise(), value);
  if (st.waiters.size() >= kMaxBatch) {
    flush(self);
  } else if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

// A pool write of a room's log (ship, copy, mark: `add` adds it to the batch given the
// room's state): refused at once when the epoch is stale or the state unreadable (nothing
// added), else waits for the group commit like any write and answers `value`.
template <class Add>
void log_write(caf::stateful_actor<commit_state>* self, const std::string& room_id, uint64_t epoch,
               uint64_t value, Add add) {
  auto& st = self->state;
  caf::error err;
  auto* state = st.log_state(room_id, &err);
  if (state == nullptr) return self->make_response_promise().deliver(std::move(err));
  if (storage::message_log::stale(*state, epoch))
    return self->make_response_promise().deliver(make_error(
        errc::forbidden, "stale epoch " + std::to_string(epoch) + " for room " + room_id +
                             ": this node accepted epoch " + std::to_string(state->epoch)));
  if (auto s = add(*state); !s.is_ok())
    return self->make_response_promise().deliver(make_error(errc::bad_request, s.to_string()));
  enqueue(self, value);
}

caf::behavior commit_actor(caf::stateful_actor<commit_state>* self,
                           std::shared_ptr<const commit_inputs> in) {
  self->state.store = in->store;
  self->state.metrics = in->metrics.get();
  self->state.batch = in->store->new_batch();
  self->state.indexer = in->indexer;
  self->state.index = in->indexer ? in->index.get() : nullptr;
  uint64_t last_event = 0;
  if (auto s = in->store->compliance().last_sequence(&last_event); !s.is_ok()) {
    // Numbering from 1 again could reuse a delivered range's output name. Sequence 0 is
    // rejected by the store, so every batch with an event fails (posts get 503) instead.
    PCHAT_LOG(error, "commit", "cannot read the compliance sequence; captured writes will fail",
              "error=" + log::quote(s.to_string()));
    self->state.next_event_seq = 0;
  } else {
    self->state.next_event_seq = last_event + 1;
  }
  // Linked: it ends when we do (a shutdown's exit reaches it through the link).
  caf::actor prefs = self->spawn<caf::detached + caf::linked>(
      pref_writer, in->store, pref_quota{in->max_prefs_per_user, in->max_pref_bytes_per_user});
  return {
      [=](commit_atom, const std::string& room_id, storage::message_record& m) {
        in->store->messages().append(*self->state.batch, room_id, m);
        self->state.keep_for_index(room_id, m.seq, false);
        enqueue(self, m.seq);
      },
      [=](commit_atom, const std::string& room_id, storage::message_record& m,
          const storage::compliance_record& e) {
        in->store->messages().append(*self->state.batch, room_id, m);
        self->state.keep_for_index(room_id, m.seq, false);
        self->state.stage(e);
        self->state.staged_post_event = true;
        enqueue(self, m.seq);
      },
      [=](capture_atom, const storage::compliance_record& e, caf::ok_atom) {
        self->state.stage(e);
        enqueue(self, 0);
      },
      [=](capture_atom, const storage::compliance_record& e) {
        self->state.stage(e);
        schedule_flush(self);
      },
      [=](rewrite_atom, const std::string& room_id,
          std::vector<storage::message_record>& msgs,
          const std::vector<storage::compliance_record>& events) {
        for (auto& m : msgs) {
          in->store->messages().append(*self->state.batch, room_id, m);
          self->state.keep_for_index(room_id, m.seq, true);
        }
        for (const auto& e : events) self->state.stage(e);
        enqueue(self, msgs.size());
      },
      [=](purge_atom, const std::string& room_id, const std::vector<uint64_t>& seqs,
          const std::vector<storage::compliance_record>& events) {
        for (auto seq : seqs) in->store->messages().erase(*self->state.batch, room_id, seq);
        for (const auto& e : events) self->state.stage(e);
        enqueue(self, seqs.size());
      },
      [=](file_put_atom, const storage::file_record& f,
          const std::vector<storage::compliance_record>& events) {
        // Upload quota (server_context): checked here, by the only writer of file records,
        // so concurrent uploads of one user cannot pass it together.
        uint64_t used = 0;
        if (auto s = in->store->files().uploaded_bytes(f.uploader, &used); !s.is_ok()) {
          self->make_response_promise().deliver(make_error(errc::storage_failure, s.to_string()));
          return;
        }
        used += self->state.pending_uploads[f.uploader];
        if (used + f.size > in->max_upload_bytes_per_user) {
          self->make_response_promise().deliver(make_error(
              errc::quota_exceeded, "upload quota: " + f.uploader + " has " + std::to_string(used) +
                                        " bytes of files; at most " + std::to_string(in->max_upload_bytes_per_user) +
                                        " per user (remove files to make room)"));
          return;
        }
        self->state.pending_uploads[f.uploader] += f.size;
        in->store->files().put(*self->state.batch, f);
        for (const auto& e : events) self->state.stage(e);
        enqueue(self, f.id);
      },
      [=](set_pref_atom a, const std::string& user, const std::string& label, const std::string& value) {
        // Not in the group commit: on a pool node a preference is a directory-log record
        // every node applies (pref_writer.h), a wait that must not hold the posts back.
        return self->delegate(prefs, a, user, label, value);
      },
      [=](logput_atom, const std::string& room_id, uint64_t epoch, storage::message_record& m) {
        log_write(self, room_id, epoch, m.seq, [&](storage::room_log_state& s) {
          auto r = in->store->messages().ship(*self->state.batch, room_id, epoch, m, nullptr, &s);
          if (r.is_ok()) self->state.keep_for_index(room_id, m.seq, false);
          return r;
        });
      },
      [=](logput_atom, const std::string& room_id, uint64_t epoch, storage::message_record& m,
          const storage::compliance_record& e) {
        // The owner keeps its event beside the log as the follower does, not staged: the
        // room's owner delivers it from there (docs/POOL.md "Compliance across the pool").
        log_write(self, room_id, epoch, m.seq, [&](storage::room_log_state& s) {
          auto r = in->store->messages().ship(*self->state.batch, room_id, epoch, m, &e, &s);
          if (!r.is_ok()) return r;
          self->state.keep_for_index(room_id, m.seq, false);
          self->state.staged_post_event = true;
          return r;
        });
      },
      [=](rlogput_atom, const std::string& room_id, uint64_t epoch, storage::message_record& m) {
        log_write(self, room_id, epoch, m.seq, [&](storage::room_log_state& s) {
          auto r = in->store->messages().ship(*self->state.batch, room_id, epoch, m, nullptr, &s);
          if (r.is_ok()) self->state.keep_for_index(room_id, m.seq, true);
          return r;
        });
      },
      [=](rlogput_atom, const std::string& room_id, uint64_t epoch, storage::message_record& m,
          const storage::compliance_record& e) {
        log_write(self, room_id, epoch, m.seq, [&](storage::room_log_state& s) {
          auto r = in->store->messages().ship(*self->state.batch, room_id, epoch, m, &e, &s);
          if (r.is_ok()) self->state.keep_for_index(room_id, m.seq, true);
          return r;
        });
      },
      [=](logcopy_atom, const std::string& room_id, uint64_t epoch, std::vector<storage::message_record>& chunk,
          bool full) {
        log_write(self, room_id, epoch, chunk.size(), [&](storage::room_log_state& s) {
          auto r = in->store->messages().copy_chunk(*self->state.batch, room_id, epoch, chunk, full, &s);
          if (r.is_ok())
            for (auto& m : chunk) self->state.keep_for_index(room_id, m.seq, true);
          return r;
        });
      },
      [=](logcopy_atom, const std::string& room_id, uint64_t epoch, std::vector<storage::message_record>& chunk,
          bool full, const std::vector<storage::compliance_record>& events) {
        log_write(self, room_id, epoch, chunk.size(), [&](storage::room_log_state& s) {
          auto r = in->store->messages().copy_chunk(*self->state.batch, room_id, epoch, chunk, full, &s, &events);
          if (r.is_ok())
            for (auto& m : chunk) self->state.keep_for_index(room_id, m.seq, true);
          return r;
        });
      },
      [=](logmark_atom, const std::string& room_id, uint64_t epoch) {
        log_write(self, room_id, epoch, epoch, [&](storage::room_log_state& s) {
          return in->store->messages().mark(*self->state.batch, room_id, epoch, &s);
        });
      },
      [=](flush_atom) { flush(self); },
  };
}

}  // namespace

caf::actor spawn_commit_actor(caf::actor_system& sys, storage::database* store, caf::actor indexer,
                              std::shared_ptr<index_feed> index, const server_settings& settings, std::shared_ptr<node_metrics> metrics) {
  auto in = std::make_shared<commit_inputs>();
  static_cast<server_settings&>(*in) = settings;
  in->store = store;
  in->indexer = std::move(indexer);
  in->index = std::move(index);
  in->metrics = std::move(metrics);
  return sys.spawn<caf::detached>(commit_actor, std::shared_ptr<const commit_inputs>(std::move(in)));
}

void capture(const server_context& ctx, storage::compliance_record e) {
  if (!ctx.live->current()->compliance.enabled) return;
  if (e.ts_micros == 0)
    e.ts_micros = utc::now_micros();
  caf::anon_send(ctx.commit, capture_atom::value, std::move(e));
}

}  // namespace pchat::actors
