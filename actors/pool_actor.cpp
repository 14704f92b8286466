#include "actors/pool_actor.h"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "actors/coordinator_actor.h"
#include "actors/messages.h"
#include "log/log.h"
#include "pool/pool_keys.h"

namespace pchat::actors {
namespace {

using clock = std::chrono::steady_clock;

struct peer {
  node_entry entry;  // from its hello; entry.pool is the monitored handle
};

struct pool_state {
  pool_actor_config cfg;
  caf::actor lease_coord, kv_coord;
  int64_t lease = 0;                // 0: none (before start, while joining again, after leave)
  bool started = false, leaving = false;
  bool joining = false, keeping = false, scanning = false;
  clock::time_point renewed{};      // when the last successful keep-alive (or the grant) was sent
  clock::time_point last_keep{};    // when the last keep-alive was sent
  clock::time_point doubted{};      // keep-alives sent before this do not renew (down handler)
  bool serving = false;
  std::map<std::string, registered_node> registry;  // the last scan, by name
  std::map<std::string, peer> peers;                // linked, by name
  std::set<std::string> connecting;                 // names with a connect or hello in flight
  std::map<std::string, uint64_t> claims;           // room id -> epoch (under `lease`)
  uint64_t version = 0;
  std::string published;  // what the last published view said (to publish changes only)

  const std::string& me() const { return cfg.self.name; }
  static constexpr const char* name = "pool";
  bool fresh(std::chrono::milliseconds within) const {
    return lease != 0 && clock::now() - renewed < within;
  }
  pool::node_record record() const { return record_of(cfg.self); }
};
using pool_ptr = caf::stateful_actor<pool_state>*;

node_entry self_entry(pool_ptr self) {
  node_entry e = self->state.cfg.self;
  e.pool = caf::actor_cast<caf::actor>(self);
  return e;
}

// Builds the view from the registry, the links and the lease; publishes it (and tells the
// directory) when it differs from the last one.
void publish(pool_ptr self) {
  auto& st = self->state;
  // Checked here too, not only on the tick: after a pause the first event handled may be
  // a peer's death, and its view must not say serving on a stale lease.
  if (st.serving && !st.fresh(st.cfg.serve_grace)) {
    st.serving = false;
    PCHAT_LOG(warn, "pool", "not serving: owns no room until its etcd lease is renewed",
              "node=" + st.me() + " reason=" + log::quote("no keep-alive succeeded within the serve grace"));
  }
  auto v = std::make_shared<pool_view>();
  v->self = st.me();
  v->serving = st.serving;
  v->serving_until = st.renewed + st.cfg.serve_grace;
  for (auto& [name, r] : st.registry) v->others_registered += name != st.me() && !r.node.draining ? 1 : 0;
  if (st.lease != 0) v->live.push_back(self_entry(self));
  // A peer's draining flag is its registry entry's (it changes after the hello).
  for (auto& [name, p] : st.peers)
    if (auto r = st.registry.find(name); r != st.registry.end()) {
      v->live.push_back(p.entry);
      v->live.back().draining = r->second.node.draining;
    }
  std::sort(v->live.begin(), v->live.end(), [](const node_entry& a, const node_entry& b) { return a.name < b.name; });
  std::string sig = st.serving ? "serving" : "not-serving";
  sig += " others=" + std::to_string(v->others_registered);
  for (auto& n : v->live)
    sig += " " + n.name + (n.draining ? "(draining)" : "") + "@" + caf::to_string(n.pool.address());
  if (sig == st.published) {
    // The same view, served longer (a keep-alive succeeded): replaced quietly.
    v->version = st.version;
    st.cfg.membership->publish(v);
    return;
  }
  st.published = sig;
  v->version = ++st.version;
  st.cfg.membership->publish(v);
  PCHAT_LOG(info, "pool", "view", "node=" + st.me() + " version=" + std::to_string(v->version) + " live=" +
                                      std::to_string(v->live.size()) + " serving=" + (st.serving ? "true" : "false"));
  if (st.cfg.directory) self->send(st.cfg.directory, pool_changed_atom::value, v->version);
}

void set_serving(pool_ptr self, bool on, const char* why) {
  auto& st = self->state;
  if (st.serving == on) return;
  st.serving = on;
  if (on)
    PCHAT_LOG(info, "pool", "serving", "node=" + st.me() + " reason=" + log::quote(why));
  else
    PCHAT_LOG(warn, "pool", "not serving: owns no room until its etcd lease is renewed",
              "node=" + st.me() + " reason=" + log::quote(why));
}

void lease_lost(pool_ptr self, const std::string& why) {
  auto& st = self->state;
  PCHAT_LOG(warn, "pool", "node lease lost; joining again with a new one",
            "node=" + st.me() + " lease=" + std::to_string(st.lease) + " claims_dropped=" +
                std::to_string(st.claims.size()) + " reason=" + log::quote(why));
  set_serving(self, false, why.c_str());
  st.claims.clear();
  st.lease = 0;
  publish(self);
}

// Revokes `lease` (a request: a coordinator's answer to a plain send would come back as an
// unexpected message); the outcome is only logged.
void revoke(pool_ptr self, const caf::actor& coord, int64_t lease, const std::string& why) {
  auto sent = clock::now();
  self->request(coord, self->state.cfg.etcd_timeout * 4, etcd_revoke_atom::value, lease)
      .then(
          [=](caf::ok_atom) {
            PCHAT_LOG(info, "pool", "lease revoked",
                      "node=" + self->state.me() + " lease=" + std::to_string(lease) + " why=" + log::quote(why) +
                          " ms=" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - sent).count()));
          },
          [=](caf::error& e) {
            PCHAT_LOG(warn, "pool", "lease not revoked (it runs out by itself)",
                      "node=" + self->state.me() + " lease=" + std::to_string(lease) + " why=" + log::quote(why) +
                          " error=" + log::quote(caf::to_string(e)));
          });
}

