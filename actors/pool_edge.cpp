#include "actors/pool_edge.h"

#include <caf/all.hpp>

#include <utility>

#include "actors/messages.h"
#include "actors/pool_view.h"
#include "log/log.h"
#include "pool/node_tag.h"

namespace pchat::actors {

pool_edge::pool_edge(sip::dialog_sender& local, uint16_t tag, std::shared_ptr<const pool_membership> pool)
    : local_(local), tag_(tag), pool_(std::move(pool)) {}

bool pool_edge::local(uint64_t id) const {
  auto t = pool::tag_of(id);
  return t == tag_ || t == 0;
}

void pool_edge::respond(sip::txn_id txn, int code) {
  if (local(txn)) return local_.respond(pool::local_of(txn), code);
  route(txn, code, {}, nullptr);
}

void pool_edge::send_info(sip::dialog_id d, std::shared_ptr<const std::string> body) {
  if (local(d)) return local_.send_info(pool::local_of(d), std::move(body));
  route(0, 0, {d}, body);
}

void pool_edge::send_info_many(std::vector<sip::dialog_id> targets,
                               std::shared_ptr<const std::string> body) {
  route(0, 0, std::move(targets), body);
}

void pool_edge::respond_then_send_info_many(sip::txn_id txn, int code, std::vector<sip::dialog_id> targets,
                                            std::shared_ptr<const std::string> body) {
  route(txn, code, std::move(targets), body);
}

void pool_edge::answer(sip::txn_id txn, int code, sip::dialog_id d, std::shared_ptr<const std::string> reply) {
  // Local: one unit for the local sender (a web session tells accepted from refused by it).
  // Remote: the response and the reply in one batch, in that order.
  if (local(txn) && local(d)) return local_.answer(pool::local_of(txn), code, pool::local_of(d), std::move(reply));
  if (!reply) return respond(txn, code);
  route(txn, code, {d}, reply);
}

void pool_edge::route(sip::txn_id txn, int code, std::vector<sip::dialog_id> targets,
                      const std::shared_ptr<const std::string>& body) {
  // Local dialogs are compacted, untagged, at the front of `targets` (no copy when all are
  // local, the common case); the others are grouped per node.
  std::vector<std::pair<uint16_t, edge_batch>> remote;
  auto batch_for = [&](uint16_t tag) -> edge_batch& {
    for (auto& [t, b] : remote)
      if (t == tag) return b;
    return remote.emplace_back(tag, edge_batch{}).second;
  };
  size_t n_local = 0;
  for (auto d : targets) {
    if (local(d))
      targets[n_local++] = pool::local_of(d);
    else
      batch_for(pool::tag_of(d)).dialogs.push_back(d);
  }
  targets.resize(n_local);
  if (txn != 0) {
    if (local(txn) && !targets.empty()) {
      // The response and the fan-out as one unit (a web author's acknowledgement with its echo).
      local_.respond_then_send_info_many(pool::local_of(txn), code, std::move(targets), body);
      targets.clear();
    } else if (local(txn)) {
      local_.respond(pool::local_of(txn), code);
    } else {
      auto& b = batch_for(pool::tag_of(txn));
      b.txns.push_back(txn);
      b.codes.push_back(code);
    }
  }
  if (!targets.empty()) local_.send_info_many(std::move(targets), body);
  if (remote.empty()) return;
  auto view = pool_->current();
  for (auto& [tag, b] : remote) {
    const node_entry* n = view ? view->find_tag(tag) : nullptr;
    if (n == nullptr || !n->relay) {
      // Its node left the view: its dialogs and transactions went with it.
      dropped_.fetch_add(b.txns.size() + b.dialogs.size(), std::memory_order_relaxed);
      PCHAT_LOG(debug, "pool", "edge ids of a node not in the view dropped",
                "tag=" + std::to_string(tag) + " count=" + std::to_string(b.txns.size() + b.dialogs.size()));
      continue;
    }
    if (!b.dialogs.empty() && body) b.body = *body;
    caf::anon_send(n->relay, edge_atom::value, std::move(b));
    batches_sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

namespace {

caf::behavior edge_relay(caf::event_based_actor*, sip::dialog_sender* local, uint16_t tag) {
  return {
      [=](edge_atom, edge_batch& b) {
        // Ids for another node cannot be answered here (a stale view on the sender's side).
        size_t n = 0;
        for (auto d : b.dialogs)
          if (pool::tag_of(d) == tag) b.dialogs[n++] = pool::local_of(d);
        b.dialogs.resize(n);
        // One answer and an INFO (a post's 200 with its fan-out, or a refusal with its
        // reply): handed on as one unit, as a local room does (a web author needs both).
        if (b.txns.size() == 1 && b.codes.size() == 1 && n > 0 && pool::tag_of(b.txns[0]) == tag)
          return local->respond_then_send_info_many(pool::local_of(b.txns[0]), b.codes[0], std::move(b.dialogs),
                                                    std::make_shared<const std::string>(std::move(b.body)));
        for (size_t i = 0; i < b.txns.size() && i < b.codes.size(); ++i)
          if (pool::tag_of(b.txns[i]) == tag) local->respond(pool::local_of(b.txns[i]), b.codes[i]);
        if (n > 0) local->send_info_many(std::move(b.dialogs), std::make_shared<const std::string>(std::move(b.body)));
      },
  };
}

}  // namespace

caf::actor spawn_edge_relay(caf::actor_system& sys, sip::dialog_sender& local, uint16_t tag) {
  return sys.spawn(edge_relay, &local, tag);
}

}  // namespace pchat::actors
