#include "tests/support/actor_node.h"

#include <caf/io/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/session_actor.h"
#include "pool/node_tag.h"
#include "protocol/xccos/chat_uri.h"
#include "tests/support/xccos_commands.h"

namespace pchat::testing {

using namespace std::chrono_literals;

actor_node::actor_node(const std::string& dir, bool compliance_enabled,
                       const std::function<void(actors::node_parts&)>& adjust) {
  auto s = storage::database::open({dir, true}, &store);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  actors::node_parts parts;
  parts.store = store.get();
  parts.edge = &edge;
  parts.identities = std::make_shared<actors::identity_registry>(parts.settings.domain);
  parts.identities->upsert_policy({"global", true, ""});
  for (auto u : {"sip:alice@example.com", "sip:bob@example.com", "sip:carol@example.com"}) {
    storage::user_record rec;  // the demo users of pchatd's first start
    rec.uri = u;
    parts.identities->upsert_user(rec);
  }
  parts.settings.compliance_enabled = compliance_enabled;
  if (adjust) adjust(parts);
  cfg.set("scheduler.max-threads", 2);
  if (parts.pool) {  // a pool node, as pchatd makes one: BASP with heartbeats
    actors::add_message_types(cfg);
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(200)});
    cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(1)});
  }
  sys = std::make_unique<caf::actor_system>(cfg);
  server = std::make_unique<actors::server_node>(*sys, std::move(parts));
  ctx = server->context();
}

void actor_node::serve_alone() {
  actors::pool_view v;
  v.self = ctx->pool->current()->self;
  v.version = ctx->pool->current()->version + 1;
  v.serving = true;
  actors::node_entry me;
  me.name = v.self;
  me.tag = ctx->tag;
  me.host = "127.0.0.1";
  me.relay = ctx->relay;
  me.directory = ctx->directory_relay;
  v.live.push_back(std::move(me));
  ctx->pool->publish(std::make_shared<const actors::pool_view>(std::move(v)));
}

actor_node::~actor_node() {
  for (auto& s : sessions) caf::anon_send(s, actors::closed_atom::value, std::string("test end"));
  sessions.clear();
  server->stop();  // every actor awaited before anything it reads goes
  ctx.reset();
  server.reset();
  sys.reset();
}

std::string actor_node::make_room(const std::string& name, std::optional<bool> chat_history) {
  caf::scoped_actor self{*sys};
  storage::category_record c;
  c.name = "cat-" + name;
  if (chat_history) c.chat_history = *chat_history;
  std::string cat_id, room_id;
  self->request(ctx->directory, 5s, actors::new_category_atom::value, c)
      .receive([&](storage::category_record& r) { cat_id = r.id; }, [&](caf::error&) {});
  storage::room_record r;
  r.name = name;
  r.category_id = cat_id;
  self->request(ctx->directory, 5s, actors::new_room_atom::value, r)
      .receive([&](storage::room_record& x) { room_id = x.id; }, [&](caf::error&) {});
  return xccos::room_uri(ctx->domain, room_id);
}

std::string actor_node::room_uri(const std::string& name) {
  caf::scoped_actor self{*sys};
  std::string uri;
  self->request(ctx->directory, 5s, actors::list_rooms_atom::value)
      .receive(
          [&](std::vector<actors::room_view>& v) {
            for (auto& r : v)
              if (r.name == name) uri = r.uri;
          },
          [&](caf::error&) {});
  return uri;
}

caf::actor actor_node::session(sip::dialog_id id, const std::string& user) {
  // The registry admits only users it knows (no fallback to the global policy).
  if (ctx->identities && !ctx->identities->current()->known_user(user)) {
    storage::user_record u;
    u.uri = user;
    ctx->identities->upsert_user(u);
  }
  sip::dialog_info info;
  info.id = pool::tag_id(ctx->tag, id);
  info.user_uri = user;
  info.chat_uri = ctx->chat_uri;
  auto s = actors::spawn_session_actor(*sys, ctx, info);
  sessions.push_back(s);
  return s;
}

int actor_node::cmd(caf::actor& s, const std::string& body) {
  // Above the numbers tests pick by hand for their own INFOs.
  static std::atomic<uint64_t> txn{1000};
  uint64_t t = ++txn;
  last_txn = t;
  caf::anon_send(s, actors::info_atom::value, pool::tag_id(ctx->tag, t), body);
  return edge.wait_response(t) ? edge.response(t) : 0;
}

bool actor_node::join(caf::actor& s, sip::dialog_id d, const std::string& uri) {
  return cmd(s, join_cmd(uri)) == 200 && edge.wait_info(d, "rpl:join");
}

}  // namespace pchat::testing
