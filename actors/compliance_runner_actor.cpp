#include "actors/compliance_runner_actor.h"

#include <caf/all.hpp>

#include <algorithm>
#include <unordered_map>

#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/pool_compliance.h"
#include "compliance/adapter.h"
#include "log/log.h"
#include "protocol/xccos/chat_uri.h"
#include "storage/crash_point.h"
#include "storage/database.h"
#include "text/utc_time.h"

namespace pchat::actors {
namespace {

using compliance::adapter_result;
using compliance::batch;

// Caps one run so that a huge backlog cannot keep the runner from answering (cstatus).
constexpr int kMaxBatchesPerRun = 100;

struct runner_state {
  storage::database* store = nullptr;
  runner_options opts;
  std::shared_ptr<live_settings> live;  // null: opts stay as given
  storage::compliance_config applied;   // the live settings the adapter was made from
  compliance_status status;
  std::unique_ptr<pool_compliance> pool;  // pool nodes only
  uint64_t generation = 0;  // only the newest timer message runs
  static inline const char* name = "compliance-runner";

  void failed(const std::string& why) {
    status.last_error = why;
    status.last_error_micros = utc::now_micros();
    status.consecutive_failures++;
    PCHAT_LOG(warn, "compliance", "batch not delivered; it stays staged and is retried",
              "adapter=" + opts.output->type() + " error=" + log::quote(why) +
                  " failures=" + std::to_string(status.consecutive_failures));
  }

  // What the post path leaves out to stay cheap, filled in at delivery: the room URI (from
  // the room id), the user's display name (from the directory, as it is now) and a file
  // event's uploaded name (for the .ATTACH manifest).
  void resolve(std::vector<storage::compliance_record>& events) const {
    std::unordered_map<std::string, std::string> names;  // user uri -> display name
    for (auto& e : events) {
      // An admin's search of every room has no room: the pool's channel root names it.
      if (e.room_uri.empty() && (!e.room_id.empty() || e.kind == storage::compliance_kind::admin_search))
        e.room_uri = xccos::room_uri(opts.domain, e.room_id);
      if ((e.kind == storage::compliance_kind::file_upload ||
           e.kind == storage::compliance_kind::file_download) && e.message_id != 0) {
        storage::file_record f;  // gone with its room: the stored name still identifies it
        if (store->files().get(e.room_id, e.message_id, &f).is_ok()) e.file_name = f.name;
      }
      if (!e.user_display.empty() || e.user_uri.rfind("sip:", 0) != 0) continue;
      auto [it, fresh] = names.try_emplace(e.user_uri);
      if (fresh) {
        storage::user_record u;
        if (store->identities().get_user(e.user_uri, &u).is_ok()) it->second = u.display_name;
      }
      e.user_display = it->second;
    }
  }

  // Delivers one batch; false on failure (recorded), *empty when the queue was empty.
  bool deliver_one(bool* empty) {
    std::vector<storage::compliance_record> events;
    if (auto s = store->compliance().read(0, opts.max_batch_events, &events); !s.is_ok()) {
      failed("read staging: " + s.to_string());
      return false;
    }
    *empty = events.empty();
    if (events.empty()) return true;
    uint64_t first = events.front().seq;
    uint64_t last = events.back().seq;
    if (uint64_t done = opts.output->delivered_range_end(first); done != 0) {
      // Output of [first, done] exists from before a crash: re-deliver exactly that range.
      std::vector<storage::compliance_record> range;
      if (auto s = store->compliance().read(first, done - first + 1, &range); !s.is_ok()) {
        failed("read staging: " + s.to_string());
        return false;
      }
      range.erase(std::remove_if(range.begin(), range.end(),
                                 [&](const auto& e) { return e.seq > done; }),
                  range.end());
      events = std::move(range);
      last = done;
      PCHAT_LOG(info, "compliance", "completing a batch interrupted after its output",
                "first=" + std::to_string(first) + " last=" + std::to_string(last));
    }
    resolve(events);
    batch b{first, last, std::move(events)};
    if (adapter_result r = opts.output->deliver(b); !r.ok()) {
      failed(r.error);
      return false;
    }
    storage::crash_point("after_rename");
    const int64_t now = utc::now_micros();
    if (auto s = store->compliance().remove(first, last, b.events.size(), now); !s.is_ok()) {
      failed("delete delivered batch: " + s.to_string());
      return false;
    }
    status.batches_delivered++;
    status.events_delivered += b.events.size();
    status.last_success_micros = now;
    status.last_error.clear();
    status.consecutive_failures = 0;
    PCHAT_LOG(info, "compliance", "batch delivered",
              "first=" + std::to_string(first) + " last=" + std::to_string(last) +
                  " events=" + std::to_string(b.events.size()));
    return true;
  }

  // The pool rooms' CHAT events (pool_compliance.h); false after a failure.
  bool run_pool() {
    if (!pool) return true;
    auto pass = pool->run(*store, *opts.output, [this](auto& events) { resolve(events); }, opts.max_batch_events,
                          kMaxBatchesPerRun);
    if (pass.batches > 0) {
      status.batches_delivered += pass.batches;
      status.events_delivered += pass.events;
      status.last_success_micros = utc::now_micros();
    }
    if (!pass.error.empty()) {
      failed(pass.error);
      return false;
    }
    return true;
  }

