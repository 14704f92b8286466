#include "actors/indexer_actor.h"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/index_feed.h"
#include "actors/messages.h"
#include "actors/node_metrics.h"
#include "log/log.h"
#include "search/search_index.h"
#include "storage/database.h"

namespace pchat::actors {
namespace {

struct sync_wait {
  caf::response_promise rp;
  std::vector<std::pair<std::string, uint64_t>> targets;  // room, seq noted before the ixsync
};

struct indexer_state {
  std::unique_ptr<search::search_index> index;  // null: the index could not be opened
  std::string path;
  std::unique_ptr<search::search_reader> reader;  // ixquery's, opened on first use
  storage::database* store = nullptr;
  std::shared_ptr<index_feed> feed;
  std::shared_ptr<node_metrics> metrics;
  std::chrono::milliseconds step_delay{0};
  bool flush_scheduled = false;
  std::vector<sync_wait> syncs;
  static inline const char* name = "indexer";

  ~indexer_state() {
    if (index && index->pending() > 0) {
      if (auto s = index->commit(); !s.is_ok())
        PCHAT_LOG(error, "search", "final index commit failed",
                  "error=" + log::quote(s.to_string()));
    }
  }

  void commit() {
    if (!index || index->pending() == 0) return;
    if (auto s = index->commit(); !s.is_ok())
      PCHAT_LOG(error, "search", "index commit failed; search may miss recent messages",
                "error=" + log::quote(s.to_string()) +
                    " action=" + log::quote("check <data-dir>/search; delete it to rebuild"));
  }

  void add(const std::string& room_id, const storage::message_record& m) {
    if (auto s = index->add(room_id, m); !s.is_ok())
      PCHAT_LOG(warn, "search", "message not indexed",
                "room=" + room_id + " seq=" + std::to_string(m.seq) +
                    " error=" + log::quote(s.to_string()));
  }

  // Reads messages [from, to] of the room, at most `budget`, and indexes them. Returns the
  // seq read through (to when the store has nothing more up to it), and lowers the budget.
  // A read failure answers `from - 1` (nothing read; tried again at the next step).
  uint64_t read_range(const std::string& room_id, uint64_t from, uint64_t to, size_t& budget) {
    std::vector<storage::message_record> msgs;
    if (auto s = store->messages().read_from(room_id, from, budget, &msgs); !s.is_ok()) {
      PCHAT_LOG(error, "search", "cannot read messages to index",
                "room=" + room_id + " from=" + std::to_string(from) +
                    " error=" + log::quote(s.to_string()));
      budget = 0;
      return from - 1;
    }
    size_t asked = budget, added = 0;
    uint64_t through = to;  // the store has nothing more up to `to`
    for (auto& m : msgs) {
      if (m.seq > to) break;
      add(room_id, m);
      ++added;
    }
    budget -= added;
    metrics->index_done.add(added);
    if (added == asked) through = msgs.back().seq;  // more may follow
    return through;
  }

  // One room's share of a step: its rewritten ranges first, then forward.
  void index_room(index_work& w, size_t& budget) {
    std::vector<std::pair<uint64_t, uint64_t>> left;
    for (auto [lo, hi] : w.redo) {
      if (budget == 0) {
        left.emplace_back(lo, hi);
        continue;
      }
      uint64_t through = read_range(w.room_id, lo, hi, budget);
      if (through < hi) left.emplace_back(through + 1, hi);
    }
    uint64_t scanned = w.scanned;
    while (budget > 0 && scanned < w.written) {
      uint64_t through = read_range(w.room_id, scanned + 1, w.written, budget);
      if (through <= scanned) break;  // a read failure
      scanned = through;
    }
    feed->scanned(w.room_id, scanned, left);
  }

  // Seeds the feed with what the index holds and what the store holds: one seek per room,
  // no message read (the messages are read by the steps).
  void seed() {
    for (const auto& [room, seq] : index->high_water()) feed->seed(room, seq, 0);
    std::vector<storage::room_record> rooms;
    if (auto s = store->directory().list_rooms(&rooms); !s.is_ok()) {
      PCHAT_LOG(error, "search", "cannot list rooms to catch up",
                "error=" + log::quote(s.to_string()));
      return;
    }
    for (const auto& r : rooms) {
      uint64_t last = 0;
      if (auto s = store->messages().last_sequence(r.id, &last); !s.is_ok()) {
        PCHAT_LOG(error, "search", "cannot read a room's last message to catch up",
                  "room=" + r.id + " error=" + log::quote(s.to_string()));
        continue;
      }
      feed->seed(r.id, index->indexed_through(r.id), last);
    }
    if (uint64_t lag = feed->lag_messages(); lag > 0)
      PCHAT_LOG(info, "search", "indexing the stored messages the index lacks, in the background",
                "messages=" + std::to_string(lag));
  }

  bool sync_met(const sync_wait& w) const {
    for (const auto& [room, seq] : w.targets)
      if (!feed->done_through(room, seq)) return false;
    return true;
  }

