#include "actors/indexer_actor.h"

#include <caf/all.hpp>

#include "actors/messages.h"
#include "actors/node_metrics.h"
#include "log/log.h"
#include "search/search_index.h"
#include "storage/database.h"

namespace pchat::actors {
namespace {

constexpr size_t kCatchUpChunk = 1000;  // messages read from the store per step

struct indexer_state {
  std::unique_ptr<search::search_index> index;  // null: the index could not be opened
  bool flush_scheduled = false;
  static inline const char* name = "indexer";

  ~indexer_state() {
    if (index && index->pending() > 0) {
      if (auto s = index->commit(); !s.is_ok())
        PCHAT_LOG(error, "search", "final index commit failed", "error=" + log::quote(s.to_string()));
    }
  }

  void commit() {
    if (!index || index->pending() == 0) return;
    if (auto s = index->commit(); !s.is_ok())
      PCHAT_LOG(error, "search", "index commit failed; search may miss recent messages",
                "error=" + log::quote(s.to_string()) +
                    " action=" + log::quote("check <data-dir>/search; delete it to rebuild"));
  }
};

using indexer_ptr = caf::stateful_actor<indexer_state>*;

// Indexes every stored message above each room's high-water mark.
void catch_up(indexer_state& st, storage::database* store) {
  std::vector<storage::room_record> rooms;
  if (auto s = store->directory().list_rooms(&rooms); !s.is_ok()) {
    PCHAT_LOG(error, "search", "cannot list rooms to catch up", "error=" + log::quote(s.to_string()));
    return;
  }
  uint64_t added = 0;
  for (auto& r : rooms) {
    uint64_t from = st.index->indexed_through(r.id) + 1;
    for (;;) {
      std::vector<storage::message_record> msgs;
      if (auto s = store->messages().read_from(r.id, from, kCatchUpChunk, &msgs); !s.is_ok()) {
        PCHAT_LOG(error, "search", "cannot read messages to catch up",
                  "room=" + r.id + " error=" + log::quote(s.to_string()));
        break;
      }
      for (auto& m : msgs) {
        if (auto s = st.index->add(r.id, m); !s.is_ok())
          PCHAT_LOG(warn, "search", "message not indexed", "room=" + r.id + " seq=" +
                                                                std::to_string(m.seq) + " error=" +
                                                                log::quote(s.to_string()));
        ++added;
      }
      if (st.index->pending() >= kIndexCommitDocs) st.commit();
      if (msgs.size() < kCatchUpChunk) break;
      from = msgs.back().seq + 1;
    }
  }
  st.commit();
  if (added > 0)
    PCHAT_LOG(info, "search", "index caught up with the store", "messages=" + std::to_string(added));
}

caf::behavior indexer_actor(indexer_ptr self, storage::database* store, std::string path,
                           std::shared_ptr<node_metrics> metrics) {
  auto& st = self->state;
  if (auto s = search::search_index::open(path, &st.index); !s.is_ok()) {
    PCHAT_LOG(error, "search", "cannot open the search index; history search is unavailable",
              "path=" + log::quote(path) + " error=" + log::quote(s.to_string()) +
                  " action=" + log::quote("delete the folder to rebuild it from the store"));
    st.index.reset();
  } else {
    catch_up(st, store);
  }
  return {
      [=](index_atom, const std::vector<std::string>& rooms,
          const std::vector<storage::message_record>& msgs) {
        auto& st = self->state;
        metrics->index_done.add(msgs.size());  // taken off the backlog, indexed or not
        if (!st.index) return;
        for (size_t i = 0; i < msgs.size() && i < rooms.size(); ++i)
          if (auto s = st.index->add(rooms[i], msgs[i]); !s.is_ok())
            PCHAT_LOG(warn, "search", "message not indexed",
                      "room=" + rooms[i] + " seq=" + std::to_string(msgs[i].seq) +
                          " error=" + log::quote(s.to_string()));
        if (st.index->pending() >= kIndexCommitDocs) {
          st.commit();
        } else if (!st.flush_scheduled && st.index->pending() > 0) {
          st.flush_scheduled = true;
          self->delayed_send(self, kIndexCommitDelay, ixflush_atom::value);
        }
      },
      [=](ixdel_atom, const std::string& room_id, const std::vector<uint64_t>& seqs) {
        auto& st = self->state;
        if (!st.index) return;
        for (auto seq : seqs)
          if (auto s = st.index->remove(room_id, seq); !s.is_ok())
            PCHAT_LOG(warn, "search", "message not removed from the index",
                      "room=" + room_id + " seq=" + std::to_string(seq) + " error=" + log::quote(s.to_string()));
        st.commit();  // at once: a cleared message must not stay findable
      },
      [=](ixflush_atom) {
        self->state.flush_scheduled = false;
        self->state.commit();
      },
      [=](ixsync_atom) -> caf::result<caf::ok_atom> {
        if (!self->state.index) return make_error(errc::storage_failure, "search index unavailable");
        self->state.commit();
        return caf::ok_atom::value;
      },
  };
}

}  // namespace

caf::actor spawn_indexer_actor(caf::actor_system& sys, storage::database* store, std::string path,
                               std::shared_ptr<node_metrics> metrics) {
  return sys.spawn<caf::detached>(indexer_actor, store, std::move(path), std::move(metrics));
}

}  // namespace pchat::actors