// `pool drain` kept in etcd beside the registry (pool_keys.h drained_key, no lease), so a
// drained node that restarts is still drained: on, the key is created (kept if it exists);
// off, deleted. `done` gets none or why not (etcd not reached: busy).
void persist_drain(pool_ptr self, bool on, std::function<void(caf::error)> done) {
  auto& st = self->state;
  auto key = pool::drained_key(st.cfg.settings.pool_name, st.me());
  auto timeout = st.cfg.etcd_timeout * 4;
  auto fail = [done](caf::error& e) { done(std::move(e)); };
  if (on) {
    self->request(st.kv_coord, timeout, etcd_claim_atom::value, key, st.me(), int64_t{0})
        .then([done](etcd_holder&) { done(caf::none); }, fail);
    return;
  }
  self->request(st.kv_coord, timeout, etcd_get_atom::value, key)
      .then(
          [=](etcd_holder& h) {
            if (h.create_revision == 0) return done(caf::none);
            self->request(self->state.kv_coord, timeout, etcd_drop_atom::value, key, h.create_revision)
                .then([done](bool) { done(caf::none); }, fail);
          },
          fail);
}

// Joins the pool with a new lease; `done` (may be empty) gets none or why not.
void join(pool_ptr self, int64_t old_lease, std::function<void(caf::error)> done) {
  auto& st = self->state;
  st.joining = true;
  auto sent = clock::now();
  self->request(st.lease_coord, st.cfg.stale_wait + st.cfg.etcd_timeout * 8, etcd_join_atom::value, st.record(), old_lease)
      .then(
          [=](int64_t lease) mutable {
            auto& st = self->state;
            st.joining = false;
            if (st.leaving) {  // stopped meanwhile: give the lease back
              revoke(self, st.lease_coord, lease, "joined while stopping");
              if (done) done(make_error(errc::busy, "node is stopping"));
              return;
            }
            st.lease = lease;
            st.renewed = st.last_keep = sent;
            set_serving(self, true, "lease granted");
            PCHAT_LOG(info, "pool", "registered", "node=" + st.me() + " lease=" + std::to_string(lease) +
                                                      " pool=" + st.cfg.settings.pool_name);
            publish(self);
            if (done) done(caf::none);
          },
          [=](caf::error& e) mutable {
            self->state.joining = false;
            if (done) done(std::move(e));
            else
              PCHAT_LOG(warn, "pool", "joining the pool again failed; retried", "node=" + self->state.me() +
                                                                                   " error=" + log::quote(caf::to_string(e)));
          });
}

