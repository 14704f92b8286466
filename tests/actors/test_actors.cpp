// Actor tests: sessions, rooms, directory and commit actor on a real store, with the SIP
// edge replaced by a recording dialog_sender. Commands go in as XCCOS bodies through
// (info, txn, body), exactly as the SIP bridge delivers them.
#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <future>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "actors/directory_actor.h"
#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/session_actor.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/xccos_codec.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/database.h"
#include "tests/support/actor_node.h"
#include "tests/support/recording_sender.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xccos_commands.h"

using namespace pchat;
using namespace std::chrono_literals;

namespace {

using pchat::testing::recording_sender;
using pchat::testing::backchat_cmd;
using pchat::testing::join_cmd;
using pchat::testing::post_cmd;
using pchat::testing::temp_dir;
using pchat::testing::xccos_cmd;
// One server node without SIP: store + commit + directory + sessions.
using node = pchat::testing::actor_node;

uint64_t next_txn = 1;

void send_cmd(caf::actor& s, const std::string& body, uint64_t txn) {
  caf::anon_send(s, actors::info_atom::value, txn, body);
}

}  // namespace

TEST(Actors, PostIsFannedOutToEveryMemberIncludingTheAuthorInOrder) {
  temp_dir dir("actors");
  node n(dir.path());
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
  temp_dir dir("actors");
  node n(dir.path());
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

// A client that asked to join gets every post taken after its join, also one the room
// fans out before the session says the client is ready (the join reply still on its way):
// a room that writes nothing (ChatHistory off) relays at once, and under load such a post
// reached nobody in that window. Once ready, the member gets it, then the live ones.
TEST(Actors, PostTakenBetweenAJoinAndItsReadyReachesTheNewMember) {
  temp_dir dir("actors");
  node n(dir.path());
  for (bool history : {false, true}) {
    std::string uri = n.make_room(history ? "Window" : "EphemeralWindow", history);
    caf::scoped_actor author{*n.sys}, late{*n.sys};
    caf::actor room;
    author->request(n.ctx->directory, 5s, actors::lookup_atom::value, uri, std::string("sip:alice@example.com"))
        .receive([&](caf::actor& r) { room = r; }, [&](caf::error& e) { FAIL() << to_string(e); });
    ASSERT_TRUE(room);
    const sip::dialog_id da = history ? 501 : 601, db = history ? 502 : 602;
    auto join = [&](caf::scoped_actor& who, const std::string& user, sip::dialog_id d) {
      bool ok = false;
      who->request(room, 5s, actors::join_atom::value, user, d, caf::actor{who})
          .receive([&](actors::join_result&) { ok = true; }, [&](caf::error&) {});
      return ok;
    };
    ASSERT_TRUE(join(author, "sip:alice@example.com", da));
    author->send(room, actors::ready_atom::value, caf::actor{author});
    ASSERT_TRUE(join(late, "sip:bob@example.com", db));  // bob's ready is still to come
    auto post = [&](const std::string& text) {
      uint64_t txn = 70000 + next_txn++;
      author->request(room, 5s, actors::post_atom::value, std::string("sip:alice@example.com"), text,
                      std::string(), storage::post_id{0x77ULL, txn}, actors::info_ticket{txn, da, "1", "1"})
          .receive([](caf::ok_atom) {}, [&](caf::error& e) { ADD_FAILURE() << to_string(e); });
      EXPECT_TRUE(n.edge.wait_response(txn));
      EXPECT_EQ(n.edge.response(txn), 200);
    };
    post("in the window");
    ASSERT_TRUE(n.edge.wait_count(da, ">in the window<", 1));  // fanned out to the ready ones
    EXPECT_EQ(n.edge.count(db, ">in the window<"), 0u);         // not before bob's join reply
    late->send(room, actors::ready_atom::value, caf::actor{late});
    post("after ready");
    ASSERT_TRUE(n.edge.wait_count(db, ">after ready<", 1)) << (history ? "stored room" : "relaying room");
    EXPECT_EQ(n.edge.count(db, ">in the window<"), 1u) << "the post taken before bob was ready is lost to him";
    auto infos = n.edge.infos(db);
    size_t first = 0, second = 0;
    for (size_t i = 0; i < infos.size(); ++i) {
      if (infos[i].find(">in the window<") != std::string::npos) first = i + 1;
      if (infos[i].find(">after ready<") != std::string::npos) second = i + 1;
    }
    EXPECT_LT(first, second) << "posts reached bob out of order";
  }
}

TEST(Actors, BackchatSurvivesARestartInOrder) {
  temp_dir dir("actors");
  std::string uri;
  {
    node n(dir.path());
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
  node n(dir.path());
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
  auto [domain, id] = xccos::parse_room_uri(uri).value();
  ASSERT_TRUE(n.store->messages().read_latest(id, 1, &latest).is_ok());
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].seq, 41u);
}

