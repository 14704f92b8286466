#include "actors/coordinator_actor.h"

#include <caf/all.hpp>

#include <memory>
#include <thread>

#include "actors/messages.h"
#include "log/log.h"
#include "pool/node_tag.h"
#include "pool/pool_keys.h"

namespace pchat::actors {
namespace {

struct coordinator_state {
  coordinator_config cfg;
  std::unique_ptr<pool::etcd_client> etcd;
  std::string broken;  // why there is no client ("" when there is)
};
using coord_ptr = caf::stateful_actor<coordinator_state>*;

caf::error unreachable(const status& s) { return make_error(errc::busy, "etcd: " + s.to_string()); }

// Creates `key` = `value` bound to `lease` unless another lease holds it; a holder is
// waited for until `until` (a crashed run's lease runs out). "" once ours, else the holder's
// value (or the reason etcd could not be asked, *failed set).
std::string create_waiting(coordinator_state& st, const std::string& key, const std::string& value,
                           int64_t lease, std::chrono::steady_clock::time_point until, status* failed) {
  while (true) {
    pool::etcd_claim c;
    if (auto s = st.etcd->create_if_absent(key, value, lease, &c); !s.is_ok()) {
      *failed = s;
      return s.to_string();
    }
    if (c.created || c.holder.lease == lease) return {};
    if (std::chrono::steady_clock::now() >= until) return c.holder.value;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

caf::behavior coordinator(coord_ptr self, coordinator_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  if (auto s = pool::etcd_client::create(st.cfg.endpoints, st.cfg.etcd, &st.etcd); !s.is_ok())
    st.broken = s.to_string();
  // Local senders only; an answer that comes back by mistake is not a reason to stop.
  self->set_error_handler([](caf::error& e) {
    PCHAT_LOG(warn, "pool", "coordinator: error message dropped", "error=" + log::quote(caf::to_string(e)));
  });
  auto ready = [self]() -> caf::error {
    if (!self->state.etcd) return make_error(errc::busy, "etcd client: " + self->state.broken);
    return caf::none;
  };
  return {
      [=](etcd_join_atom, const pool::node_record& me, int64_t old_lease) -> caf::result<int64_t> {
        if (auto e = ready()) return e;
        auto& st = self->state;
        // A previous lease of this run (expired, or revoked by a peer) goes first: its keys
        // would keep our name and tag.
        if (old_lease != 0) st.etcd->revoke(old_lease);
        int64_t lease = 0;
        if (auto s = st.etcd->grant_lease(st.cfg.lease_ttl_s, &lease); !s.is_ok()) return unreachable(s);
        auto until = std::chrono::steady_clock::now() + st.cfg.stale_wait;
        status failed;
        std::string holder = create_waiting(st, pool::node_key(st.cfg.pool_name, me.name), pool::encode(me), lease,
                                            until, &failed);
        std::string what = "node name " + me.name;
        if (holder.empty() && failed.is_ok()) {
          holder = create_waiting(st, pool::tag_key(st.cfg.pool_name, me.tag), me.name, lease, until, &failed);
          what = "node tag " + std::to_string(me.tag) + " (of name " + me.name + ")";
          if (!holder.empty() && failed.is_ok()) holder = "node " + holder;
        } else if (!holder.empty() && failed.is_ok()) {
          pool::node_record other;
          holder = pool::decode(holder, &other).is_ok() ? "a node at " + other.host + ":" + std::to_string(other.pool_port)
                                                        : "another node";
        }
        if (holder.empty() && failed.is_ok()) return lease;
        st.etcd->revoke(lease);  // best effort: it would run out by itself
        if (!failed.is_ok()) return unreachable(failed);
        return make_error(errc::forbidden, what + " is used by " + holder + " in pool " + st.cfg.pool_name +
                                               " (still there after " +
                                               std::to_string(st.cfg.stale_wait.count()) + " ms)");
      },
      [=](etcd_keep_atom, int64_t lease) -> caf::result<int64_t> {
        if (auto e = ready()) return e;
        int64_t ttl = 0;
        auto s = self->state.etcd->keep_alive(lease, &ttl);
        if (s.is_not_found()) return make_error(errc::not_found, "lease " + std::to_string(lease) + " is gone");
        if (!s.is_ok()) return unreachable(s);
        return ttl;
      },
      [=](etcd_scan_atom) -> caf::result<std::vector<registered_node>> {
        if (auto e = ready()) return e;
        auto& st = self->state;
        pool::etcd_range r;
        if (auto s = st.etcd->range(pool::nodes_prefix(st.cfg.pool_name), &r); !s.is_ok()) return unreachable(s);
        std::vector<registered_node> out;
        out.reserve(r.kvs.size());
        for (auto& kv : r.kvs) {
          registered_node n;
          n.lease = kv.lease;
          if (auto s = pool::decode(kv.value, &n.node); !s.is_ok()) {
            PCHAT_LOG(warn, "pool", "registry entry ignored", "key=" + log::quote(kv.key) + " error=" + log::quote(s.reason()));
            continue;
          }
          out.push_back(std::move(n));
        }
        return out;
      },
      [=](etcd_revoke_atom, int64_t lease) -> caf::result<caf::ok_atom> {
        if (auto e = ready()) return e;
        auto s = self->state.etcd->revoke(lease);
        if (!s.is_ok() && !s.is_not_found()) return unreachable(s);
        return caf::ok_atom::value;
      },
      [=](etcd_put_atom, const pool::node_record& me, int64_t lease) -> caf::result<caf::ok_atom> {
        if (auto e = ready()) return e;
        auto& st = self->state;
        auto s = st.etcd->put(pool::node_key(st.cfg.pool_name, me.name), pool::encode(me), lease, nullptr);
        if (s.is_not_found()) return make_error(errc::not_found, "lease " + std::to_string(lease) + " is gone");
        if (!s.is_ok()) return unreachable(s);
        return caf::ok_atom::value;
      },
      [=](etcd_claim_atom, const std::string& key, const std::string& value, int64_t lease) -> caf::result<etcd_holder> {
        if (auto e = ready()) return e;
        pool::etcd_claim c;
        auto s = self->state.etcd->create_if_absent(key, value, lease, &c);
        if (s.is_not_found()) return make_error(errc::busy, "lease " + std::to_string(lease) + " is gone");
        if (!s.is_ok()) return unreachable(s);
        return etcd_holder{c.created, c.holder.value, c.holder.lease, c.holder.create_revision};
      },
      [=](etcd_get_atom, const std::string& key) -> caf::result<etcd_holder> {
        if (auto e = ready()) return e;
        pool::etcd_kv kv;
        auto s = self->state.etcd->get(key, &kv);
        if (s.is_not_found()) return etcd_holder{};
        if (!s.is_ok()) return unreachable(s);
        return etcd_holder{false, kv.value, kv.lease, kv.create_revision};
      },
      [=](etcd_drop_atom, const std::string& key, int64_t create_revision) -> caf::result<bool> {
        if (auto e = ready()) return e;
        bool deleted = false;
        if (auto s = self->state.etcd->delete_if(key, create_revision, &deleted); !s.is_ok()) return unreachable(s);
        return deleted;
      },
  };
}

}  // namespace

caf::actor spawn_coordinator_actor(caf::actor_system& sys, coordinator_config cfg) {
  return sys.spawn<caf::detached>(coordinator, std::move(cfg));
}

}  // namespace pchat::actors
