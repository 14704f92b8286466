// Actor tests: sessions, rooms, directory and commit actor on a real store, with the SIP
// edge replaced by a recording dialog_sender. Commands go in as XCCOS bodies through
// (info, txn, body), exactly as the SIP bridge delivers them.
#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>

#include "actors/commit_actor.h"
#include "actors/directory_actor.h"
#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/session_actor.h"
#include "compliance/event_sink.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/xccos_codec.h"
#include "storage/store.h"
#include "tests/support/recording_sender.h"

using namespace pchat;
using namespace std::chrono_literals;

namespace {

using pchat::testing::recording_sender;


std::string xccos_cmd(const std::string& inner, int envid = 7) {
  return "<xccos ver=\"1\" envid=\"" + std::to_string(envid) +
         "\" xmlns=\"urn:parlano:xml:ns:xccos\">" + inner + "</xccos>";
}
std::string join_cmd(const std::string& uri) {
  std::string domain, value;
  xccos::split_room_uri(uri, domain, value);
  return xccos_cmd("<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" domain=\"" + domain +
                   "\" value=\"" + value + "\"/></data></cmd>");
}
std::string post_cmd(const std::string& uri, const std::string& text) {
  return xccos_cmd("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"" + uri +
                   "\" author=\"sip:mallory@example.com\" ts=\"2024-05-01T12:34:56Z\"><chat>" +
                   text + "</chat></grpchat>");
}
std::string backchat_cmd(const std::string& uri, int cnt) {
  return xccos_cmd("<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"" + uri +
                   "\"/><bcq><last cnt=\"" + std::to_string(cnt) + "\"/></bcq></data></cmd>");
}

// One server node without SIP: store + commit + directory + sessions.
struct node {
  std::unique_ptr<storage::store> store;
  compliance::noop_sink sink;
  recording_sender edge;
  std::shared_ptr<actors::server_context> ctx = std::make_shared<actors::server_context>();
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> sessions;