void connect(pool_ptr self, const registered_node& n);

void add_peer(pool_ptr self, node_entry e) {
  auto& st = self->state;
  if (e.name == st.me() || !e.pool) return;
  auto it = st.peers.find(e.name);
  if (it != st.peers.end()) {
    if (it->second.entry.pool == e.pool) {  // the same run: refresh what it says
      it->second.entry = std::move(e);
      publish(self);
      return;
    }
    self->demonitor(it->second.entry.pool);  // a new run of that node replaces the old link
  }
  PCHAT_LOG(info, "pool", "peer linked", "node=" + st.me() + " peer=" + e.name + " at=" + e.host + ":" +
                                              std::to_string(e.pool_port));
  self->monitor(e.pool);
  std::string name = e.name;  // (the right side of = is evaluated first)
  st.peers[name] = peer{std::move(e)};
  publish(self);
}

void connect(pool_ptr self, const registered_node& n) {
  auto& st = self->state;
  std::string name = n.node.name;
  st.connecting.insert(name);
  auto mm = self->system().middleman().actor_handle();
  auto done = [self, name] { self->state.connecting.erase(name); };
  self->request(mm, st.cfg.connect_timeout, caf::connect_atom::value, n.node.host, n.node.pool_port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& p, const std::set<std::string>&) {
            if (!p) return done();
            auto a = caf::actor_cast<caf::actor>(p);
            self->request(a, self->state.cfg.connect_timeout, hello_atom::value, self_entry(self))
                .then(
                    [=](node_entry& e) {
                      done();
                      if (e.name != name) {
                        PCHAT_LOG(warn, "pool", "a registered address answered with another name; ignored",
                                  "node=" + self->state.me() + " registered=" + name + " answered=" + e.name);
                        return;
                      }
                      e.pool = a;
                      add_peer(self, std::move(e));
                    },
                    [=](caf::error&) { done(); });
          },
          [=](caf::error& e) {
            done();
            PCHAT_LOG(debug, "pool", "connect failed; retried at the next scan",
                      "node=" + self->state.me() + " peer=" + name + " error=" + log::quote(caf::to_string(e)));
          });
}

void scanned(pool_ptr self, std::vector<registered_node>& nodes) {
  auto& st = self->state;
  st.registry.clear();
  for (auto& n : nodes) st.registry[n.node.name] = std::move(n);
  for (auto& [name, n] : st.registry) {
    if (name == st.me() || st.connecting.count(name)) continue;
    auto p = st.peers.find(name);
    // Linked already, unless the registry names another address (a new run of that node
    // whose old link has not gone yet).
    if (p != st.peers.end() && p->second.entry.host == n.node.host && p->second.entry.pool_port == n.node.pool_port)
      continue;
    connect(self, n);
  }
  publish(self);
}

