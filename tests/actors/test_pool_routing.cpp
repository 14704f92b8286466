// Pool routing (docs/POOL.md, "Where a room lives; routing"), in one process: three nodes,
// each its own actor system with CAF's network layer, talking over loopback BASP as
// separate pchatd processes would (every message between them is serialised). The pool
// view is built by hand here (the membership actor's job in pchatd): every node lists all
// three with their relays as that node reaches them.
//
// A session on one node joins and posts into a room another node owns: the post is stored
// on the owner only, the author's 200 reaches its own edge before the echo, every member on
// every node gets it, and the owner sends one message per other node per post.
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/messages.h"
#include "actors/pool_edge.h"
#include "actors/pool_view.h"
#include "actors/server_node.h"
#include "pool/node_tag.h"
#include "pool/placement.h"
#include "pool/pool_settings.h"
#include "protocol/xccos/chat_uri.h"
#include "storage/database.h"
#include "tests/support/actor_node.h"
#include "tests/support/claim_book.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xccos_commands.h"

using namespace pchat;
using namespace std::chrono_literals;

namespace {

using pchat::testing::actor_node;
using pchat::testing::backchat_cmd;
using pchat::testing::eventually;
using pchat::testing::join_cmd;
using pchat::testing::post_cmd;
using pchat::testing::temp_dir;

// Three pool nodes "a", "b", "c" in one process, linked over loopback BASP.
struct three_nodes {
  explicit three_nodes(const std::string& dir,
                       const std::function<void(const std::string&, actors::node_parts&)>& adjust = {}) {
    for (auto& name : names) {
      nodes.push_back(std::make_unique<actor_node>(dir + "/" + name, false, [&](actors::node_parts& p) {
        pool::pool_settings ps;
        ps.node_name = name;
        p.pool = ps;
        if (adjust) adjust(name, p);
      }));
      membership.push_back(nodes.back()->ctx->pool);
    }
    // Room claims: one book for the three (etcd's stand-in), each node's own door to it.
    for (size_t i = 0; i < nodes.size(); ++i)
      claims.push_back(claims_sys.spawn(pchat::testing::claim_double, book, names[i]));
    // Each node's relays and replica on ports of their own; every node reaches the others'
    // as proxies.
    std::vector<uint16_t> edge_port, dir_port, replica_port;
    for (auto& n : nodes) {
      auto e = n->sys->middleman().publish(n->ctx->relay, 0, "127.0.0.1");
      auto d = n->sys->middleman().publish(n->ctx->directory_relay, 0, "127.0.0.1");
      auto r = n->sys->middleman().publish(n->ctx->replica, 0, "127.0.0.1");
      EXPECT_TRUE(e && d && r);
      edge_port.push_back(e ? *e : 0);
      dir_port.push_back(d ? *d : 0);
      replica_port.push_back(r ? *r : 0);
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::vector<actors::node_entry> live;
      for (size_t j = 0; j < nodes.size(); ++j) {
        actors::node_entry e;
        e.name = names[j];
        e.tag = pool::node_tag(names[j]);
        e.host = "127.0.0.1";
        if (i == j) {
          e.relay = nodes[j]->ctx->relay;
          e.directory = nodes[j]->ctx->directory_relay;
          e.replica = nodes[j]->ctx->replica;
          e.pool = claims[j];
        } else {
          auto r = nodes[i]->sys->middleman().remote_actor("127.0.0.1", edge_port[j]);
          auto d = nodes[i]->sys->middleman().remote_actor("127.0.0.1", dir_port[j]);
          auto f = nodes[i]->sys->middleman().remote_actor("127.0.0.1", replica_port[j]);
          EXPECT_TRUE(r && d && f);
          if (r) e.relay = *r;
          if (d) e.directory = *d;
          if (f) e.replica = *f;
        }
        live.push_back(std::move(e));
      }
      publish(i, std::move(live));
    }
  }

  // Node i's view becomes `live` (sorted by name, as the membership actor keeps it).
  void publish(size_t i, std::vector<actors::node_entry> live) {
    actors::pool_view v;
    v.self = names[i];
    v.version = ++version;
    v.serving = true;
    v.live = std::move(live);
    membership[i]->publish(std::make_shared<const actors::pool_view>(std::move(v)));
  }
  ~three_nodes() {
    for (auto& c : claims) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  }

  // Node i forgets node `gone` (the membership actor's answer to its death; its lease, and
  // so its claims, go with it).
  void forget(size_t i, const std::string& gone) {
    {
      std::lock_guard<std::mutex> l(book->mu);
      std::erase_if(book->rooms, [&](const auto& r) { return r.second.first == gone; });
    }
    auto live = membership[i]->current()->live;
    std::erase_if(live, [&](const actors::node_entry& e) { return e.name == gone; });
    publish(i, std::move(live));
  }

  // A category and a room with the same ids on every node (what the directory across the
  // pool provides in pchatd); the room's URI. Its id is the first "room-<k>" that `owner`
  // owns among the three.
  std::string make_room(const std::string& owner, const std::string& prefix) {
    std::string id;
    for (int k = 0; id.empty(); ++k) {
      std::string candidate = prefix + "-" + std::to_string(k);
      if (pool::rank(candidate, names)[0] == owner) id = candidate;
    }
    for (auto& n : nodes) {
      caf::scoped_actor self{*n->sys};
      storage::category_record c;
      c.id = "cat-" + id;
      c.name = "cat-" + id;
      bool ok = false;
      self->request(n->ctx->directory, 5s, actors::new_category_atom::value, c)
          .receive([&](storage::category_record&) { ok = true; }, [&](caf::error&) {});
      EXPECT_TRUE(ok);
      storage::room_record r;
      r.id = id;
      r.name = id;
      r.category_id = c.id;
      ok = false;
      self->request(n->ctx->directory, 5s, actors::new_room_atom::value, r)
          .receive([&](storage::room_record&) { ok = true; }, [&](caf::error&) {});
      EXPECT_TRUE(ok);
    }
    return xccos::room_uri("example.com", id);
  }

