#include "actors/server_node.h"
#include "actors/live_settings.h"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/commit_actor.h"
#include "actors/directory_actor.h"
#include "actors/index_feed.h"
#include "actors/indexer_actor.h"
#include "actors/directory_relay.h"
#include "actors/file_replica_actor.h"
#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/node_metrics.h"
#include "actors/pool_edge.h"
#include "actors/pool_view.h"
#include "actors/post_id_source.h"
#include "actors/reader_actor.h"
#include "actors/replica_actor.h"
#include "actors/sip_bridge.h"
#include "actors/web_edge.h"
#include "pool/node_tag.h"
#include "protocol/sip/sip_endpoint.h"

namespace pchat::actors {

caf::actor server_node::keep(caf::actor a) {
  services_.push_back(a);
  return a;
}

server_node::server_node(caf::actor_system& sys, node_parts parts) : sys_(sys), parts_(std::move(parts)) {
  // 1. What exists before any actor (the caller's services and settings).
  auto ctx = std::make_shared<server_context>();
  if (!parts_.settings.live) {
    effective_settings e;
    e.chat = parts_.settings.config;
    e.compliance.enabled = parts_.settings.compliance_enabled;
    if (parts_.compliance_runner) e.run_interval = parts_.compliance_runner->run_interval;
    parts_.settings.live = std::make_shared<live_settings>(std::move(e));
  }
  static_cast<server_settings&>(*ctx) = parts_.settings;
  ctx->store = parts_.store;
  ctx->edge = parts_.sip ? parts_.sip : parts_.edge;
  // Browsers' sessions are members too: their ids are web_edge's, the rest goes on.
  if (ctx->edge) {
    web_edge_ = std::make_unique<web_edge>(*ctx->edge);
    ctx->edge = web_edge_.get();
  }
  ctx->identities = parts_.identities;
  ctx->sign_in_throttle = parts_.sign_in_throttle;
  if (parts_.pool) {
    auto first = std::make_shared<pool_view>();
    first->self = parts_.pool->node_name;
    ctx->pool = std::make_shared<pool_membership>(std::move(first));
    // A pool node: its actors see tagged ids and send through the pool edge; other nodes'
    // rooms reach this node's dialogs through its edge relay.
    ctx->tag = pool::node_tag(parts_.pool->node_name);
    ctx->relay = keep(spawn_edge_relay(sys_, *ctx->edge, ctx->tag));
    pool_edge_ = std::make_unique<pool_edge>(*ctx->edge, ctx->tag, ctx->pool);
    ctx->edge = pool_edge_.get();
  }
  ctx->post_ids = std::make_shared<post_id_source>(post_id_source::random_origin());
  ctx->metrics = std::make_shared<node_metrics>();
  auto interposed = [&](const node_parts::interpose& f, const caf::actor& real) {
    return f ? keep(f(sys_, real)) : real;
  };
  // 2. Actors that need no context, each after what it uses: the indexer before the commit
  // actor (which notes every synced batch in their index_feed and wakes it), the runner before the first event.
  if (!parts_.search_dir.empty()) {
    ctx->index = std::make_shared<index_feed>();
    ctx->indexer = keep(spawn_indexer_actor(sys_, parts_.store, {parts_.search_dir, parts_.index_step_delay},
                                            ctx->index, ctx->metrics));
  }
  ctx->reader = interposed(parts_.reader, keep(spawn_reader_pool(sys_, parts_.store)));
  if (parts_.compliance_runner) {
    runner_options ro = *parts_.compliance_runner;
    if (parts_.pool) {
      ro.pool = *parts_.pool;
      // A post is acknowledged or refused within commit_timeout of being stamped.
      ro.pool_settle = parts_.settings.commit_timeout + std::chrono::seconds(1);
    }
    ctx->compliance_runner = keep(spawn_compliance_runner(sys_, parts_.store, std::move(ro), parts_.settings.live));
  }
  ctx->commit = interposed(parts_.commit, keep(spawn_commit_actor(sys_, parts_.store, ctx->indexer, ctx->index, parts_.settings, ctx->metrics)));
  // The pool's follower side relays to the commit actor and readers named above (so an
  // interposed, stalled commit stalls it too).
  if (ctx->pool) {
    caf::actor files;
    if (!parts_.settings.files_dir.empty())
      files = keep(spawn_file_replica(sys_, parts_.store, parts_.settings.files_dir, ctx->commit,
                                      parts_.settings.request_timeout));
    ctx->replica = keep(spawn_replica_actor(sys_, ctx->commit, ctx->reader, parts_.settings.request_timeout, files));
  }
  // 3. The directory, which spawns rooms with the context that names it: it waits for it.
  caf::actor directory = keep(spawn_directory_actor(sys_));
  ctx->directory = interposed(parts_.directory, directory);
  // Its relay to and from other nodes' directories waits for the context the same way.
  if (parts_.pool) ctx->directory_relay = keep(spawn_directory_relay(sys_));
  // 3b. A pool node's membership actor (after the actors its entry names: other nodes
  // reach this node's directory relay, edge relay and replica through it).
  if (parts_.pool) {
    pool_actor_config pc;
    pc.settings = *parts_.pool;
    pc.membership = ctx->pool;
    pc.self.name = parts_.pool->node_name;
    pc.self.tag = ctx->tag;
    pc.self.host = parts_.pool->host;
    pc.self.directory = ctx->directory_relay;
    pc.self.relay = ctx->relay;
    pc.self.replica = ctx->replica;
    pc.directory = ctx->directory;
    if (parts_.adjust_pool) parts_.adjust_pool(pc);
    pool_actor_ = keep(spawn_pool_actor(sys_, std::move(pc)));
    ctx->pool_actor = pool_actor_;
  }
  // 4. Complete: from here on the context is only read, the directory reading it first.
  ctx_ = std::move(ctx);
  caf::anon_send(directory, start_atom::value, ctx_);
  // 5. Revocation (docs/SECURITY.md "Revocation"): every change of users, groups or
  // policies, made here or applied from the pool's log, ends the dialogs of the users who
  // lost access on this node's edge and makes this node's live rooms re-check their rosters.
  if (parts_.identities) {
    caf::actor dir = ctx_->directory;
    sip::endpoint* edge = parts_.sip;
    web_edge* web = web_edge_.get();
    parts_.identities->watch([dir, edge, web](const identity_snapshot& before, const identity_snapshot& after) {
      for (auto& r : revoked_between(before, after)) {
        if (edge) edge->end_user(r.uri, r.credentials);
        if (web) web->end_user(r.uri, "your access to chat was revoked");
      }
      caf::anon_send(dir, access_changed_atom::value);
    });
  }
  if (ctx_->directory_relay) caf::anon_send(ctx_->directory_relay, start_atom::value, ctx_);
}

server_node::~server_node() { stop(); }

std::string server_node::start_edge() {
  if (!parts_.sip) return "no SIP endpoint";
  bridge_ = std::make_unique<sip_bridge>(sys_, ctx_);
  return parts_.sip->start(bridge_.get());
}

std::string server_node::start_pool(uint16_t sip_port, uint16_t http_port) {
  if (!pool_actor_) return "not a pool node";
  auto& ps = *parts_.pool;
  auto port = sys_.middleman().publish(pool_actor_, ps.port, ps.host.c_str());
  if (!port)
    return "cannot listen for pool nodes on " + ps.host + ":" + std::to_string(ps.port) + ": " +
           sys_.render(port.error());
  pool_port_ = *port;
  std::string err;
  caf::scoped_actor self{sys_};
  self->request(pool_actor_, std::chrono::seconds(20), pool_start_atom::value, sip_port, http_port, pool_port_)
      .receive([&](caf::ok_atom) { pool_joined_ = true; },
               [&](caf::error& e) {
                 errc code{};
                 std::string reason;
                 err = decode_error(e, &code, &reason) ? reason : sys_.render(e);
               });
  return err;
}

void server_node::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (parts_.identities) parts_.identities->watch({});  // the edge and actors go below
  // The edge first: its thread stops, so no new dialog, INFO or close reaches the bridge;
  // actors may still send (a stopped endpoint drops it).
  if (parts_.sip) parts_.sip->stop();
  bridge_.reset();  // the sessions' handles: sessions end as their rooms let them go
  // Leave the pool before anything stops: the lease revoked, the others drop this node and
  // may claim its rooms at once (not after the lease's TTL).
  if (pool_actor_ && pool_joined_) {
    caf::scoped_actor self{sys_};
    self->request(pool_actor_, std::chrono::seconds(3), pool_leave_atom::value)
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
  }
  for (auto it = services_.rbegin(); it != services_.rend(); ++it)
    caf::anon_send_exit(*it, caf::exit_reason::user_shutdown);
  // Rooms (linked to the directory) and sessions still handle parts and read the context
  // until they are gone: every actor, not only the services, is awaited.
  sys_.await_all_actors_done();
  services_.clear();
}

}  // namespace pchat::actors