  explicit node(const std::string& dir) {
    auto s = storage::store::open({dir, true}, &store);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    ctx->store = store.get();
    ctx->edge = &edge;
    ctx->sink = &sink;
    ctx->identities = std::make_shared<actors::identity_registry>(ctx->domain);
    ctx->identities->upsert_policy({"global", true, ""});
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    ctx->commit = actors::spawn_commit_actor(*sys, ctx);
    ctx->directory = actors::spawn_directory_actor(*sys, ctx);
  }
  ~node() {
    for (auto& s : sessions) caf::anon_send(s, actors::closed_atom::value, std::string("test end"));
    caf::anon_send_exit(ctx->directory, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx->commit, caf::exit_reason::user_shutdown);
    sessions.clear();
    ctx->directory = caf::actor{};
    ctx->commit = caf::actor{};
    sys.reset();
  }
  std::string make_room(const std::string& name) {
    caf::scoped_actor self{*sys};
    storage::category_record c;
    c.name = "cat-" + name;
    std::string cat_id, room_id;
    self->request(ctx->directory, 5s, actors::new_category_atom::value, c)
        .receive([&](storage::category_record& r) { cat_id = r.id; }, [&](caf::error&) {});
    storage::room_record r;
    r.name = name;
    r.category_id = cat_id;
    self->request(ctx->directory, 5s, actors::new_room_atom::value, r)
        .receive([&](storage::room_record& x) { room_id = x.id; }, [&](caf::error&) {});
    return "ma-chan://" + ctx->domain + "/" + room_id;
  }
  std::string room_uri(const std::string& name) {
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
  caf::actor session(sip::dialog_id id, const std::string& user) {
    sip::dialog_info info;
    info.id = id;
    info.user_uri = user;
    info.chat_uri = ctx->chat_uri;
    auto s = actors::spawn_session_actor(*sys, ctx, info);
    sessions.push_back(s);
    return s;
  }
};

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/pchat-actors-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

uint64_t next_txn = 1;

void send_cmd(caf::actor& s, const std::string& body, uint64_t txn) {
  caf::anon_send(s, actors::info_atom::value, txn, body);
}

}  // namespace

TEST(Actors, PostIsFannedOutToEveryMemberIncludingTheAuthorInOrder) {
  temp_dir dir;
  node n(dir.path);
  std::string uri = n.make_room("Fanout");
  const int members = 50;
  std::vector<caf::actor> s;
  for (int i = 0; i < members; ++i) {
    s.push_back(n.session(100 + i, "sip:user" + std::to_string(i) + "@example.com"));
    send_cmd(s.back(), join_cmd(uri), next_txn++);
  }
  for (int i = 0; i < members; ++i)
    ASSERT_TRUE(n.edge.wait_count(100 + i, "rpl:join", 1)) << "member " << i << " never joined";
  const int posts = 100;
  std::vector<uint64_t> txns;
  for (int p = 0; p < posts; ++p) {
    txns.push_back(next_txn++);
    send_cmd(s[0], post_cmd(uri, "msg-" + std::to_string(p)), txns.back());
  }
  for (auto t : txns) {
    ASSERT_TRUE(n.edge.wait_response(t));
    EXPECT_EQ(n.edge.response(t), 200);
  }
  for (int i = 0; i < members; ++i) {
    ASSERT_TRUE(n.edge.wait_count(100 + i, "<grpchat", posts)) << "member " << i;
    int expect = 0;
    for (auto& body : n.edge.infos(100 + i)) {
      if (body.find("<grpchat") == std::string::npos) continue;
      EXPECT_NE(body.find(">msg-" + std::to_string(expect) + "<"), std::string::npos)
          << "member " << i << " got out of order: " << body;
      // Identity comes from the dialog, never from the XML's author attribute.
      EXPECT_NE(body.find("author=\"sip:user0@example.com\""), std::string::npos);
      ++expect;
    }
    EXPECT_EQ(expect, posts);
  }
}

TEST(Actors, JoinNoticeGoesToTheOthersOnly) {
  temp_dir dir;
  node n(dir.path);
  std::string uri = n.make_room("Notices");
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
  auto b = n.session(2, "sip:bob@example.com");
  send_cmd(b, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "ntc:join", 1));
  ASSERT_TRUE(n.edge.wait_count(2, "rpl:join", 1));
  EXPECT_EQ(n.edge.count(2, "ntc:join"), 0u);
  // bob's roster lists both members.
  auto infos = n.edge.infos(2);
  EXPECT_NE(infos.back().find("sip:alice@example.com"), std::string::npos);
  caf::anon_send(b, actors::closed_atom::value, std::string("bye"));
  ASSERT_TRUE(n.edge.wait_count(1, "ntc:part", 1));
}

TEST(Actors, BackchatSurvivesARestartInOrder) {
  temp_dir dir;
  std::string uri;
  {
    node n(dir.path);
    uri = n.make_room("Persist");
    auto a = n.session(1, "sip:alice@example.com");
    send_cmd(a, join_cmd(uri), next_txn++);
    ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
    uint64_t last = 0;
    for (int p = 0; p < 40; ++p) {
      last = next_txn++;
      send_cmd(a, post_cmd(uri, "old-" + std::to_string(p)), last);
    }
    ASSERT_TRUE(n.edge.wait_response(last));
  }
  node n(dir.path);
  ASSERT_EQ(n.room_uri("Persist"), uri);
  auto b = n.session(5, "sip:bob@example.com");
  send_cmd(b, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(5, "rpl:join", 1));
  send_cmd(b, backchat_cmd(uri, 25), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(5, "rpl:bccontext", 1));
  std::string reply;
  for (auto& s : n.edge.infos(5))
    if (s.find("rpl:bccontext") != std::string::npos) reply = s;
  // The newest 25 of 40, oldest first: old-15 .. old-39.
  size_t pos = 0;
  for (int p = 15; p < 40; ++p) {
    size_t at = reply.find(">old-" + std::to_string(p) + "<", pos);
    ASSERT_NE(at, std::string::npos) << "missing or out of order: old-" << p;
    pos = at;
  }
  EXPECT_EQ(reply.find(">old-14<"), std::string::npos);
  // A new post continues the sequence instead of restarting it.
  uint64_t t = next_txn++;
  send_cmd(b, post_cmd(uri, "new-0"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  std::vector<storage::message_record> latest;
  std::string domain, id;
  xccos::split_room_uri(uri, domain, id);
  ASSERT_TRUE(n.store->read_latest(id, 1, &latest).is_ok());
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].seq, 41u);
}

