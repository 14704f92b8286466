#include "actors/pool_compliance.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "compliance/adapter.h"
#include "log/log.h"
#include "pool/etcd_client.h"
#include "pool/pool_keys.h"
#include "storage/database.h"
#include "storage/message_log.h"
#include "text/utc_time.h"

namespace pchat::actors {
namespace {

using json = nlohmann::json;

// A room as etcd holds it: its claim and how far its events were delivered.
struct room_keys {
  std::string owner;            // "" : no claim
  int64_t owner_revision = 0;   // the claim's create_revision (the epoch)
  uint64_t through = 0;         // delivered up to this message seq
  int64_t mark_revision = 0;    // the mark's mod_revision (0: none yet)
};

// "through" of a mark; 0 for a value that is not a mark (logged by the caller).
bool parse_mark(const std::string& value, uint64_t* through) {
  json j = json::parse(value, nullptr, false);
  if (!j.is_object() || !j.contains("through") || !j["through"].is_number_unsigned()) return false;
  *through = j["through"].get<uint64_t>();
  return true;
}

}  // namespace

pool_compliance::pool_compliance(pool::pool_settings settings, std::chrono::milliseconds settle,
                                 std::unique_ptr<pool::etcd_client> etcd)
    : settings_(std::move(settings)), settle_(settle), etcd_(std::move(etcd)) {}

pool_compliance::~pool_compliance() = default;

status pool_compliance::create(const pool::pool_settings& settings, std::chrono::milliseconds settle,
                               std::unique_ptr<pool_compliance>* out) {
  std::unique_ptr<pool::etcd_client> etcd;
  if (status s = pool::etcd_client::create(settings.etcd, pool::etcd_options{}, &etcd); !s.is_ok()) return s;
  out->reset(new pool_compliance(settings, settle, std::move(etcd)));
  return status::ok();
}

pool_compliance::pass pool_compliance::run(storage::database& store, compliance::adapter& out,
                                           const resolver& resolve, size_t max_events, int max_batches) {
  pass result;
  const std::string& pool_name = settings_.pool_name;
  const std::string& me = settings_.node_name;
  const std::string pending_key = pool::compliance_pending_key(pool_name, me);

  // 1. A range prepared before a crash is published only if its reservation reached etcd.
  pool::etcd_kv pending;
  if (status s = etcd_->get(pending_key, &pending); !s.is_ok() && !s.is_not_found()) {
    result.error = "read " + pending_key + " from etcd: " + s.to_string();
    return result;
  }
  if (auto r = out.resolve_pending([&](const std::string& name) { return name == pending.value; }); !r.ok()) {
    result.error = "publish a reserved range: " + r.error;
    return result;
  }

  // 2. Every room's claim and mark.
  pool::etcd_range range;
  const std::string prefix = pool::rooms_prefix(pool_name);
  if (status s = etcd_->range(prefix, &range); !s.is_ok()) {
    result.error = "read " + prefix + " from etcd: " + s.to_string();
    return result;
  }
  std::map<std::string, room_keys> rooms;
  for (const auto& kv : range.kvs) {
    std::string rest = kv.key.substr(prefix.size());
    auto slash = rest.rfind('/');
    if (slash == std::string::npos) continue;
    std::string room = rest.substr(0, slash), what = rest.substr(slash + 1);
    if (what == "owner") {
      rooms[room].owner = kv.value;
      rooms[room].owner_revision = kv.create_revision;
    } else if (what == "compliance") {
      if (!parse_mark(kv.value, &rooms[room].through)) {
        PCHAT_LOG(error, "compliance", "a room's delivery mark in etcd is not valid; its events stay kept",
                  "key=" + log::quote(kv.key) + " value=" + log::quote(kv.value));
        rooms.erase(room);
        continue;
      }
      rooms[room].mark_revision = kv.mod_revision;
    }
  }

  const int64_t settled_before = utc::now_micros() - settle_.count() * 1000;
  for (auto& [room, keys] : rooms) {
    if (keys.owner != me) {
      // 3. Not ours: what its owner delivered is deleted here (a follower's copies).
      auto t = trimmed_.find(room);
      if (keys.through > 0 && (t == trimmed_.end() || t->second < keys.through)) {
        if (status s = store.messages().trim_events(room, keys.through); !s.is_ok())
          PCHAT_LOG(warn, "compliance", "cannot delete delivered kept events; tried again next run",
                    "room=" + room + " error=" + log::quote(s.to_string()));
        else
          trimmed_[room] = keys.through;
      }
      continue;
    }
    // 4. Ours: deliver what is after the mark, one file at a time.
    while (result.batches < static_cast<uint64_t>(max_batches)) {
      std::vector<storage::compliance_record> events;
      if (status s = store.messages().read_events(room, keys.through + 1, max_events, &events); !s.is_ok()) {
        result.error = "read kept events of " + room + ": " + s.to_string();
        return result;
      }
      auto young = std::find_if(events.begin(), events.end(), [&](const storage::compliance_record& e) {
        return e.ts_micros > settled_before || e.message_id <= keys.through;
      });
      events.erase(young, events.end());
      if (events.empty()) break;
      // A pool room's file numbers its events by message seq (the same on every node).
      for (auto& e : events) e.seq = e.message_id;
      const uint64_t first = events.front().message_id, last = events.back().message_id;
      resolve(events);
      compliance::batch b{first, last, std::move(events)};
      if (auto r = out.prepare_room_range(room, b); !r.ok()) {
        result.error = r.error;
        return result;
      }
      const std::string name = out.room_range(room, first, last);
      const std::string mark_key = pool::room_compliance_key(pool_name, room);
      json mark = {{"through", last}, {"node", me}, {"epoch", keys.owner_revision}};
      bool reserved = false;
      status s = etcd_->put_if(
          {{pool::room_owner_key(pool_name, room), pool::etcd_compare::target::create, keys.owner_revision},
           {mark_key, pool::etcd_compare::target::mod, keys.mark_revision}},
          {{mark_key, mark.dump()}, {pending_key, name}}, &reserved);
      if (!s.is_ok()) {
        // Unknown whether etcd took it: the pending file stays; the next pass settles it.
        result.error = "reserve " + name + " in etcd: " + s.to_string();
        return result;
      }
      if (!reserved) {
        out.discard_room_range(room, first, last);
        PCHAT_LOG(info, "compliance", "room moved or delivered by another node; not delivered here",
                  "room=" + room + " first=" + std::to_string(first) + " last=" + std::to_string(last));
        break;
      }
      if (auto r = out.publish_room_range(room, first, last); !r.ok()) {
        result.error = r.error;  // reserved: the next pass publishes it (step 1)
        return result;
      }
      ++result.batches;
      result.events += b.events.size();
      PCHAT_LOG(info, "compliance", "room range delivered",
                "room=" + room + " first=" + std::to_string(first) + " last=" + std::to_string(last) +
                    " events=" + std::to_string(b.events.size()));
      if (status t = store.messages().trim_events(room, last); !t.is_ok())
        PCHAT_LOG(warn, "compliance", "cannot delete delivered kept events; tried again next run",
                  "room=" + room + " error=" + log::quote(t.to_string()));
      keys.through = last;
      pool::etcd_kv now;
      if (status g = etcd_->get(mark_key, &now); !g.is_ok()) {
        result.error = "read " + mark_key + " from etcd: " + g.to_string();
        return result;
      }
      keys.mark_revision = now.mod_revision;
    }
  }
  return result;
}

}  // namespace pchat::actors
