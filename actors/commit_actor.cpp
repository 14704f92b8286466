#include "actors/commit_actor.h"

#include <caf/all.hpp>

#include "actors/messages.h"
#include "actors/server_context.h"
#include "log/log.h"
#include "storage/store.h"

namespace pchat::actors {
namespace {

struct commit_state {
  std::unique_ptr<storage::write_batch> batch;
  std::vector<std::pair<caf::response_promise, uint64_t>> waiters;  // promise, value to deliver
  bool flush_scheduled = false;
  static inline const char* name = "commit";
};

void flush(caf::stateful_actor<commit_state>* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.waiters.empty()) return;
  storage::status s = st.batch->commit();
  auto waiters = std::move(st.waiters);
  st.waiters.clear();
  if (s.is_ok()) {
    for (auto& [rp, value] : waiters) rp.deliver(value);
    return;
  }
  PCHAT_LOG(error, "store", "group commit failed; refusing further writes",
            "error=" + log::quote(s.to_string()) + " waiters=" + std::to_string(waiters.size()) +
                " action=" + log::quote("free disk space or fix the data directory, then restart"));
  for (auto& [rp, value] : waiters)
    rp.deliver(make_error(errc::storage_failure, "store write failed: " + s.to_string()));
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

caf::behavior commit_actor(caf::stateful_actor<commit_state>* self,
                           std::shared_ptr<const server_context> ctx) {
  self->state.batch = ctx->store->new_batch();
  return {
      [=](commit_atom, const std::string& room_id, const storage::message_record& m) {
        self->state.batch->put_message(room_id, m);
        enqueue(self, m.seq);
      },
      [=](set_pref_atom, const std::string& user, const std::string& label,
          const std::string& value) {
        self->state.batch->put_pref(user, label, value);
        enqueue(self, 0);
      },
      [=](flush_atom) { flush(self); },
  };
}

}  // namespace

caf::actor spawn_commit_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx) {
  return sys.spawn<caf::detached>(commit_actor, std::move(ctx));
}

}  // namespace pchat::actors