  actor_node& node(const std::string& name) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return *nodes[i];
    throw std::out_of_range(name);
  }
  uint64_t batches_sent(const std::string& name) { return node(name).server->pool_sender()->batches_sent(); }

  // The claims' own system: a node stopped in a test (nodes[i].reset()) must not wait for
  // its door to the book, which lives until the end.
  caf::actor_system_config claims_cfg;
  caf::actor_system claims_sys{claims_cfg};
  std::vector<std::string> names{"a", "b", "c"};
  std::vector<std::shared_ptr<actors::pool_membership>> membership;
  std::vector<std::unique_ptr<actor_node>> nodes;
  std::shared_ptr<pchat::testing::claim_book> book = std::make_shared<pchat::testing::claim_book>();
  std::vector<caf::actor> claims;
  uint64_t version = 0;
};

uint64_t stored_last_seq(actor_node& n, const std::string& room_id) {
  uint64_t last = 0;
  EXPECT_TRUE(n.store->messages().last_sequence(room_id, &last).is_ok());
  return last;
}

}  // namespace

TEST(PoolRouting, PostIntoARoomAnotherNodeOwnsIsStoredThereAndFannedOutOncePerNode) {
  temp_dir dir("pool-routing");
  three_nodes pool(dir.path());
  std::string uri = pool.make_room("b", "room");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  actor_node &a = pool.node("a"), &b = pool.node("b"), &c = pool.node("c");

  // Two members on a, one on b (the owner), one on c.
  auto alice = a.session(11, "sip:alice@example.com");
  auto dave = a.session(12, "sip:dave@example.com");
  auto bob = b.session(21, "sip:bob@example.com");
  auto carol = c.session(31, "sip:carol@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));
  ASSERT_TRUE(a.join(dave, 12, uri));
  ASSERT_TRUE(b.join(bob, 21, uri));
  ASSERT_TRUE(c.join(carol, 31, uri));
  // The roster crosses nodes: carol joined last, so her rpl:join lists everyone.
  auto carol_join = c.edge.infos(31);
  ASSERT_FALSE(carol_join.empty());
  for (auto* who : {"alice", "dave", "bob", "carol"})
    EXPECT_NE(carol_join.back().find(std::string("sip:") + who + "@example.com"), std::string::npos)
        << who << " missing from " << carol_join.back();
  // Only the owner runs the room: the join notices for carol reached a's members from b.
  EXPECT_TRUE(a.edge.wait_info(11, "sip:carol@example.com"));

  // Posts from a: stored on b only; one message from b per other node per post.
  const int posts = 10;
  uint64_t before = pool.batches_sent("b");
  for (int i = 0; i < posts; ++i) {
    std::string text = "from-a-" + std::to_string(i);
    ASSERT_EQ(a.cmd(alice, post_cmd(uri, text)), 200) << text;
    for (auto d : {11, 12}) ASSERT_TRUE(a.edge.wait_info(d, ">" + text + "<")) << text;
    ASSERT_TRUE(b.edge.wait_info(21, ">" + text + "<")) << text;
    ASSERT_TRUE(c.edge.wait_info(31, ">" + text + "<")) << text;
    // The author's 200 reached a's edge before its echo.
    EXPECT_LT(a.edge.response_order(a.last_txn), a.edge.info_order(11, ">" + text + "<")) << text;
  }
  EXPECT_EQ(pool.batches_sent("b") - before, 2u * posts) << "one message to a (200 and echo) and one to c per post";
  // Stored on the owner b and its follower (rank 1: the replicated log), not on the third.
  EXPECT_EQ(stored_last_seq(b, room_id), static_cast<uint64_t>(posts));
  const std::string follower = pool::rank(room_id, pool.names)[1];
  EXPECT_EQ(stored_last_seq(pool.node(follower), room_id), static_cast<uint64_t>(posts));
  EXPECT_EQ(stored_last_seq(pool.node(follower == "a" ? "c" : "a"), room_id), 0u);

  // Posts from c and from b itself reach everyone; b's own members are served locally.
  ASSERT_EQ(c.cmd(carol, post_cmd(uri, "from-c")), 200);
  ASSERT_EQ(b.cmd(bob, post_cmd(uri, "from-b")), 200);
  for (auto* text : {">from-c<", ">from-b<"}) {
    EXPECT_TRUE(a.edge.wait_info(11, text)) << text;
    EXPECT_TRUE(a.edge.wait_info(12, text)) << text;
    EXPECT_TRUE(b.edge.wait_info(21, text)) << text;
    EXPECT_TRUE(c.edge.wait_info(31, text)) << text;
  }
  EXPECT_EQ(stored_last_seq(b, room_id), static_cast<uint64_t>(posts + 2));

  // Back-chat through a remote room: everything from every node, in order.
  ASSERT_EQ(c.cmd(carol, backchat_cmd(uri, 50)), 200);
  ASSERT_TRUE(c.edge.wait_info(31, "rpl:bccontext"));
  std::string bc;
  for (auto& body : c.edge.infos(31))
    if (body.find("rpl:bccontext") != std::string::npos) bc = body;
  size_t pos = 0;
  for (int i = 0; i < posts; ++i) {
    auto at = bc.find(">from-a-" + std::to_string(i) + "<", pos);
    ASSERT_NE(at, std::string::npos) << "from-a-" << i << " missing or out of order in " << bc;
    pos = at;
  }
  EXPECT_NE(bc.find(">from-c<", pos), std::string::npos);
  EXPECT_NE(bc.find(">from-b<", pos), std::string::npos);
}

TEST(PoolRouting, AdminRequestsGoToTheOwnersRoom) {
  temp_dir dir("pool-routing");
  three_nodes pool(dir.path());
  std::string uri = pool.make_room("b", "admin");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  actor_node &a = pool.node("a"), &b = pool.node("b");
  auto bob = b.session(21, "sip:bob@example.com");
  ASSERT_TRUE(b.join(bob, 21, uri));
  ASSERT_EQ(b.cmd(bob, post_cmd(uri, "keep me")), 200);
  ASSERT_EQ(b.cmd(bob, post_cmd(uri, "secret plan")), 200);

  // Through a's directory (as a's admin API would): replace on the owner, live.
  caf::scoped_actor self{*a.sys};
  actors::message_filter f;
  f.room = uri;
  f.contains = "secret";
  f.replacement = "[removed]";
  uint64_t replaced = 0;
  self->request(a.ctx->directory, 10s, actors::replace_atom::value, f)
      .receive([&](uint64_t n) { replaced = n; },
               [&](caf::error& e) { ADD_FAILURE() << a.sys->render(e); });
  EXPECT_EQ(replaced, 1u);
  std::vector<storage::message_record> latest;
  ASSERT_TRUE(b.store->messages().read_latest(room_id, 10, &latest).is_ok());
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[1].text, "[removed]");

  // Import through a lands on b.
  std::vector<storage::message_record> imported(1);
  imported[0].seq = 100;
  imported[0].author = "sip:old@example.com";
  imported[0].ts_micros = 1;
  imported[0].text = "from the archive";
  uint64_t written = 0;
  self->request(a.ctx->directory, 10s, actors::import_atom::value, room_id, imported)
      .receive([&](uint64_t n) { written = n; },
               [&](caf::error& e) { ADD_FAILURE() << a.sys->render(e); });
  EXPECT_EQ(written, 1u);
  uint64_t last = 0;
  ASSERT_TRUE(b.store->messages().last_sequence(room_id, &last).is_ok());
  EXPECT_EQ(last, 100u);

  // Clear through a: the owner's log is emptied.
  uint64_t cleared = 0;
  self->request(a.ctx->directory, 10s, actors::clear_atom::value, room_id, std::numeric_limits<int64_t>::max(),
                std::string("admin:test"))
      .receive([&](uint64_t n) { cleared = n; },
               [&](caf::error& e) { ADD_FAILURE() << a.sys->render(e); });
  EXPECT_EQ(cleared, 3u);
  latest.clear();
  ASSERT_TRUE(b.store->messages().read_latest(room_id, 10, &latest).is_ok());
  EXPECT_TRUE(latest.empty());

  // A room change made on a reaches the live room on b: disabling it removes bob.
  storage::room_record before;
  ASSERT_TRUE(a.store->directory().get_room(room_id, &before).is_ok());
  storage::room_record after = before;
  after.disabled = true;
  bool changed = false;
  self->request(a.ctx->directory, 5s, actors::replace_room_atom::value, before, after)
      .receive([&](storage::room_record&) { changed = true; },
               [&](caf::error& e) { ADD_FAILURE() << a.sys->render(e); });
  EXPECT_TRUE(changed);
  EXPECT_TRUE(b.edge.wait_info(21, "ntc:part")) << "b's live room applied a's change";
}