TEST(Actors, FailedCommitAnswers503AndDeliversNothing) {
  temp_dir dir("actors");
  node n(dir.path());
  std::string uri = n.make_room("Failing");
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
  n.store->db().inject_write_failure_for_testing(true);
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "lost"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  EXPECT_EQ(n.edge.response(t), 503);
  EXPECT_EQ(n.edge.count(1, ">lost<"), 0u);
}

TEST(Actors, PostWithoutJoiningIsRefusedInsideXccos) {
  temp_dir dir("actors");
  node n(dir.path());
  std::string uri = n.make_room("Closed door");
  auto a = n.session(1, "sip:alice@example.com");
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "sneaky"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  EXPECT_EQ(n.edge.response(t), 200);  // SIP-level 200, error inside XCCOS
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"403\"", 1));
}

TEST(Actors, UnknownRoomAndBrokenXmlGetXccosErrors) {
  temp_dir dir("actors");
  node n(dir.path());
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd("ma-chan://example.com/no-such-room"), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"404\"", 1));
  send_cmd(a, "<xccos ver=\"1\" envid=\"9\"><cmd id=\"cmd:join\"", next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"400\"", 1));
}

TEST(Actors, BatchJoinReportsFailedRoomsAndJoinsTheOthers) {
  temp_dir dir("actors");
  node n(dir.path());
  std::string good = n.make_room("Good");
  auto [domain, value] = xccos::parse_room_uri(good).value();
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
  temp_dir dir("actors");
  node n(dir.path());
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
  temp_dir dir("actors");
  node n(dir.path(), false, [](actors::node_parts& p) { p.settings.room_idle_seconds = 1; });
  std::string uri = n.make_room("Sleepy");
  caf::scoped_actor self{*n.sys};
  caf::actor first;
  self->request(n.ctx->directory, 5s, actors::lookup_atom::value, uri, std::string("sip:carol@example.com"))
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
  self->request(n.ctx->directory, 5s, actors::lookup_atom::value, uri, std::string("sip:carol@example.com"))
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
  temp_dir dir("actors");
  node n(dir.path());
  std::string uri = n.make_room("Desk");
  std::string id = uri.substr(uri.rfind('/') + 1);
  storage::room_record read;
  ASSERT_TRUE(n.store->directory().get_room(id, &read).is_ok());
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
  ASSERT_TRUE(n.store->directory().get_room(id, &now).is_ok());
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

// ---- timeouts and faults: actors that stall or fail, standing in for a stuck disk

namespace {

std::string chansrch_cmd(const std::string& criteria) {
  return xccos_cmd("<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"" +
                   criteria + "\" extended=\"false\"/></data></cmd>");
}

// A commit actor whose writes never finish until it gets ok_atom (a hung fsync); it then
// answers the held ones and every later one at once. Records the seqs it was given.
struct stalled_commit_state {
  bool stalled = true;
  std::vector<std::pair<caf::response_promise, uint64_t>> held;
  std::vector<uint64_t> seqs;
};
caf::behavior stalled_commit(caf::stateful_actor<stalled_commit_state>* self) {
  return {
      [=](actors::commit_atom, const std::string&, storage::message_record& m) -> caf::result<uint64_t> {
        self->state.seqs.push_back(m.seq);
        if (!self->state.stalled) return m.seq;
        auto rp = self->make_response_promise();
        self->state.held.emplace_back(rp, m.seq);
        return rp;
      },
      [=](caf::ok_atom) {
        self->state.stalled = false;
        for (auto& [rp, seq] : self->state.held) rp.deliver(seq);
        self->state.held.clear();
      },
      [=](caf::get_atom) { return self->state.seqs; },
  };
}

// A reader whose first `failures` room loads fail (a store that cannot read the last
// sequence); everything else goes to the real reader pool. Fulfils `retried` at its
// second load.
struct flaky_reader_state {
  int failures = 0;
  int loads = 0;
};
caf::behavior flaky_reader(caf::stateful_actor<flaky_reader_state>* self, int failures, caf::actor real,
                           std::shared_ptr<std::promise<void>> retried) {
  self->state.failures = failures;
  return {
      [=](actors::rdload_atom a, const std::string& room, const std::string& cat, uint64_t n,
          uint64_t ids) -> caf::result<caf::message> {
        if (++self->state.loads == 2) retried->set_value();
        if (self->state.failures > 0) {
          --self->state.failures;
          return actors::make_error(actors::errc::storage_failure, "injected: cannot read the last sequence");
        }
        return self->delegate(real, a, room, cat, n, ids);
      },
      [=](actors::rdlatest_atom a, const std::string& room, uint64_t n) -> caf::result<caf::message> {
        return self->delegate(real, a, room, n);
      },
  };
}

// A directory that takes requests and never answers them (a directory stuck behind a
// long store write).
caf::behavior silent_directory(caf::event_based_actor* self) {
  return {[=](actors::search_atom, const std::string&, const std::string&) -> caf::result<caf::message> {
    return self->make_response_promise();  // never delivered
  }};
}

}  // namespace

TEST(Actors, StalledCommitAnswersThePostInTimeAndNeverAcknowledgesIt) {
  temp_dir dir("actors");
  caf::actor stalled;
  node n(dir.path(), false, [&](actors::node_parts& p) {
    p.settings.commit_timeout = 300ms;
    p.commit = [&](caf::actor_system& sys, const caf::actor&) { return stalled = sys.spawn(stalled_commit); };
  });
  std::string uri = n.make_room("Stuck disk");
  auto a = n.session(1, "sip:alice@example.com");
  auto b = n.session(2, "sip:bob@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  send_cmd(b, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
  ASSERT_TRUE(n.edge.wait_count(2, "rpl:join", 1));

  uint64_t t1 = next_txn++;
  auto sent = std::chrono::steady_clock::now();
  send_cmd(a, post_cmd(uri, "stuck post"), t1);
  // Answered within the commit timeout (plus a generous margin for a loaded box): SIP 200
  // with the refusal inside XCCOS (a SIP 503 would make SIPE schedule UPDATEs, §4.5).
  ASSERT_TRUE(n.edge.wait_response(t1, 5s));
  auto waited = std::chrono::steady_clock::now() - sent;
  EXPECT_EQ(n.edge.response(t1), 200);
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s);
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"503\"", 1));
  auto refusal = n.edge.infos(1).back();
  EXPECT_NE(refusal.find("rpl:grpchat"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("not acknowledged"), std::string::npos) << refusal;

  // The write finishes late: nobody is told it was acknowledged, nothing is fanned out.
  caf::anon_send(stalled, caf::ok_atom::value);
  uint64_t t2 = next_txn++;
  send_cmd(a, post_cmd(uri, "after the stall"), t2);
  ASSERT_TRUE(n.edge.wait_response(t2));
  EXPECT_EQ(n.edge.response(t2), 200);
  ASSERT_TRUE(n.edge.wait_info(2, ">after the stall<"));
  EXPECT_EQ(n.edge.count(1, ">stuck post<"), 0u);
  EXPECT_EQ(n.edge.count(2, ">stuck post<"), 0u);
  // The late post kept its seq: the next one did not reuse it (no overwrite of a write
  // that may still land).
  caf::scoped_actor self{*n.sys};
  std::vector<uint64_t> seqs;
  self->request(stalled, 5s, caf::get_atom::value)
      .receive([&](std::vector<uint64_t>& v) { seqs = v; }, [&](caf::error&) {});
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2}));
  caf::anon_send_exit(stalled, caf::exit_reason::user_shutdown);
}