  void answer_syncs() {
    if (syncs.empty()) return;
    auto met = std::partition(syncs.begin(), syncs.end(),
                              [&](const sync_wait& w) { return !sync_met(w); });
    if (met == syncs.end()) return;
    commit();
    for (auto it = met; it != syncs.end(); ++it) it->rp.deliver(caf::ok_atom::value);
    syncs.erase(met, syncs.end());
  }
};

using indexer_ptr = caf::stateful_actor<indexer_state>*;

void schedule_flush(indexer_ptr self) {
  auto& st = self->state;
  if (st.index->pending() >= kIndexCommitDocs) {
    st.commit();
  } else if (!st.flush_scheduled && st.index->pending() > 0) {
    st.flush_scheduled = true;
    self->delayed_send(self, kIndexCommitDelay, ixflush_atom::value);
  }
}

// One bounded step; queues the next one while work is left (else the feed is asleep).
void step(indexer_ptr self) {
  auto& st = self->state;
  if (!st.index) return;  // stays awake in the feed: nobody wakes a broken indexer again
  bool more = false;
  size_t budget = kIndexStepMessages;
  while (budget > 0) {
    auto w = st.feed->next();
    if (!w) break;
    st.index_room(*w, budget);
    if (budget == 0) more = true;
  }
  schedule_flush(self);
  st.answer_syncs();
  if (st.step_delay.count() > 0) {
    // Tests: the next step comes after the pause, whatever is noted meanwhile (awake, the
    // feed wakes nobody).
    st.feed->hold_awake();
    self->delayed_send(self, st.step_delay, ixstep_atom::value);
  } else if (more) {
    self->send(self, ixstep_atom::value);
  }
}

caf::behavior indexer_actor(indexer_ptr self, storage::database* store, indexer_options opts,
                            std::shared_ptr<index_feed> feed,
                            std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  st.store = store;
  st.feed = std::move(feed);
  st.metrics = std::move(metrics);
  st.step_delay = opts.step_delay;
  st.path = opts.path;
  if (auto s = search::search_index::open(opts.path, &st.index); !s.is_ok()) {
    PCHAT_LOG(error, "search", "cannot open the search index; history search is unavailable",
              "path=" + log::quote(opts.path) + " error=" + log::quote(s.to_string()) +
                  " action=" + log::quote("delete the folder to rebuild it from the store"));
    st.index.reset();
  } else {
    st.seed();
    self->send(self, ixstep_atom::value);  // the feed may be awake already: one extra step
  }
  return {
      [=](ixstep_atom) { step(self); },
      [=](ixdel_atom, const std::string& room_id, const std::vector<uint64_t>& seqs) {
        auto& st = self->state;
        if (!st.index) return;
        for (auto seq : seqs)
          if (auto s = st.index->remove(room_id, seq); !s.is_ok())
            PCHAT_LOG(warn, "search", "message not removed from the index",
                      "room=" + room_id + " seq=" + std::to_string(seq) +
                          " error=" + log::quote(s.to_string()));
        st.commit();  // at once: a cleared message must not stay findable
      },
      [=](ixflush_atom) {
        self->state.flush_scheduled = false;
        self->state.commit();
      },
      [=](ixquery_atom, const search::search_query& q) -> caf::result<search::search_result> {
        auto& st = self->state;
        if (!st.index) return make_error(errc::storage_failure, "search index unavailable");
        if (!st.reader)
          if (auto s = search::search_reader::open(st.path, &st.reader); !s.is_ok())
            return make_error(errc::storage_failure, "search index unavailable: " + s.to_string());
        search::search_result r;
        auto s = st.reader->search(q, &r);
        if (s.is_invalid_argument()) return make_error(errc::bad_request, s.reason());
        if (!s.is_ok()) {
          st.reader.reset();  // reopen next time
          return make_error(errc::storage_failure, s.to_string());
        }
        return r;
      },
      [=](ixsync_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (!st.index) return make_error(errc::storage_failure, "search index unavailable");
        sync_wait w{caf::response_promise{}, st.feed->targets()};
        if (st.sync_met(w)) {
          st.commit();
          return caf::ok_atom::value;
        }
        if (st.syncs.size() >= kMaxIndexSyncs)
          return make_error(errc::busy,
                            "the search index is catching up; too many searches wait for it");
        w.rp = self->make_response_promise();
        st.syncs.push_back(std::move(w));
        return caf::delegated<caf::ok_atom>();
      },
  };
}

}  // namespace

caf::actor spawn_indexer_actor(caf::actor_system& sys, storage::database* store,
                               indexer_options opts, std::shared_ptr<index_feed> feed,
                               std::shared_ptr<node_metrics> metrics) {
  return sys.spawn<caf::detached>(indexer_actor, store, std::move(opts), std::move(feed),
                                  std::move(metrics));
}

}  // namespace pchat::actors
