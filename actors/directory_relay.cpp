#include "actors/directory_relay.h"

#include <caf/all.hpp>

#include <memory>
#include <unordered_map>
#include <vector>

#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/server_context.h"
#include "log/log.h"

namespace pchat::actors {
namespace {

struct relay_state {
  // One request relayed to another node, answered once: by its reply, its timeout or the
  // node's death, whichever comes first.
  struct call {
    caf::response_promise rp;
    bool done = false;
  };
  std::shared_ptr<const server_context> ctx;
  std::unordered_map<caf::actor_addr, std::vector<std::shared_ptr<call>>> inflight;  // by peer relay
  static inline const char* name = "directory_relay";
};

using relay_ptr = caf::stateful_actor<relay_state>*;

template <class T>
void settle(relay_ptr self, const caf::actor_addr& peer, const std::shared_ptr<relay_state::call>& c, T&& answer) {
  if (c->done) return;
  c->done = true;
  c->rp.deliver(std::forward<T>(answer));
  auto it = self->state.inflight.find(peer);
  if (it == self->state.inflight.end()) return;
  auto& v = it->second;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == c) {
      v[i] = std::move(v.back());
      v.pop_back();
      break;
    }
}

// Asks another node's relay (monitored) and answers the current request with its reply.
template <class Answer, class... Ts>
void relay_to_peer(relay_ptr self, const caf::actor& peer, std::chrono::milliseconds timeout, Ts&&... xs) {
  auto& st = self->state;
  auto c = std::make_shared<relay_state::call>(relay_state::call{self->make_response_promise(), false});
  auto addr = peer.address();
  auto [it, fresh] = st.inflight.try_emplace(addr);
  if (fresh) self->monitor(peer);  // stays monitored until it dies
  it->second.push_back(c);
  self->request(peer, timeout, std::forward<Ts>(xs)...)
      .then([=](Answer& a) { settle(self, addr, c, std::move(a)); },
            [=](caf::error& e) { settle(self, addr, c, std::move(e)); });
}

// Asks the local directory and answers the current request (from another node) with its reply.
template <class Answer, class... Ts>
void relay_to_directory(relay_ptr self, std::chrono::milliseconds timeout, Ts&&... xs) {
  auto rp = self->make_response_promise();
  self->request(self->state.ctx->directory, timeout, std::forward<Ts>(xs)...)
      .then([=](Answer& a) mutable { rp.deliver(std::move(a)); },
            [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
}

// The relay of the node called `name` in the current view, or an invalid handle.
caf::actor peer_relay(relay_ptr self, const std::string& name) {
  auto view = self->state.ctx->pool->current();
  const node_entry* n = view ? view->find(name) : nullptr;
  return n != nullptr ? n->directory : caf::actor();
}

caf::error unreachable(const std::string& node) {
  return make_error(errc::busy, "pool node " + node + " is not reachable; retry");
}

caf::behavior serving(relay_ptr self) {
  const auto request_timeout = self->state.ctx->request_timeout;
  const std::chrono::milliseconds route_timeout = kRouteTimeout;
  self->set_down_handler([=](caf::down_msg& dm) {
    // That node died (or its relay stopped): nothing in flight to it will be answered.
    auto& st = self->state;
    auto it = st.inflight.find(dm.source);
    if (it == st.inflight.end()) return;
    auto calls = std::move(it->second);
    st.inflight.erase(it);
    if (!calls.empty())
      PCHAT_LOG(info, "pool", "directory requests to a lost node failed at once",
                "count=" + std::to_string(calls.size()) + " reason=" + log::quote(self->system().render(dm.reason)));
    for (auto& c : calls)
      if (!c->done) {
        c->done = true;
        c->rp.deliver(caf::make_error(caf::sec::request_receiver_down));
      }
  });
  return {
      // ---- out: from this node's directory, for a room `node` owns
      [=](own_lookup_atom, const std::string& node, const std::string& room_id) {
        auto peer = peer_relay(self, node);
        if (!peer) return void(self->make_response_promise().deliver(unreachable(node)));
        relay_to_peer<caf::actor>(self, peer, request_timeout, own_lookup_atom::value, room_id);
      },
      [=](route_atom, const std::string& node, caf::message& inner) {
        auto peer = peer_relay(self, node);
        if (!peer) return void(self->make_response_promise().deliver(unreachable(node)));
        relay_to_peer<uint64_t>(self, peer, route_timeout, routed_atom::value, std::move(inner));
      },
      [=](ixquery_atom, const std::string& node, const search::search_query& q) {
        auto peer = peer_relay(self, node);
        if (!peer) return void(self->make_response_promise().deliver(unreachable(node)));
        relay_to_peer<search::search_result>(self, peer, std::chrono::milliseconds(kPoolSearchTimeout),
                                             ixquery_atom::value, q);
      },
      [=](pnotify_atom, const std::string& node, caf::message& inner) {
        if (auto peer = peer_relay(self, node)) self->send(peer, pnotify_atom::value, std::move(inner));
        // A node not in the view has no live room to tell.
      },
      // ---- in: from another node's relay
      [=](own_lookup_atom, const std::string& room_id) {
        relay_to_directory<caf::actor>(self, request_timeout, own_lookup_atom::value, room_id);
      },
      [=](routed_atom, caf::message& inner) {
        relay_to_directory<uint64_t>(self, route_timeout, std::move(inner));
      },
      [=](pnotify_atom, caf::message& inner) { self->send(self->state.ctx->directory, std::move(inner)); },
      [=](ixquery_atom, const search::search_query& q) {
        // Another node's search: this node's index, once it holds every post noted so far.
        auto rp = self->make_response_promise();
        caf::actor indexer = self->state.ctx->indexer;
        if (!indexer) return void(rp.deliver(make_error(errc::storage_failure, "history search is not running here")));
        const std::chrono::milliseconds timeout = kPoolSearchTimeout;
        self->request(indexer, timeout, ixsync_atom::value)
            .then(
                [=](caf::ok_atom) mutable {
                  self->request(indexer, timeout, ixquery_atom::value, q)
                      .then([=](search::search_result& r) mutable { rp.deliver(std::move(r)); },
                            [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
                },
                [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      },
  };
}

caf::behavior directory_relay(relay_ptr self) {
  self->set_default_handler(caf::skip);
  return {
      [=](start_atom, std::shared_ptr<const server_context> ctx) {
        self->set_default_handler(caf::print_and_drop);
        self->state.ctx = std::move(ctx);
        self->become(serving(self));
      },
  };
}

}  // namespace

caf::actor spawn_directory_relay(caf::actor_system& sys) { return sys.spawn(directory_relay); }

}  // namespace pchat::actors