TEST(Actors, RoomThatCannotReadItsLastSequenceRefusesPostsUntilItCan) {
  temp_dir dir("actors");
  auto retried = std::make_shared<std::promise<void>>();
  auto second_load = retried->get_future();
  node n(dir.path(), false, [&](actors::node_parts& p) {
    p.reader = [&](caf::actor_system& sys, const caf::actor& real) { return sys.spawn(flaky_reader, 1, real, retried); };
  });
  std::string uri = n.make_room("Unreadable");
  auto [domain, id] = xccos::parse_room_uri(uri).value();
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    storage::message_record m;
    m.seq = seq;
    m.author = "sip:old@example.com";
    m.ts_micros = 1000 + static_cast<int64_t>(seq);
    m.text = "history " + std::to_string(seq);
    ASSERT_TRUE(n.store->messages().put(id, m).is_ok());
  }
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));

  // The room could not read its history: a post is refused, not numbered from 1.
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "would overwrite"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  EXPECT_EQ(n.edge.response(t), 200);
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"503\"", 1));
  EXPECT_NE(n.edge.infos(1).back().find("cannot read its history"), std::string::npos)
      << n.edge.infos(1).back();
  EXPECT_EQ(n.edge.count(1, ">would overwrite<"), 0u);

  // It reads again by itself (after 1 s) and then accepts posts after the stored ones.
  ASSERT_EQ(second_load.wait_for(10s), std::future_status::ready);
  bool accepted = false;
  for (int attempt = 0; attempt < 50 && !accepted; ++attempt) {
    uint64_t ta = next_txn++;
    size_t seen = n.edge.infos(1).size();
    send_cmd(a, post_cmd(uri, "after recovery"), ta);
    ASSERT_TRUE(n.edge.wait_response(ta));
    // Either way one INFO follows: the refusal or the post's fan-out.
    ASSERT_TRUE(n.edge.wait_count(1, "<xccos", seen + 1));
    accepted = n.edge.infos(1).back().find(">after recovery<") != std::string::npos;
  }
  ASSERT_TRUE(accepted);
  std::vector<storage::message_record> stored;
  ASSERT_TRUE(n.store->messages().read_from(id, 1, 100, &stored).is_ok());
  ASSERT_EQ(stored.size(), 4u);
  for (uint64_t seq = 1; seq <= 3; ++seq) EXPECT_EQ(stored[seq - 1].text, "history " + std::to_string(seq));
  EXPECT_EQ(stored[3].seq, 4u);
  EXPECT_EQ(stored[3].text, "after recovery");
}