// A lookup in flight to a node that goes away is failed at once (CAF never answers it),
// and a session whose room's node went away joins the room again on its new owner
// without the client doing anything.
TEST(PoolRouting, LostOwnerFailsWhatIsInFlightAtOnceAndSessionsRejoinTheNewOwner) {
  temp_dir dir("pool-routing");
  // b's directory never answers lookups of the "stuck" rooms (a directory stuck behind a
  // slow store) and serves everything else.
  three_nodes pool(dir.path(), [](const std::string& name, actors::node_parts& p) {
    p.settings.request_timeout = 10s;
    if (name != "b") return;
    p.directory = [](caf::actor_system& sys, const caf::actor& real) {
      return sys.spawn([real](caf::event_based_actor* self) -> caf::behavior {
        self->set_default_handler([=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
          return self->delegate(real, x.move_content_to_message());
        });
        return {
            [=](actors::own_lookup_atom a, const std::string& id) -> caf::result<caf::message> {
              if (id.rfind("stuck", 0) == 0) return self->make_response_promise();  // never delivered
              return self->delegate(real, a, id);
            },
        };
      });
    };
  });
  std::string uri = pool.make_room("b", "room");
  std::string stuck = pool.make_room("b", "stuck");
  actor_node &a = pool.node("a"), &c = pool.node("c");
  auto alice = a.session(11, "sip:alice@example.com");
  auto carol = c.session(31, "sip:carol@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));
  ASSERT_TRUE(c.join(carol, 31, uri));
  ASSERT_EQ(a.cmd(alice, post_cmd(uri, "before")), 200);
  ASSERT_TRUE(c.edge.wait_info(31, ">before<"));

  // alice asks for the stuck room: the lookup waits on b.
  static uint64_t stuck_txn = 900;
  caf::anon_send(alice, actors::info_atom::value, pool::tag_id(a.ctx->tag, ++stuck_txn), join_cmd(stuck));
  EXPECT_FALSE(a.edge.wait_response(stuck_txn, 200ms));

  // b goes: a and c drop it from their views, then it stops.
  pool.forget(0, "b");
  pool.forget(2, "b");
  auto gone_at = std::chrono::steady_clock::now();
  pool.nodes[1].reset();
  // The stuck join is answered well before request_timeout (10 s): failed, retry.
  ASSERT_TRUE(a.edge.wait_response(stuck_txn, 3s));
  EXPECT_LT(std::chrono::steady_clock::now() - gone_at, 3s);
  ASSERT_TRUE(a.edge.wait_info(11, "rpl:join"));
  EXPECT_NE(a.edge.infos(11).back().find("code=\"503\""), std::string::npos) << a.edge.infos(11).back();

  // alice and carol were joined again on the room's new owner without a word to their
  // clients: a post from alice reaches carol (a client re-sends what got a 503).
  size_t joins_before = a.edge.count(11, "rpl:join");
  int k = 0;
  bool delivered = eventually(
      [&] {
        std::string text = "after-" + std::to_string(k++);
        a.cmd(alice, post_cmd(uri, text));
        return c.edge.wait_info(31, ">" + text + "<", 300ms);
      },
      8s, 1ms);
  EXPECT_TRUE(delivered) << "alice's posts never reached carol after b went away";
  EXPECT_EQ(a.edge.count(11, "rpl:join"), joins_before) << "the rejoin is silent";
}

namespace {

// A room prefix whose first room make_room("b", prefix) picks is owned by b among a, b, c
// and by c once b is gone: views that differ on b send its lookups to c too early.
std::string prefix_moving_from_b_to_c() {
  for (int p = 0;; ++p) {
    std::string prefix = "race" + std::to_string(p);
    for (int k = 0;; ++k) {
      std::string id = prefix + "-" + std::to_string(k);
      if (pool::rank(id, {"a", "b", "c"})[0] != "b") continue;
      if (pool::rank(id, {"a", "c"})[0] == "c") return prefix;
      break;
    }
  }
}

// A commit actor that takes posts and never confirms them (a node about to die with posts
// in flight); everything else goes to the real one. Counts the posts it took.
caf::behavior black_hole_commit(caf::event_based_actor* self, caf::actor real, std::shared_ptr<std::atomic<int>> taken) {
  self->set_default_handler([=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    return self->delegate(real, x.move_content_to_message());
  });
  return {
      [=](actors::commit_atom, const std::string&, const storage::message_record&) -> caf::result<uint64_t> {
        ++*taken;
        return self->make_response_promise();  // never delivered
      },
      [=](actors::commit_atom, const std::string&, const storage::message_record&,
          const storage::compliance_record&) -> caf::result<uint64_t> {
        ++*taken;
        return self->make_response_promise();
      },
      // The owner's own write in a pool (the replicated log: logput at the room's epoch).
      [=](actors::logput_atom, const std::string&, uint64_t, const storage::message_record&) -> caf::result<uint64_t> {
        ++*taken;
        return self->make_response_promise();
      },
      [=](actors::logput_atom, const std::string&, uint64_t, const storage::message_record&,
          const storage::compliance_record&) -> caf::result<uint64_t> {
        ++*taken;
        return self->make_response_promise();
      },
  };
}

// A commit actor whose replica writes (a follower's copies, rlogput) are never confirmed
// while `hold` is set; everything else, and everything once `hold` is cleared, goes to
// the real one. Counts the writes it held.
caf::behavior held_replica_commit(caf::event_based_actor* self, caf::actor real, std::shared_ptr<std::atomic<bool>> hold,
                                  std::shared_ptr<std::atomic<int>> taken) {
  self->set_default_handler([=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    return self->delegate(real, x.move_content_to_message());
  });
  return {
      [=](actors::rlogput_atom a, const std::string& room, uint64_t epoch,
          storage::message_record& m) -> caf::result<caf::message> {
        if (!hold->load()) return self->delegate(real, a, room, epoch, std::move(m));
        ++*taken;
        return self->make_response_promise();
      },
      [=](actors::rlogput_atom a, const std::string& room, uint64_t epoch, storage::message_record& m,
          storage::compliance_record& e) -> caf::result<caf::message> {
        if (!hold->load()) return self->delegate(real, a, room, epoch, std::move(m), std::move(e));
        ++*taken;
        return self->make_response_promise();
      },
  };
}

}  // namespace

// Views change one node at a time: a has dropped b (the room's owner) and sends the lookup
// to c, the owner in its view, while c still sees b and refuses (busy). The session tries
// again (25 ms, doubling) and joins as soon as c's view agrees, the client seeing a join
// that took a little longer, never an error; the room then runs on c.
TEST(PoolRouting, ALookupRefusedWhileTheViewsDifferIsRetriedUntilTheNewOwnerServes) {
  temp_dir dir("pool-routing");
  three_nodes pool(dir.path());
  std::string uri = pool.make_room("b", prefix_moving_from_b_to_c());
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  actor_node &a = pool.node("a"), &c = pool.node("c");
  pool.forget(0, "b");
  auto alice = a.session(11, "sip:alice@example.com");
  static uint64_t txn = 700;
  uint64_t join_txn = ++txn;
  auto t0 = std::chrono::steady_clock::now();
  caf::anon_send(alice, actors::info_atom::value, pool::tag_id(a.ctx->tag, join_txn), join_cmd(uri));
  // Refused by c meanwhile: no answer yet.
  EXPECT_FALSE(a.edge.wait_response(join_txn, 150ms));
  pool.forget(2, "b");
  ASSERT_TRUE(a.edge.wait_response(join_txn, 5s));
  EXPECT_EQ(a.edge.response(join_txn), 200);
  ASSERT_TRUE(a.edge.wait_info(11, "rpl:join"));
  EXPECT_NE(a.edge.infos(11).back().find("code=\"200\""), std::string::npos) << a.edge.infos(11).back();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  // The room runs on c now: a post from a is stored there.
  auto carol = c.session(31, "sip:carol@example.com");
  ASSERT_TRUE(c.join(carol, 31, uri));
  ASSERT_EQ(a.cmd(alice, post_cmd(uri, "on c")), 200);
  EXPECT_TRUE(c.edge.wait_info(31, ">on c<"));
  EXPECT_EQ(stored_last_seq(c, room_id), 1u);
}

// Views that never agree do not leave a join hanging: after its tries (about 2.6 s of
// waiting) the client gets a 503 to try again, well inside request_timeout.
TEST(PoolRouting, ALookupRefusedUntilTheTriesRunOutIsAnswered503) {
  temp_dir dir("pool-routing");
  three_nodes pool(dir.path(), [](const std::string&, actors::node_parts& p) { p.settings.request_timeout = 30s; });
  std::string uri = pool.make_room("b", prefix_moving_from_b_to_c());
  actor_node& a = pool.node("a");
  pool.forget(0, "b");  // c keeps seeing b: it refuses every time
  auto alice = a.session(11, "sip:alice@example.com");
  auto t0 = std::chrono::steady_clock::now();
  a.cmd(alice, join_cmd(uri));
  ASSERT_TRUE(a.edge.wait_info(11, "rpl:join", 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_NE(a.edge.infos(11).back().find("code=\"503\""), std::string::npos) << a.edge.infos(11).back();
}

// Failover (docs/POOL.md "Dead owner"): posts in flight at a room whose node goes away are
// sent again by their sessions, with the same post id and INFO, to the room's new owner:
// each client gets exactly one 200 per post, no error, and the new owner stores each post
// once.
TEST(PoolFailover, PostsInFlightWhenTheOwnerGoesAreSentAgainAndAcknowledgedOnce) {
  temp_dir dir("pool-failover");
  auto taken = std::make_shared<std::atomic<int>>(0);
  three_nodes pool(dir.path(), [taken](const std::string& name, actors::node_parts& p) {
    if (name != "b") return;
    p.commit = [taken](caf::actor_system& sys, const caf::actor& real) {
      return sys.spawn(black_hole_commit, real, taken);
    };
  });
  std::string uri = pool.make_room("b", "room");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  actor_node &a = pool.node("a"), &c = pool.node("c");
  auto alice = a.session(11, "sip:alice@example.com");
  auto carol = c.session(31, "sip:carol@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));
  ASSERT_TRUE(c.join(carol, 31, uri));

  // Three posts from alice (a) and one from carol (c), all stuck in b's room.
  std::vector<uint64_t> alice_txns;
  for (int i = 0; i < 3; ++i) {
    // Transaction ids falling as the posts go: the order sent is not the ids' order.
    alice_txns.push_back(7002 - static_cast<uint64_t>(i));
    caf::anon_send(alice, actors::info_atom::value, pool::tag_id(a.ctx->tag, alice_txns.back()),
                   post_cmd(uri, "in-flight-" + std::to_string(i)));
  }
  const uint64_t carol_txn = 7100;
  caf::anon_send(carol, actors::info_atom::value, pool::tag_id(c.ctx->tag, carol_txn), post_cmd(uri, "carol-in-flight"));
  ASSERT_TRUE(eventually([&] { return taken->load() == 4; }, 5s)) << "b's room took " << taken->load() << " posts";
  for (auto t : alice_txns) EXPECT_EQ(a.edge.response(t), 0) << "answered before its room was lost";

  // b goes (its posts were never confirmed: nothing of them is acknowledged anywhere).
  pool.forget(0, "b");
  pool.forget(2, "b");
  pool.nodes[1].reset();

  // Each post is answered once, 200, with no XCCOS error: sent again to the new owner.
  for (auto t : alice_txns) {
    ASSERT_TRUE(a.edge.wait_response(t, 10s)) << "txn " << t << " never answered";
    EXPECT_EQ(a.edge.response(t), 200);
  }
  ASSERT_TRUE(c.edge.wait_response(carol_txn, 10s));
  EXPECT_EQ(c.edge.response(carol_txn), 200);
  EXPECT_EQ(a.edge.count(11, "<resp code=\"5"), 0u) << "alice's client saw an error";
  EXPECT_EQ(c.edge.count(31, "<resp code=\"5"), 0u) << "carol's client saw an error";
  // Every member sees each post once, and the new owner stored each once.
  // Each member's copy is waited for on its own edge: a member not ready yet when the new
  // owner fans a re-sent post out gets it when ready, after the author's 200 and in no
  // fixed order with the other members' copies (timing under load).
  for (int i = 0; i < 3; ++i) {
    std::string text = ">in-flight-" + std::to_string(i) + "<";
    EXPECT_TRUE(c.edge.wait_info(31, text)) << text;
    EXPECT_TRUE(a.edge.wait_info(11, text)) << text;
    EXPECT_EQ(c.edge.count(31, text), 1u) << text;
    EXPECT_EQ(a.edge.count(11, text), 1u) << text;
  }
  EXPECT_TRUE(a.edge.wait_info(11, ">carol-in-flight<"));
  EXPECT_EQ(a.edge.count(11, ">carol-in-flight<"), 1u);
  std::string owner = pool::rank(room_id, {"a", "c"})[0];
  actor_node& o = pool.node(owner);
  std::vector<storage::message_record> stored;
  ASSERT_TRUE(o.store->messages().read_latest(room_id, 100, &stored).is_ok());
  std::map<std::string, int> copies;
  for (auto& m : stored) copies[m.text]++;
  EXPECT_EQ(copies.size(), 4u);
  for (auto& [text, n] : copies) EXPECT_EQ(n, 1) << text;
  // alice's posts are stored in the order she sent them: a session sends its held posts
  // again oldest first (they are kept unordered, by transaction).
  std::vector<std::string> alice_stored;
  for (auto& m : stored)
    if (m.text.rfind("in-flight-", 0) == 0) alice_stored.push_back(m.text);
  EXPECT_EQ(alice_stored, (std::vector<std::string>{"in-flight-0", "in-flight-1", "in-flight-2"}));
}

// A session's posts to a room are stored in the order its client sent them, even when the
// room is lost with several in flight (a client keeps up to 4 unanswered): the session
// sends them again oldest first, and a post sent while the room is joined again waits
// behind them (the failover torture found acknowledged posts out of order).
TEST(PoolFailover, PostsSentAgainAfterTheOwnerGoesAreStoredInTheOrderTheyWereSent) {
  temp_dir dir("pool-failover");
  // b's room never confirms the posts, and its follower holds its copies back: the new
  // owner stores only what the session sends again, in the order it sends them.
  auto taken = std::make_shared<std::atomic<int>>(0);
  auto copied = std::make_shared<std::atomic<int>>(0);
  auto hold = std::make_shared<std::atomic<bool>>(true);
  three_nodes pool(dir.path(), [=](const std::string& name, actors::node_parts& p) {
    p.commit = [=](caf::actor_system& sys, const caf::actor& real) {
      return name == "b" ? sys.spawn(black_hole_commit, real, taken) : sys.spawn(held_replica_commit, real, hold, copied);
    };
  });
  std::string uri = pool.make_room("b", "room");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  actor_node& a = pool.node("a");
  auto alice = a.session(11, "sip:alice@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));

  // Eight posts stuck in b's room, a ninth sent once b is gone.
  std::vector<uint64_t> txns;
  auto send = [&](int i) {
    txns.push_back(7200 + static_cast<uint64_t>(i));
    caf::anon_send(alice, actors::info_atom::value, pool::tag_id(a.ctx->tag, txns.back()),
                   post_cmd(uri, "ordered-" + std::to_string(i)));
  };
  for (int i = 0; i < 8; ++i) send(i);
  ASSERT_TRUE(eventually([&] { return taken->load() == 8 && copied->load() == 8; }, 5s))
      << "b's room took " << taken->load() << " posts, its follower " << copied->load();
  pool.forget(0, "b");
  pool.forget(2, "b");
  pool.nodes[1].reset();
  hold->store(false);
  send(8);

  for (auto t : txns) {
    ASSERT_TRUE(a.edge.wait_response(t, 10s)) << "txn " << t << " never answered";
    EXPECT_EQ(a.edge.response(t), 200);
  }
  actor_node& o = pool.node(pool::rank(room_id, {"a", "c"})[0]);
  std::vector<storage::message_record> stored;
  ASSERT_TRUE(o.store->messages().read_latest(room_id, 100, &stored).is_ok());
  std::sort(stored.begin(), stored.end(), [](auto& x, auto& y) { return x.seq < y.seq; });
  std::vector<std::string> texts;
  for (auto& m : stored) texts.push_back(m.text);
  std::vector<std::string> sent;
  for (int i = 0; i <= 8; ++i) sent.push_back("ordered-" + std::to_string(i));
  EXPECT_EQ(texts, sent);
}

namespace {

// Each text's copies among the stored messages of `room_id` on `nodes`.
std::map<std::string, int> stored_copies(const std::vector<actor_node*>& nodes, const std::string& room_id) {
  std::map<std::string, int> copies;
  for (auto* n : nodes) {
    std::vector<storage::message_record> stored;
    EXPECT_TRUE(n->store->messages().read_latest(room_id, 200, &stored).is_ok());
    for (auto& m : stored) copies[m.text]++;
  }
  return copies;
}

// Every node's view becomes `edit` of `full` (the views the pool started with).
void publish_all(three_nodes& pool, const std::vector<std::vector<actors::node_entry>>& full,
                 const std::function<void(std::vector<actors::node_entry>&)>& edit) {
  for (size_t i = 0; i < pool.nodes.size(); ++i) {
    auto live = full[i];
    edit(live);
    pool.publish(i, std::move(live));
  }
}

// alice (on a) posts `texts` without waiting, `between` runs after the first half; each
// must be answered 200, once, with no XCCOS error at alice's client.
void stream_posts(actor_node& a, const caf::actor& alice, const std::string& uri, uint64_t first_txn,
                  const std::vector<std::string>& texts, const std::function<void()>& between) {
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i == texts.size() / 2) between();
    caf::anon_send(alice, actors::info_atom::value, pool::tag_id(a.ctx->tag, first_txn + i), post_cmd(uri, texts[i]));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(a.edge.wait_response(first_txn + i, 10s)) << texts[i] << " never answered";
    EXPECT_EQ(a.edge.response(first_txn + i), 200) << texts[i];
  }
}

}  // namespace

// Handing back (docs/POOL.md "Handing back"): while b is away its room lives on another
// node; when b is back (rank 0 again) the acting owner finishes what it has in flight,
// takes no new post (gives it back: errc::moved) and retires; the sessions join b silently
// and send the posts they hold there. Every post is acknowledged once and stored once.
// `failing_releases`: the acting owner's first deletes of its claim fail (etcd not
// reached); it tries again until one succeeds, and b serves then.
void returning_owner_takes_its_room_back(const std::string& dir_name, int failing_releases) {
  temp_dir dir(dir_name);
  three_nodes pool(dir.path());
  std::string uri = pool.make_room("b", "back");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  std::vector<std::vector<actors::node_entry>> full;
  for (auto& m : pool.membership) full.push_back(m->current()->live);
  auto without_b = [](std::vector<actors::node_entry>& live) {
    std::erase_if(live, [](const actors::node_entry& e) { return e.name == "b"; });
  };
  publish_all(pool, full, without_b);  // b is away
  std::string acting = pool::rank(room_id, {"a", "c"})[0];
  actor_node &a = pool.node("a"), &b = pool.node("b"), &c = pool.node("c"), &x = pool.node(acting);
  auto alice = a.session(11, "sip:alice@example.com");
  auto carol = c.session(31, "sip:carol@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));
  ASSERT_TRUE(c.join(carol, 31, uri));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(a.cmd(alice, post_cmd(uri, "away-" + std::to_string(i))), 200);
  EXPECT_EQ(stored_last_seq(x, room_id), 3u) << "the acting owner " << acting << " stores while b is away";

  // b returns while alice posts: every view has it again, the directories are told.
  {
    std::lock_guard<std::mutex> l(pool.book->mu);
    pool.book->failing_releases = failing_releases;
  }
  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) texts.push_back("during-" + std::to_string(i));
  stream_posts(a, alice, uri, 8000, texts, [&] {
    publish_all(pool, full, [](std::vector<actors::node_entry>&) {});
    for (auto& n : pool.nodes) caf::anon_send(n->ctx->directory, actors::pool_changed_atom::value, pool.version);
  });
  // From now on b serves: a post from alice and one from carol are stored on b.
  ASSERT_TRUE(eventually([&] { return a.cmd(alice, post_cmd(uri, "after-a")) == 200; }, 5s));
  ASSERT_TRUE(eventually([&] { return c.cmd(carol, post_cmd(uri, "after-c")) == 200; }, 5s));
  EXPECT_TRUE(c.edge.wait_info(31, ">after-a<")) << "carol is in b's room";
  EXPECT_TRUE(a.edge.wait_info(11, ">after-c<")) << "alice is in b's room";
  EXPECT_EQ(a.edge.count(11, "<resp code=\"5"), 0u) << "alice's client saw an error";
  EXPECT_EQ(c.edge.count(31, "<resp code=\"5"), 0u) << "carol's client saw an error";
  EXPECT_EQ(a.edge.count(11, "rpl:join"), 1u) << "the move is silent";

  // Each post once in each node's log (the owner's and its follower's copies), and b, the
  // owner again, has every one (it copied what the acting owner stored before it served).
  auto on_b = stored_copies({&b}, room_id);
  EXPECT_EQ(on_b["after-a"], 1);
  EXPECT_EQ(on_b["after-c"], 1);
  for (auto* n : {&a, &b, &c}) {
    auto on_n = stored_copies({n}, room_id);
    for (auto& [text, copies] : on_n) EXPECT_EQ(copies, 1) << text << " stored " << copies << " times on a node";
  }
  for (auto& t : texts) {
    EXPECT_EQ(on_b[t], 1) << t << " is not in b's log";
    EXPECT_EQ(c.edge.count(31, ">" + t + "<"), 1u) << t << ": carol saw it " << c.edge.count(31, ">" + t + "<") << " times";
  }
  // The acting owner took no post after it handed back (it holds b's later posts only as
  // b's follower).
  const bool x_follows = pool::rank(room_id, pool.names)[1] == acting;
  EXPECT_EQ(stored_copies({&x}, room_id).count("after-a"), x_follows ? 1u : 0u);
  std::lock_guard<std::mutex> l(pool.book->mu);
  EXPECT_EQ(pool.book->releases_refused, failing_releases) << "the acting owner deleted its claim";
  EXPECT_EQ(pool.book->rooms[room_id].first, "b") << "b holds the room's claim";
}

TEST(PoolFailover, AReturningOwnerTakesItsRoomBackWithNoPostLostOrDoubled) {
  returning_owner_takes_its_room_back("pool-handback", 0);
}

// The known bug of issue 12: a hand-off whose claim delete failed never tried again, and
// the returning owner was refused the room for ever.
TEST(PoolFailover, AHandOffWhoseClaimDeleteFailsTriesAgainUntilTheOwnerServes) {
  returning_owner_takes_its_room_back("pool-handback-retry", 2);
}

// `pool drain` (docs/POOL.md "Handing back"): a node marked draining owns no room; its
// rooms hand themselves on while members on every node (the draining one too) post,
// losing and doubling nothing.
TEST(PoolFailover, ADrainingOwnerHandsItsRoomOnWithNoPostLostOrDoubled) {
  temp_dir dir("pool-drain");
  three_nodes pool(dir.path());
  std::string uri = pool.make_room("b", "drain");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  std::vector<std::vector<actors::node_entry>> full;
  for (auto& m : pool.membership) full.push_back(m->current()->live);
  std::string next = pool::rank(room_id, {"a", "c"})[0];
  actor_node &a = pool.node("a"), &b = pool.node("b"), &c = pool.node("c"), &n = pool.node(next);
  auto alice = a.session(11, "sip:alice@example.com");
  auto bob = b.session(21, "sip:bob@example.com");
  auto carol = c.session(31, "sip:carol@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));
  ASSERT_TRUE(b.join(bob, 21, uri));
  ASSERT_TRUE(c.join(carol, 31, uri));
  ASSERT_EQ(a.cmd(alice, post_cmd(uri, "before")), 200);
  uint64_t b_last = stored_last_seq(b, room_id);

  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) texts.push_back("draining-" + std::to_string(i));
  stream_posts(a, alice, uri, 8100, texts, [&] {
    publish_all(pool, full, [](std::vector<actors::node_entry>& live) {
      for (auto& e : live)
        if (e.name == "b") e.draining = true;
    });
    caf::anon_send(b.ctx->directory, actors::pool_changed_atom::value, pool.version);
  });
  ASSERT_TRUE(eventually([&] { return b.cmd(bob, post_cmd(uri, "from-bob")) == 200; }, 5s));
  EXPECT_TRUE(c.edge.wait_info(31, ">from-bob<")) << "carol follows the room to " << next;
  EXPECT_EQ(b.edge.count(21, "<resp code=\"5"), 0u) << "bob's client saw an error";
  EXPECT_EQ(a.edge.count(11, "<resp code=\"5"), 0u) << "alice's client saw an error";

  // Each post once in each node's log (owner's and follower's copies); the new owner has
  // every one, and every member saw each once.
  for (auto* node : {&a, &b, &c}) {
    auto on_node = stored_copies({node}, room_id);
    for (auto& [text, copies] : on_node) EXPECT_EQ(copies, 1) << text << " stored " << copies << " times on a node";
  }
  auto on_n = stored_copies({&n}, room_id);
  for (auto& t : texts) {
    EXPECT_EQ(on_n[t], 1) << t << " is not in the new owner's log";
    EXPECT_EQ(c.edge.count(31, ">" + t + "<"), 1u) << t;
  }
  EXPECT_EQ(on_n["from-bob"], 1) << "stored on the room's new owner " << next;
  EXPECT_LE(stored_last_seq(b, room_id), b_last + texts.size()) << "b took no post after it handed off";
  EXPECT_EQ(stored_copies({&b}, room_id).count("from-bob"), 0u);
}

// `pool drain` of a room's follower (docs/POOL.md "Handing back"): the owner stops counting
// the drained node as soon as its view says so; the next node in rank order gets the log
// first (it then holds the posts from before the drain) and acknowledges every later post;
// the drained node gets none of them. No post is refused or doubled.
TEST(PoolFailover, ADrainedFollowerIsReplacedByTheNextNodeCaughtUpFirst) {
  temp_dir dir("pool-drain-follower");
  three_nodes pool(dir.path());
  std::string uri = pool.make_room("b", "follow");
  std::string room_id = *xccos::room_id_in_domain(uri, "example.com");
  std::vector<std::vector<actors::node_entry>> full;
  for (auto& m : pool.membership) full.push_back(m->current()->live);
  const std::string drained = pool::rank(room_id, pool.names)[1];
  const std::string next = drained == "a" ? "c" : "a";
  actor_node &a = pool.node("a"), &b = pool.node("b"), &f = pool.node(drained), &n = pool.node(next);
  auto alice = a.session(11, "sip:alice@example.com");
  ASSERT_TRUE(a.join(alice, 11, uri));
  ASSERT_EQ(a.cmd(alice, post_cmd(uri, "before")), 200);
  EXPECT_EQ(stored_copies({&f}, room_id)["before"], 1) << drained << " follows the room";
  EXPECT_EQ(stored_copies({&n}, room_id).count("before"), 0u) << next << " does not follow it yet";

  publish_all(pool, full, [&](std::vector<actors::node_entry>& live) {
    for (auto& e : live)
      if (e.name == drained) e.draining = true;
  });
  for (auto& node : pool.nodes) caf::anon_send(node->ctx->directory, actors::pool_changed_atom::value, pool.version);
  // The next node is caught up (it gets the posts from before) ...
  ASSERT_TRUE(eventually([&] { return stored_copies({&n}, room_id)["before"] == 1; }, 5s))
      << next << " was never caught up";
  // ... and acknowledges every later post; the drained node gets none of them.
  for (int i = 0; i < 4; ++i) ASSERT_EQ(a.cmd(alice, post_cmd(uri, "after-" + std::to_string(i))), 200);
  auto on_b = stored_copies({&b}, room_id), on_f = stored_copies({&f}, room_id), on_n = stored_copies({&n}, room_id);
  for (int i = 0; i < 4; ++i) {
    std::string t = "after-" + std::to_string(i);
    EXPECT_EQ(on_b[t], 1) << t;
    EXPECT_EQ(on_n[t], 1) << t << " is not on the new follower " << next;
    EXPECT_EQ(on_f.count(t), 0u) << t << " was shipped to the drained " << drained;
  }
  for (auto& [text, copies] : on_n) EXPECT_EQ(copies, 1) << text;
  EXPECT_EQ(a.edge.count(11, "<resp code=\"5"), 0u) << "alice's client saw an error";
}