void tick(pool_ptr self) {
  auto& st = self->state;
  if (st.leaving) return;
  auto now = clock::now();
  if (st.serving && !st.fresh(st.cfg.serve_grace)) {
    set_serving(self, false, "no keep-alive succeeded within the serve grace");
    publish(self);
  }
  if (st.lease == 0 && !st.joining) {
    join(self, 0, {});  // nobody waits: the view tells
  }
  if (st.lease != 0 && !st.keeping && now - st.last_keep >= st.cfg.keepalive_interval) {
    st.keeping = true;
    st.last_keep = now;
    int64_t lease = st.lease;
    self->request(st.lease_coord, st.cfg.etcd_timeout * 4, etcd_keep_atom::value, lease)
        .then(
            [=](int64_t) {
              auto& st = self->state;
              st.keeping = false;
              if (st.lease != lease || now < st.doubted) return;
              st.renewed = now;
              if (!st.serving) set_serving(self, true, "keep-alive succeeded");
              publish(self);  // serving_until moves on
            },
            [=](caf::error& e) {
              auto& st = self->state;
              st.keeping = false;
              errc code{};
              std::string reason;
              if (st.lease == lease && decode_error(e, &code, &reason) && code == errc::not_found)
                lease_lost(self, reason);
              else
                PCHAT_LOG(warn, "pool", "keep-alive failed", "node=" + st.me() + " error=" + log::quote(caf::to_string(e)));
            });
  }
  if (!st.scanning) {
    st.scanning = true;
    self->request(st.kv_coord, st.cfg.etcd_timeout * 4, etcd_scan_atom::value)
        .then(
            [=](std::vector<registered_node>& nodes) {
              self->state.scanning = false;
              scanned(self, nodes);
            },
            [=](caf::error& e) {
              self->state.scanning = false;
              PCHAT_LOG(warn, "pool", "registry scan failed", "node=" + self->state.me() + " error=" + log::quote(caf::to_string(e)));
            });
  }
  self->delayed_send(self, st.cfg.scan_interval, pool_tick_atom::value);
}