  // Runs batches until the queue is empty; returns false after a failure.
  bool run() {
    if (!run_pool()) return false;
    for (int i = 0; i < kMaxBatchesPerRun; ++i) {
      bool empty = false;
      if (!deliver_one(&empty)) return false;
      if (empty) return true;
    }
    return true;
  }

  std::chrono::milliseconds next_delay(bool ok) const {
    if (ok) return opts.run_interval;
    int shift = static_cast<int>(std::min<uint64_t>(status.consecutive_failures - 1, 20));
    auto backoff = opts.backoff_base * (int64_t{1} << shift);
    return std::min<std::chrono::milliseconds>(backoff, opts.run_interval);
  }
};

using runner_ptr = caf::stateful_actor<runner_state>*;

void run_and_schedule(runner_ptr self) {
  auto& st = self->state;
  bool ok = st.run();
  uint64_t gen = ++st.generation;
  if (st.opts.enabled) self->delayed_send(self, st.next_delay(ok), crun_atom::value, gen);
}

bool same_output(const storage::compliance_config& a, const storage::compliance_config& b) {
  return a.adapter_type == b.adapter_type && a.output_directory == b.output_directory &&
         a.one_chat_room_per_output_file == b.one_chat_room_per_output_file &&
         a.add_user_details == b.add_user_details && a.add_chat_room_details == b.add_chat_room_details &&
         a.create_file_attachments_manifest == b.create_file_attachments_manifest;
}

// creconf: the settings in force now replace the runner's; the timer restarts from here.
void reconfigure(runner_ptr self) {
  auto& st = self->state;
  if (!st.live) return;
  auto now = st.live->current();
  const storage::compliance_config& c = now->compliance;
  bool was_on = st.opts.enabled;
  if (!same_output(c, st.applied)) {
    std::shared_ptr<compliance::adapter> next = compliance::make_adapter(c, st.opts.domain);
    if (!next) {  // validated before it was published; keep delivering with the old one
      PCHAT_LOG(error, "compliance", "unknown adapter type in the live settings; keeping the previous adapter",
                "adapter=" + c.adapter_type);
    } else {
      st.opts.output = std::move(next);
      st.status.adapter = st.opts.output->type();
    }
  }
  st.applied = c;
  st.opts.run_interval = now->run_interval;
  st.opts.backoff_base = std::min<std::chrono::milliseconds>(st.opts.backoff_base, st.opts.run_interval);
  st.opts.enabled = c.enabled;
  st.status.enabled = c.enabled;
  uint64_t gen = ++st.generation;  // the pending timer is void
  if (c.enabled && !was_on) {
    st.opts.output->remove_stale_temporaries();
    self->send(self, crun_atom::value, gen);  // on: run at once, as at a start
  } else if (c.enabled) {
    self->delayed_send(self, st.opts.run_interval, crun_atom::value, gen);
  }
  PCHAT_LOG(info, "compliance", "settings applied",
            std::string("enabled=") + (c.enabled ? "true" : "false") + " adapter=" + st.status.adapter +
                " output=" + log::quote(c.output_directory) +
                " interval_ms=" + std::to_string(st.opts.run_interval.count()));
}

caf::behavior runner_actor(runner_ptr self, storage::database* store, runner_options opts,
                           std::shared_ptr<live_settings> live) {
  auto& st = self->state;
  st.store = store;
  st.opts = std::move(opts);
  st.live = std::move(live);
  if (st.live) st.applied = st.live->current()->compliance;
  st.status.enabled = st.opts.enabled;
  st.status.adapter = st.opts.output->type();
  // The counters go on from what earlier runs delivered (kept with each batch's delete).
  storage::delivery_totals totals;
  if (auto s = store->compliance().delivered_totals(&totals); s.is_ok()) {
    st.status.batches_delivered = totals.batches;
    st.status.events_delivered = totals.events;
    st.status.last_success_micros = totals.last_success_micros;
  } else {
    PCHAT_LOG(warn, "compliance", "cannot read the delivery totals; counting from 0",
              "error=" + log::quote(s.to_string()));
  }
  if (st.opts.pool) {
    if (auto s = pool_compliance::create(*st.opts.pool, st.opts.pool_settle, &st.pool); !s.is_ok())
      PCHAT_LOG(error, "compliance", "cannot reach the pool's etcd for compliance; pool rooms' events stay kept",
                "error=" + log::quote(s.to_string()));
  }
  if (st.opts.enabled) {
    st.opts.output->remove_stale_temporaries();
    // First run at once: it finishes a batch a crash interrupted and drains any backlog.
    self->send(self, crun_atom::value, st.generation);
  }
  return {
      [=](crun_atom, uint64_t generation) {
        if (generation == self->state.generation) run_and_schedule(self);
      },
      [=](crun_atom) { run_and_schedule(self); },
      [=](creconf_atom) { reconfigure(self); },
      [=](cstatus_atom) -> caf::result<compliance_status> {
        auto& st = self->state;
        compliance_status s = st.status;
        if (auto r = st.store->compliance().count(&s.queue_depth); !r.is_ok())
          return make_error(errc::storage_failure, r.to_string());
        if (auto r = st.store->compliance().delivered_through(&s.delivered_through); !r.is_ok())
          return make_error(errc::storage_failure, r.to_string());
        return s;
      },
  };
}

}  // namespace

caf::actor spawn_compliance_runner(caf::actor_system& sys, storage::database* store,
                                   runner_options opts, std::shared_ptr<live_settings> live) {
  return sys.spawn<caf::detached>(runner_actor, store, std::move(opts), std::move(live));
}

}  // namespace pchat::actors