TEST(Actors, EveryCommandHoldsItsInfoUntilItsWorkIsDoneOrTimesOut) {
  temp_dir dir("actors");
  node n(dir.path(), false, [](actors::node_parts& p) {
    p.settings.request_timeout = 300ms;
    p.directory = [](caf::actor_system& sys, const caf::actor&) { return sys.spawn(silent_directory); };
  });
  auto a = n.session(1, "sip:alice@example.com");
  uint64_t t = next_txn++;
  send_cmd(a, chansrch_cmd("demo"), t);
  // Not answered while the search is not done: the INFO counts against the edge's limits.
  EXPECT_FALSE(n.edge.wait_response(t, 150ms));
  // The timeout answers it: SIP 200, the error inside XCCOS.
  ASSERT_TRUE(n.edge.wait_response(t, 5s));
  EXPECT_EQ(n.edge.response(t), 200);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:chansrch", 1));
  EXPECT_NE(n.edge.infos(1).back().find("code=\"503\""), std::string::npos) << n.edge.infos(1).back();
  // An INFO still pending when the dialog closes is answered (the edge forgets it).
  uint64_t t2 = next_txn++;
  send_cmd(a, chansrch_cmd("demo"), t2);
  caf::anon_send(a, actors::closed_atom::value, std::string("bye"));
  ASSERT_TRUE(n.edge.wait_response(t2, 5s));
  EXPECT_EQ(n.edge.response(t2), 481);
}

// True when `d` answers the request `xs...` with storage_failure naming the unreadable store.
template <class Response, class... Ts>
bool refused_as_unreadable(caf::scoped_actor& self, const caf::actor& d, Ts... xs) {
  actors::errc code{};
  std::string reason;
  bool answered_error = false;
  self->request(d, 5s, xs...)
      .receive([&](Response&) {},
               [&](caf::error& e) { answered_error = actors::decode_error(e, &code, &reason); });
  return answered_error && code == actors::errc::storage_failure &&
         reason.find("cannot read the store") != std::string::npos;
}