TEST(Actors, FailedCommitAnswers503AndDeliversNothing) {
  temp_dir dir;
  node n(dir.path);
  std::string uri = n.make_room("Failing");
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
  n.store->inject_write_failure_for_testing(true);
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "lost"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  EXPECT_EQ(n.edge.response(t), 503);
  EXPECT_EQ(n.edge.count(1, ">lost<"), 0u);
}

TEST(Actors, PostWithoutJoiningIsRefusedInsideXccos) {
  temp_dir dir;
  node n(dir.path);
  std::string uri = n.make_room("Closed door");
  auto a = n.session(1, "sip:alice@example.com");
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "sneaky"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  EXPECT_EQ(n.edge.response(t), 200);  // SIP-level 200, error inside XCCOS
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"403\"", 1));
}

TEST(Actors, UnknownRoomAndBrokenXmlGetXccosErrors) {
  temp_dir dir;
  node n(dir.path);
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd("ma-chan://example.com/no-such-room"), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"404\"", 1));
  send_cmd(a, "<xccos ver=\"1\" envid=\"9\"><cmd id=\"cmd:join\"", next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"400\"", 1));
}

TEST(Actors, BatchJoinReportsFailedRoomsAndJoinsTheOthers) {
  temp_dir dir;
  node n(dir.path);
  std::string good = n.make_room("Good");
  std::string domain, value;
  xccos::split_room_uri(good, domain, value);
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a,
           xccos_cmd("<cmd id=\"cmd:bjoin\" seqid=\"1\"><data><chanid key=\"0\" domain=\"" + domain +
                     "\" value=\"" + value +
                     "\"/><chanid key=\"1\" domain=\"example.com\" value=\"missing\"/></data></cmd>"),
           next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:bjoin", 1));
  auto reply = n.edge.infos(1).back();
  EXPECT_NE(reply.find("<chanib uri=\"" + good + "\""), std::string::npos) << reply;
  EXPECT_NE(reply.find("<fib key=\"OPERATION_FAILED\" value=\"missing\""), std::string::npos) << reply;
}

TEST(Actors, PreferencesPersistPerUser) {
  temp_dir dir;
  node n(dir.path);
  auto a = n.session(1, "sip:alice@example.com");
  uint64_t t = next_txn++;
  send_cmd(a,
           xccos_cmd("<cmd id=\"cmd:setpref\" seqid=\"1\"><data><pref label=\"kedzie.GroupChannels\" "
                     "seqid=\"3\" createdefault=\"false\" content=\"Zm9sbG93ZWQ=\"/></data></cmd>"),
           t);
  ASSERT_TRUE(n.edge.wait_response(t));
  EXPECT_EQ(n.edge.response(t), 200);
  auto b = n.session(2, "sip:alice@example.com");
  send_cmd(b,
           xccos_cmd("<cmd id=\"cmd:getpref\" seqid=\"1\"><data><pref label=\"kedzie.GroupChannels\" "
                     "seqid=\"3\" createdefault=\"true\"/></data></cmd>"),
           next_txn++);
  ASSERT_TRUE(n.edge.wait_count(2, "content=\"Zm9sbG93ZWQ=\"", 1));
  auto c = n.session(3, "sip:bob@example.com");
  send_cmd(c,
           xccos_cmd("<cmd id=\"cmd:getpref\" seqid=\"1\"><data><pref label=\"kedzie.GroupChannels\" "
                     "seqid=\"3\" createdefault=\"true\"/></data></cmd>"),
           next_txn++);
  ASSERT_TRUE(n.edge.wait_count(3, "rpl:getpref", 1));
  EXPECT_EQ(n.edge.count(3, "Zm9sbG93ZWQ="), 0u);
}