// Claims /<pool>/rooms/<id>/owner under `lease`; the epoch is the key's create_revision.
void claim(pool_ptr self, caf::response_promise rp, const std::string& room_id, int64_t lease, bool may_retry) {
  auto& st = self->state;
  auto key = pool::room_owner_key(st.cfg.settings.pool_name, room_id);
  auto timeout = st.cfg.etcd_timeout * 4;
  self->request(st.kv_coord, timeout, etcd_claim_atom::value, key, st.me(), lease)
      .then(
          [=](etcd_holder& h) mutable {
            auto& st = self->state;
            if (st.lease != lease) return rp.deliver(make_error(errc::busy, "node lease changed during the claim"));
            if (h.created || (h.value == st.me() && h.lease == lease)) {
              auto epoch = static_cast<uint64_t>(h.create_revision);
              st.claims[room_id] = epoch;
              return rp.deliver(epoch);
            }
            if (h.value != st.me() || !may_retry) return rp.deliver(make_error(errc::forbidden, h.value));
            // Our name under an older lease (a previous run, or before a lost lease): that
            // claim is dead; remove exactly it and claim once more (a new epoch).
            self->request(st.kv_coord, timeout, etcd_drop_atom::value, key, h.create_revision)
                .then([=](bool) mutable { claim(self, rp, room_id, lease, false); },
                      [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
}

pool_status status_of(pool_ptr self) {
  auto& st = self->state;
  pool_status s;
  s.self = st.me();
  s.pool_name = st.cfg.settings.pool_name;
  s.serving = st.serving;
  s.view_version = st.version;
  s.lease = st.lease;
  if (st.lease != 0)
    s.ms_since_renewal = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - st.renewed).count();
  std::set<std::string> names;
  for (auto& [n, _] : st.registry) names.insert(n);
  for (auto& [n, _] : st.peers) names.insert(n);
  names.insert(st.me());
  auto view = st.cfg.membership->current();
  for (auto& n : names) {
    pool_node_status ns;
    ns.node.name = n;
    ns.self = n == st.me();
    auto r = st.registry.find(n);
    auto p = st.peers.find(n);
    ns.registered = r != st.registry.end();
    ns.linked = ns.self || p != st.peers.end();
    ns.live = view && view->find(n) != nullptr && (!ns.self || st.serving);
    if (ns.self) {
      ns.node = st.record();
      ns.registered = st.lease != 0;
    } else {
      ns.node = p != st.peers.end() ? record_of(p->second.entry) : r->second.node;
      if (r != st.registry.end()) ns.node.draining = r->second.node.draining;
    }
    s.nodes.push_back(std::move(ns));
  }
  for (auto& [room, epoch] : st.claims) s.rooms.push_back({room, epoch});
  return s;
}

caf::behavior pool_actor(pool_ptr self, pool_actor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  coordinator_config cc;
  cc.endpoints = st.cfg.settings.etcd;
  cc.pool_name = st.cfg.settings.pool_name;
  cc.etcd.timeout = st.cfg.etcd_timeout;
  cc.lease_ttl_s = st.cfg.lease_ttl_s;
  cc.stale_wait = st.cfg.stale_wait;
  st.lease_coord = spawn_coordinator_actor(self->system(), cc);
  st.kv_coord = spawn_coordinator_actor(self->system(), cc);
  self->link_to(st.lease_coord);
  self->link_to(st.kv_coord);
  // Published on the pool port: whatever another node sends must not end this actor.
  self->set_default_handler([self](caf::scheduled_actor*, caf::message_view& m) -> caf::result<caf::message> {
    PCHAT_LOG(warn, "pool", "unexpected message dropped",
              "node=" + self->state.me() + " message=" + log::quote(caf::to_string(m.copy_content_to_message())));
    if (self->current_mailbox_element()->mid.is_request())
      return make_error(errc::bad_request, "not a pool message");
    return caf::message{};
  });
  self->set_error_handler([self](caf::error& e) {
    PCHAT_LOG(warn, "pool", "error message dropped", "node=" + self->state.me() + " error=" + log::quote(caf::to_string(e)));
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto it = st.peers.begin(); it != st.peers.end(); ++it) {
      if (it->second.entry.pool.address() != dm.source) continue;
      std::string name = it->first;
      st.peers.erase(it);
      bool may_revoke = st.fresh(st.cfg.revoke_fresh) && !st.leaving;
      auto r = st.registry.find(name);
      int64_t lease = r != st.registry.end() ? r->second.lease : 0;
      PCHAT_LOG(warn, "pool", "peer down", "node=" + st.me() + " peer=" + name + " reason=" +
                                                log::quote(caf::to_string(dm.reason)) + " revoke_lease=" +
                                                (may_revoke && lease ? std::to_string(lease) : std::string("no")));
      if (r != st.registry.end()) st.registry.erase(r);  // live again only once registered and linked anew
      if (may_revoke && lease != 0) revoke(self, st.kv_coord, lease, "peer " + name + " down");
      // Not renewed lately and a peer seen down: this node may itself have been paused, and
      // the peers may have revoked its lease and claimed its rooms meanwhile. Its grace ends
      // now rather than on the keep-alive clock; the next keep-alive sent from now on that
      // succeeds (or finds the lease gone) says which.
      if (!may_revoke && st.serving) {
        st.renewed = clock::time_point{};
        st.doubted = clock::now();
        st.last_keep = clock::time_point{};  // the next tick asks
        set_serving(self, false, "a peer went down while this node's lease was not renewed lately");
      }
      publish(self);
      return;
    }
  });
  return {
      [=](pool_start_atom, uint16_t sip_port, uint16_t http_port, uint16_t pool_port) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.started) return make_error(errc::bad_request, "pool actor already started");
        st.started = true;
        st.cfg.self.sip_port = sip_port;
        st.cfg.self.http_port = http_port;
        st.cfg.self.pool_port = pool_port;
        auto rp = self->make_response_promise();
        // A node drained before it stopped starts drained (persist_drain).
        self->request(st.kv_coord, st.cfg.etcd_timeout * 4, etcd_get_atom::value,
                      pool::drained_key(st.cfg.settings.pool_name, st.me()))
            .then(
                [=](etcd_holder& h) mutable {
                  if (h.create_revision != 0) {
                    self->state.cfg.self.draining = true;
                    PCHAT_LOG(warn, "pool", "drained before this start: still draining (owns and follows no room)",
                              "node=" + self->state.me() +
                                  " action=" + log::quote("pchatctl pool undrain --node " + self->state.me()));
                  }
                  join(self, 0, [=](caf::error e) mutable {
                    if (e) return rp.deliver(std::move(e));
                    rp.deliver(caf::ok_atom::value);
                    self->send(self, pool_tick_atom::value);  // the keep-alive and scan loop
                  });
                },
                [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [=](pool_tick_atom) { tick(self); },
      [=](hello_atom, node_entry& from) -> node_entry {
        auto me = self_entry(self);
        add_peer(self, std::move(from));
        return me;
      },
      [=](claim_atom, const std::string& room_id) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (!st.serving || st.lease == 0) return make_error(errc::busy, "node " + st.me() + " holds no etcd lease");
        if (auto it = st.claims.find(room_id); it != st.claims.end()) return it->second;
        auto rp = self->make_response_promise();
        claim(self, rp, room_id, st.lease, true);
        return rp;
      },
      [=](release_atom, const std::string& room_id, uint64_t epoch) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        auto key = pool::room_owner_key(st.cfg.settings.pool_name, room_id);
        self->request(st.kv_coord, st.cfg.etcd_timeout * 4, etcd_drop_atom::value, key, static_cast<int64_t>(epoch))
            .then(
                [=](bool) mutable {
                  auto& claims = self->state.claims;
                  if (auto it = claims.find(room_id); it != claims.end() && it->second == epoch) claims.erase(it);
                  rp.deliver(caf::ok_atom::value);
                },
                [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [=](owner_atom, const std::string& room_id) -> caf::result<std::string, uint64_t> {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        self->request(st.kv_coord, st.cfg.etcd_timeout * 4, etcd_get_atom::value,
                      pool::room_owner_key(st.cfg.settings.pool_name, room_id))
            .then([=](etcd_holder& h) mutable { rp.deliver(h.value, static_cast<uint64_t>(h.create_revision)); },
                  [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [=](pool_status_atom) -> pool_status { return status_of(self); },
      // `pool drain` / `undrain` (docs/POOL.md): kept in etcd (persist_drain), then the
      // registry entry (the other nodes' next scan sees it), then this node's own view: its
      // rooms hand off, and placement skips it everywhere. Lasts until undrained, restarts
      // included.
      [=](pool_drain_atom, bool on) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.lease == 0 || st.leaving) return make_error(errc::busy, "node " + st.me() + " holds no etcd lease");
        auto rp = self->make_response_promise();
        persist_drain(self, on, [=](caf::error kept) mutable {
          if (kept) return rp.deliver(std::move(kept));
          auto& st = self->state;
          auto rec = st.record();
          rec.draining = on;
          self->request(st.kv_coord, st.cfg.etcd_timeout * 4, etcd_put_atom::value, rec, st.lease)
              .then(
                  [=](caf::ok_atom) mutable {
                    auto& st = self->state;
                    st.cfg.self.draining = on;
                    if (auto r = st.registry.find(st.me()); r != st.registry.end()) r->second.node.draining = on;
                    PCHAT_LOG(info, "pool", on ? "draining: this node owns and follows no room" : "no longer draining",
                              "node=" + st.me());
                    publish(self);
                    rp.deliver(caf::ok_atom::value);
                  },
                  [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
        });
        return rp;
      },
      [=](pool_leave_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        st.leaving = true;
        set_serving(self, false, "leaving");
        int64_t lease = st.lease;
        st.lease = 0;
        st.claims.clear();
        publish(self);
        if (lease == 0) return caf::ok_atom::value;
        auto rp = self->make_response_promise();
        self->request(st.lease_coord, st.cfg.etcd_timeout * 2, etcd_revoke_atom::value, lease)
            .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
                  [=](caf::error&) mutable { rp.deliver(caf::ok_atom::value); });  // runs out in 2 s anyway
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_pool_actor(caf::actor_system& sys, pool_actor_config cfg) {
  return sys.spawn(pool_actor, std::move(cfg));
}

}  // namespace pchat::actors