// A directory that cannot read its categories answers every request storage_failure
// (before, it served on without them, and a room whose category was missing was open to the
// whole domain), and serves again once the store can be read.
TEST(Actors, DirectoryThatCannotReadItsCategoriesRefusesEveryRequestUntilItCan) {
  temp_dir dir("actors");
  node n(dir.path());
  std::string uri = n.make_room("Scoped");
  storage::category_record cat;
  cat.id = "c-scoped";
  cat.name = "Scoped only";
  cat.allowed_members = {"sip:alice@example.com"};
  ASSERT_TRUE(n.store->directory().put_category(cat).is_ok());
  // The record becomes unreadable (as a damaged disk would leave it).
  storage::db& db = n.store->db();
  const std::string key = storage::keys::category_key(cat.id);
  ASSERT_TRUE(db.raw()->Put(rocksdb::WriteOptions(), db.cf(storage::column::directory), key, "\xFF").ok());
  std::vector<storage::category_record> all;
  ASSERT_FALSE(n.store->directory().list_categories(&all).is_ok());

  caf::actor d = actors::spawn_directory_actor(*n.sys);  // a second directory, on the damaged store
  caf::anon_send(d, actors::start_atom::value, n.ctx);
  caf::scoped_actor self{*n.sys};
  using categories = std::vector<storage::category_record>;
  EXPECT_TRUE(refused_as_unreadable<categories>(self, d, actors::list_categories_atom::value));
  EXPECT_TRUE(refused_as_unreadable<std::vector<actors::room_view>>(self, d, actors::list_rooms_atom::value));
  EXPECT_TRUE(refused_as_unreadable<caf::actor>(self, d, actors::lookup_atom::value, uri,
                                                std::string("sip:bob@example.com")));

  // Repaired: the directory reads again by itself (after 1 s) and serves.
  std::string good;
  storage::put_category_record(&good, cat);
  ASSERT_TRUE(db.raw()->Put(rocksdb::WriteOptions(), db.cf(storage::column::directory), key, good).ok());
  bool listed = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!listed && std::chrono::steady_clock::now() < deadline) {
    self->request(d, 5s, actors::list_categories_atom::value)
        .receive([&](categories& got) {
                   listed = std::any_of(got.begin(), got.end(), [](auto& c) { return c.id == "c-scoped"; });
                 },
                 [&](caf::error&) {});
    if (!listed) std::this_thread::sleep_for(50ms);  // polls the condition until the deadline
  }
  EXPECT_TRUE(listed);
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
}

// A room whose category cannot be read does not guess its ChatHistory setting (it took
// "history on", storing posts a category with history off must not keep): it refuses posts
// like a room whose history cannot be read, and stores nothing.
TEST(Actors, RoomWhoseCategoryCannotBeReadRefusesPostsInsteadOfGuessingItsHistorySetting) {
  temp_dir dir("actors");
  node n(dir.path());
  std::string uri = n.make_room("Unplanned");
  auto [domain, id] = xccos::parse_room_uri(uri).value();
  storage::room_record room;
  ASSERT_TRUE(n.store->directory().get_room(id, &room).is_ok());
  storage::db& db = n.store->db();
  ASSERT_TRUE(db.raw()
                  ->Put(rocksdb::WriteOptions(), db.cf(storage::column::directory),
                        storage::keys::category_key(room.category_id), "\xFF")
                  .ok());
  auto a = n.session(1, "sip:alice@example.com");
  send_cmd(a, join_cmd(uri), next_txn++);
  ASSERT_TRUE(n.edge.wait_count(1, "rpl:join", 1));
  uint64_t t = next_txn++;
  send_cmd(a, post_cmd(uri, "unplanned post"), t);
  ASSERT_TRUE(n.edge.wait_response(t));
  ASSERT_TRUE(n.edge.wait_count(1, "code=\"503\"", 1));
  EXPECT_NE(n.edge.infos(1).back().find("cannot read its history"), std::string::npos)
      << n.edge.infos(1).back();
  EXPECT_EQ(n.edge.count(1, ">unplanned post<"), 0u);
  std::vector<storage::message_record> stored;
  ASSERT_TRUE(n.store->messages().read_from(id, 1, 100, &stored).is_ok());
  EXPECT_TRUE(stored.empty());
}