TEST(Actors, IdleRoomRetiresAndComesBackWithItsHistory) {
  temp_dir dir;
  node n(dir.path);
  n.ctx->room_idle_seconds = 1;
  std::string uri = n.make_room("Sleepy");
  caf::scoped_actor self{*n.sys};
  caf::actor first;
  self->request(n.ctx->directory, 5s, actors::lookup_atom::value, uri, std::string("sip:admin@example.com"))
      .receive([&](caf::actor& a) { first = a; }, [&](caf::error&) {});
  ASSERT_TRUE(first);
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "before the nap"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  caf::anon_send(a, actors::closed_atom::value, std::string("gone"));
  // With nobody in it, the room actor stops after room_idle_seconds...
  self->monitor(first);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  ASSERT_TRUE(down) << "idle room actor never retired";
  // ...and the next lookup spawns a fresh one that still has the history.
  caf::actor second;
  self->request(n.ctx->directory, 5s, actors::lookup_atom::value, uri, std::string("sip:admin@example.com"))
      .receive([&](caf::actor& x) { second = x; }, [&](caf::error&) {});
  ASSERT_TRUE(second);
  EXPECT_NE(first.address(), second.address());
  auto b = n.session(2, "sip:bob@example.com");
  send_cmd(b, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(2, "rpl:join", 1));
  send_cmd(b, backchat_cmd(uri, 10), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(2, ">before the nap<", 1));
}

TEST(Actors, ReplacingARoomFailsWhenItChangedSinceItWasRead) {
  temp_dir dir;
  node n(dir.path);
  std::string uri = n.make_room("Desk");
  std::string id = uri.substr(uri.rfind('/') + 1);
  storage::room_record read;
  ASSERT_TRUE(n.store->get_room(id, &read).is_ok());
  caf::scoped_actor self{*n.sys};
  auto replace = [&](const storage::room_record& before, const storage::room_record& after,
                     actors::errc* code) {
    bool ok = false;
    self->request(n.ctx->directory, 5s, actors::replace_room_atom::value, before, after)
        .receive([&](storage::room_record&) { ok = true; },
                 [&](caf::error& e) {
                   std::string reason;
                   actors::decode_error(e, code, &reason);
                 });
    return ok;
  };
  // Two editors read the same version; the first write wins, the second is refused
  // instead of silently undoing the first.
  storage::room_record first = read, second = read;
  first.members.push_back("sip:alice@example.com");
  second.members.push_back("sip:bob@example.com");
  actors::errc code{};
  ASSERT_TRUE(replace(read, first, &code));
  EXPECT_FALSE(replace(read, second, &code));
  EXPECT_EQ(code, actors::errc::bad_request);
  storage::room_record now;
  ASSERT_TRUE(n.store->get_room(id, &now).is_ok());
  EXPECT_EQ(now.members, std::vector<std::string>{"sip:alice@example.com"});
  // Re-read, re-apply: accepted.
  second = now;
  second.members.push_back("sip:bob@example.com");
  EXPECT_TRUE(replace(now, second, &code));
  // A room that is gone is not brought back.
  storage::room_record ghost = read;
  ghost.id = "no-such-room";
  EXPECT_FALSE(replace(ghost, ghost, &code));
  EXPECT_EQ(code, actors::errc::not_found);
}