// A room's post plan follows its settings: a category whose ChatHistory is turned off while
// one of its rooms is live applies at once (posts are relayed, no longer stored), as every
// other setting does, and turned on again stores them again.
TEST(Actors, ChatHistoryChangedOnALiveRoomAppliesToItsNextPost) {
  temp_dir dir("actors");
  node n(dir.path());
  std::string uri = n.make_room("Switch", true);
  auto [domain, room_id] = xccos::parse_room_uri(uri).value();
  const std::string id = room_id;
  storage::room_record room;
  ASSERT_TRUE(n.store->directory().get_room(id, &room).is_ok());
  auto a = n.session(1, "sip:alice@example.com");
  ASSERT_TRUE(n.join(a, 1, uri));
  auto set_history = [&](bool on) {
    caf::scoped_actor self{*n.sys};
    storage::category_record c;
    self->request(n.ctx->directory, 5s, actors::list_categories_atom::value)
        .receive(
            [&](std::vector<storage::category_record>& cats) {
              for (auto& x : cats)
                if (x.id == room.category_id) c = x;
            },
            [&](caf::error&) {});
    ASSERT_EQ(c.id, room.category_id);
    c.chat_history = on;
    bool done = false;
    self->request(n.ctx->directory, 5s, actors::new_category_atom::value, c)
        .receive([&](storage::category_record&) { done = true; }, [&](caf::error&) {});
    ASSERT_TRUE(done);
  };
  auto post = [&](const std::string& text) {
    EXPECT_EQ(n.cmd(a, post_cmd(uri, text)), 200);
    EXPECT_TRUE(n.edge.wait_info(1, ">" + text + "<"));  // fanned out either way
  };
  auto stored_texts = [&] {
    std::vector<storage::message_record> stored;
    EXPECT_TRUE(n.store->messages().read_from(id, 1, 100, &stored).is_ok());
    std::vector<std::string> texts;
    for (auto& m : stored) texts.push_back(m.text);
    return texts;
  };
  post("kept one");
  set_history(false);
  post("live only");
  set_history(true);
  post("kept two");
  EXPECT_EQ(stored_texts(), (std::vector<std::string>{"kept one", "kept two"}));
}

// A node stopped while its rooms are busy: members leave (rooms handle their parts, send
// notices, retire) at the moment the node stops, and posts are still in flight. Stop must
// wait for every actor and return; nothing they read goes first (this crashed when the
// context's handles were reset under rooms still handling parts).
TEST(Actors, NodeStopsWhileRoomsHandlePartsAndPosts) {
  for (int round = 0; round < 3; ++round) {
    temp_dir dir("actors");
    auto n = std::make_unique<node>(dir.path());
    std::vector<std::string> rooms;
    for (int r = 0; r < 3; ++r) rooms.push_back(n->make_room("Busy" + std::to_string(r)));
    const int members = 30;
    std::vector<caf::actor> s;
    for (int i = 0; i < members; ++i) {
      s.push_back(n->session(500 + i, "sip:busy" + std::to_string(i) + "@example.com"));
      for (auto& uri : rooms) send_cmd(s.back(), join_cmd(uri), next_txn++);
    }
    for (int i = 0; i < members; ++i)
      ASSERT_TRUE(n->edge.wait_count(500 + i, "rpl:join", rooms.size())) << "member " << i;
    for (int i = 0; i < members; ++i)
      for (auto& uri : rooms) send_cmd(s[i], post_cmd(uri, "last words"), next_txn++);
    // Everyone leaves while the posts are still being committed and fanned out...
    for (auto& a : s) caf::anon_send(a, actors::closed_atom::value, std::string("gone"));
    s.clear();
    n->sessions.clear();
    // ...and the node stops at once, from another thread so a hang fails instead of blocking.
    caf::actor_system* sys = n->sys.get();
    auto stopped = std::async(std::launch::async, [&] { n->server->stop(); });
    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready) << "stop never returned";
    EXPECT_EQ(sys->registry().running(), 0u) << "actors still running after stop";
    n.reset();
  }
}
