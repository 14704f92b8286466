#include "actors/web_session_actor.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/web_edge.h"
#include "log/log.h"
#include "pool/node_tag.h"
#include "protocol/webchat/web_wire.h"
#include "protocol/xccos/xccos_codec.h"
#include "text/utc_time.h"

namespace pchat::actors {
namespace {

struct web_state {
  std::shared_ptr<const server_context> ctx;
  web_edge* edge = nullptr;
  std::string user;
  web_link link;
  uint64_t dialog = 0;  // untagged (web_edge's)
  std::map<std::string, caf::actor> joined;  // room uri -> room
  // Pool: the newest seq the browser was sent per room, and, after a lost room was joined
  // again, the seq up to which its catch-up went (live messages up to it are not sent
  // twice). docs/WEB.md "In a pool".
  std::map<std::string, uint64_t> seen;
  std::map<std::string, uint64_t> caught_up_to;
  std::map<uint64_t, std::pair<std::string, int>> rejoin_timers;  // id -> (room uri, attempt)
  uint64_t timer_ids = 0;
  // What the open rooms' views show beside the messages: facts and the live roster.
  struct open_room {
    webchat::room_facts facts;
    std::set<std::string> members;
  };
  std::map<std::string, open_room> views;  // room uri -> (joined rooms only)
  struct post {
    std::string room, id;
  };
  std::unordered_map<uint64_t, post> posts;        // in flight, by untagged txn
  std::map<std::string, uint64_t> in_flight;       // room + "\n" + id -> txn
  bool closing = false;
  // Messages from the browser: a token bucket (kRate per second, kBurst at once), as the
  // SIP edge limits a user's requests; beyond it a message is refused, not queued.
  double tokens = kBurst;
  std::chrono::steady_clock::time_point refilled = std::chrono::steady_clock::now();
  static constexpr double kRate = 50, kBurst = 200;
  static constexpr size_t kMaxInFlight = 64;  // posts awaiting their room's answer
  static inline const char* name = "web_session";
};

using web_ptr = caf::stateful_actor<web_state>*;

// What the rooms see: ids tagged with this node's tag in a pool (pool/node_tag.h).
uint64_t tagged(web_ptr self, uint64_t id) {
  return self->state.ctx->tag == 0 ? id : pool::tag_id(self->state.ctx->tag, id);
}

void send(web_ptr self, std::string json) {
  if (!self->state.closing && self->state.link.send) self->state.link.send(std::move(json));
}

std::string describe(web_ptr self, const caf::error& err) {
  errc code;
  std::string reason;
  if (decode_error(err, &code, &reason)) return reason;
  if (err == caf::sec::request_timeout) return "the server did not answer in time; try again";
  return self->system().render(err);
}

// FNV-1a over (user, id) with two bases: the browser's post id becomes a stable post_id,
// the same for a retry, distinct between users.
storage::post_id derive_post_id(const std::string& user, const std::string& id) {
  auto fnv = [&](uint64_t h) {
    for (std::string_view part : {std::string_view("web"), std::string_view(user), std::string_view(id)}) {
      for (unsigned char c : part) h = (h ^ c) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;  // a separator no text byte of UTF-8 is
    }
    return h;
  };
  return {fnv(14695981039346656037ull), fnv(0x9e3779b97f4a7c15ull)};
}

webchat::message to_message(const std::string& room, const storage::message_record& m) {
  return {m.seq, room, m.author, utc::xccos_timestamp(m.ts_micros), m.text, {}};
}

void finish_post(web_ptr self, uint64_t txn, const std::function<void(const web_state::post&)>& fn) {
  auto& st = self->state;
  auto it = st.posts.find(txn);
  if (it == st.posts.end()) return;
  web_state::post p = std::move(it->second);
  st.posts.erase(it);
  st.in_flight.erase(p.room + "\n" + p.id);
  fn(p);
}

void fail_post(web_ptr self, uint64_t txn, const std::string& error, bool retry) {
  finish_post(self, txn, [&](const web_state::post& p) { send(self, webchat::encode_failed(p.room, p.id, error, retry)); });
}

// Pool: the browser was sent the room's message `seq` (room_lost's catch-up starts there).
void note_seen(web_ptr self, const std::string& uri, uint64_t seq) {
  if (!self->state.ctx->pool || seq == 0) return;
  uint64_t& s = self->state.seen[uri];
  s = std::max(s, seq);
}

webchat::room_facts facts_of(const join_result& r) {
  return {r.name, r.topic, r.description, r.can_post, r.post_refusal};
}

// "Load older": a page of the room's history before `before`; the room checks access now.
void handle_older(web_ptr self, const webchat::request& req) {
  auto& st = self->state;
  auto it = st.joined.find(req.room);
  if (it == st.joined.end())
    return send(self, webchat::encode_error("join " + req.room + " first", req.room));
  const std::string uri = req.room;
  const int n = req.history;
  self->request(it->second, st.ctx->request_timeout, backchat_atom::value, st.user, n, req.before)
      .then(
          [=](std::vector<storage::message_record>& msgs) {
            std::vector<webchat::message> page;
            for (auto& m : msgs) page.push_back(to_message(uri, m));
            // A full page that does not start at seq 1 may have more before it; a short one
            // reached the oldest message kept.
            bool more = static_cast<int>(page.size()) == n && !page.empty() && page.front().seq > 1;
            send(self, webchat::encode_older(uri, page, more));
          },
          [=](caf::error& err) {
            send(self,
                 webchat::encode_error("older messages not read: " + describe(self, err), uri));
          });
}

// Back-chat (newest `n`, or since `after`) and the joined message; then the room may send.
void send_joined(web_ptr self, const std::string& uri, const caf::actor& room, join_result r,
                 const webchat::request& req, bool fresh) {
  auto& st = self->state;
  int n = req.after ? webchat::kMaxHistory : req.history;
  auto done = [=](std::vector<storage::message_record> msgs) {
    std::vector<webchat::message> back;
    bool gap = false;
    for (auto& m : msgs)
      if (!req.after || m.seq > *req.after) back.push_back(to_message(uri, m));
    if (!back.empty()) note_seen(self, uri, back.back().seq);
    if (req.after && !msgs.empty() && static_cast<int>(msgs.size()) == n && msgs.front().seq > *req.after + 1)
      gap = true;
    auto& view = self->state.views[uri];
    if (fresh) view = {facts_of(r), {}};
    for (auto& m : r.members) view.members.insert(m.uri);
    std::vector<std::string> members(view.members.begin(), view.members.end());
    send(self, webchat::encode_joined(uri, view.facts, members, back, gap));
    // Only now may the room send this session posts and notices (as for rpl:join).
    if (fresh) self->send(room, ready_atom::value, caf::actor_cast<caf::actor>(self));
  };
  if (n == 0) return done({});
  self->request(room, st.ctx->request_timeout, backchat_atom::value, st.user, n)
      .then([=](std::vector<storage::message_record>& msgs) { done(std::move(msgs)); },
            [=](caf::error& err) {
              send(self, webchat::encode_error("back-chat not read: " + describe(self, err), uri));
              done({});
            });
}

// Asks the directory where the room is served and joins it there: ok(room, join_result&)
// or fail(error&), once.
template <class Ok, class Fail>
void lookup_and_join(web_ptr self, const std::string& uri, Ok ok, Fail fail) {
  auto& st = self->state;
  self->request(st.ctx->directory, st.ctx->request_timeout, lookup_atom::value, uri, st.user)
      .then(
          [=](caf::actor room) {
            auto& st = self->state;
            self->request(room, st.ctx->request_timeout, join_atom::value, st.user, tagged(self, st.dialog),
                          caf::actor_cast<caf::actor>(self))
                .then([=](join_result& r) { ok(room, r); }, fail);
          },
          fail);
}

void handle_join(web_ptr self, const webchat::request& req) {
  auto& st = self->state;
  const std::string uri = req.room;
  if (auto it = st.joined.find(uri); it != st.joined.end()) {
    // Joined already (a resume on this connection): back-chat only.
    join_result r;
    r.uri = uri;
    return send_joined(self, uri, it->second, std::move(r), req, false);
  }
  lookup_and_join(
      self, uri,
      [=](const caf::actor& room, join_result& r) {
        if (self->state.closing) return;
        self->state.joined[uri] = room;
        if (self->state.ctx->pool) self->monitor(room);  // room_lost
        send_joined(self, uri, room, std::move(r), req, true);
      },
      [=](caf::error& err) { send(self, webchat::encode_error("not joined: " + describe(self, err), uri)); });
}

void handle_post(web_ptr self, webchat::request& req) {
  auto& st = self->state;
  auto it = st.joined.find(req.room);
  if (it == st.joined.end()) {
    send(self, webchat::encode_failed(req.room, req.id, "join " + req.room + " before posting", false));
    return;
  }
  std::string key = req.room + "\n" + req.id;
  if (st.in_flight.count(key) > 0) return;  // the first send answers for both
  if (st.posts.size() >= web_state::kMaxInFlight) {
    send(self, webchat::encode_failed(req.room, req.id, "too many posts waiting for an answer; send it again", true));
    return;
  }
  uint64_t txn = st.edge->new_txn(st.dialog);
  st.posts.emplace(txn, web_state::post{req.room, req.id});
  st.in_flight.emplace(key, txn);
  // The room answers (through web_edge) within commit_timeout; this is the backstop.
  self->delayed_send(self, st.ctx->commit_timeout + st.ctx->request_timeout, web_timer_atom::value, txn);
  info_ticket ticket{tagged(self, txn), tagged(self, st.dialog), std::to_string(txn), "1"};
  self->request(it->second, caf::infinite, post_atom::value, st.user, std::move(req.text), std::string(),
                derive_post_id(st.user, req.id), std::move(ticket))
      .then([](caf::ok_atom) {},  // the room holds it (answers through web_edge)
            [=](caf::error& err) {
              // The room never took it (gone, or moved in a pool): not stored.
              fail_post(self, txn, "not stored: " + describe(self, err) + "; send it again", true);
            });
}

void handle_text(web_ptr self, const std::string& text) {
  auto& st = self->state;
  if (st.closing) return;
  auto now = std::chrono::steady_clock::now();
  st.tokens = std::min(web_state::kBurst,
                       st.tokens + web_state::kRate * std::chrono::duration<double>(now - st.refilled).count());
  st.refilled = now;
  if (st.tokens < 1) return send(self, webchat::encode_error("too many requests: slow down (50 per second)"));
  st.tokens -= 1;
  webchat::request req;
  if (auto s = webchat::decode_request(text, req); !s.is_ok()) return send(self, webchat::encode_error(s.reason()));
  // EnablePersistentChat (user > site > global) gates every request, as for SIP.
  if (!st.ctx->identities || !st.ctx->identities->current()->chat_enabled(st.user))
    return send(self, webchat::encode_error("Persistent Chat is not enabled for " + st.user, req.room, req.id));
  switch (req.kind) {
    case webchat::request_kind::rooms:
      self->request(st.ctx->directory, st.ctx->request_timeout, search_atom::value, std::string(), st.user)
          .then(
              [=](std::vector<room_view>& rooms) {
                std::vector<webchat::room_entry> out;
                for (auto& r : rooms)
                  if (!r.disabled) out.push_back({r.uri, r.name, r.description, r.user_count, r.is_private});
                send(self, webchat::encode_rooms(out));
              },
              [=](caf::error& err) { send(self, webchat::encode_error("rooms not listed: " + describe(self, err))); });
      return;
    case webchat::request_kind::join:
      return handle_join(self, req);
    case webchat::request_kind::part: {
      auto it = st.joined.find(req.room);
      if (it == st.joined.end()) {
        // Being joined again (pool, room_lost): the rejoin sees the view gone and leaves.
        if (st.views.erase(req.room) > 0) {
          st.seen.erase(req.room);
          st.caught_up_to.erase(req.room);
          return send(self, webchat::encode_parted(req.room));
        }
        return send(self, webchat::encode_error("not in room " + req.room, req.room));
      }
      auto room = it->second;
      st.joined.erase(it);
      st.views.erase(req.room);
      st.seen.erase(req.room);
      st.caught_up_to.erase(req.room);
      std::string uri = req.room;
      self->request(room, st.ctx->request_timeout, part_atom::value, caf::actor_cast<caf::actor>(self))
          .then([=](caf::ok_atom) { send(self, webchat::encode_parted(uri)); },
                [=](caf::error&) { send(self, webchat::encode_parted(uri)); });
      return;
    }
    case webchat::request_kind::post:
      return handle_post(self, req);
    case webchat::request_kind::older:
      return handle_older(self, req);
  }
}

// A post's answer from its room (web_edge): the 200 with its echo, a 200 or 503 alone, or a
// 200 with an XCCOS error reply.
void handle_answer(web_ptr self, uint64_t txn, int code, const std::string& body) {
  if (code != 200)
    return fail_post(self, txn, "not stored (the server could not write it); send it again", true);
  if (body.empty())  // stored earlier (a retry of a stored id), or no one to echo to
    return finish_post(self, txn, [&](const web_state::post& p) { send(self, webchat::encode_ack(p.room, p.id, 0)); });
  xccos::command cmd;
  if (xccos::decode(body, cmd).is_ok() && cmd.kind == xccos::command_kind::grpchat) {
    uint64_t seq = std::strtoull(cmd.envid.c_str(), nullptr, 10);
    return finish_post(self, txn, [&](const web_state::post& p) {
      note_seen(self, p.room, seq);
      send(self, webchat::encode_ack(p.room, p.id, seq));
      send(self, webchat::encode_message({seq, p.room, cmd.chat.author, cmd.chat.ts, cmd.chat.text, p.id}));
    });
  }
  xccos::reply_result r;
  if (xccos::decode_reply_result(body, r).is_ok() && r.code != 200)
    return fail_post(self, txn, r.text.empty() ? "refused (" + std::to_string(r.code) + ")" : r.text, r.code == 503);
  finish_post(self, txn, [&](const web_state::post& p) { send(self, webchat::encode_ack(p.room, p.id, 0)); });
}

// Who entered or left a room this session shows (the room's ntc:join / ntc:part).
void handle_roster_notice(web_ptr self, const std::string& body) {
  xccos::roster_notice n;
  if (!xccos::decode_roster_notice(body, n).is_ok()) return;
  auto it = self->state.views.find(n.room_uri);
  if (it == self->state.views.end()) return;
  if (n.joined ? it->second.members.insert(n.user_uri).second : it->second.members.erase(n.user_uri) > 0)
    send(self, webchat::encode_member(n.room_uri, n.user_uri, n.joined));
}

void handle_info(web_ptr self, const std::string& body) {
  xccos::command cmd;
  if (!xccos::decode(body, cmd).is_ok() || cmd.kind != xccos::command_kind::grpchat)
    return handle_roster_notice(self, body);
  uint64_t seq = std::strtoull(cmd.envid.c_str(), nullptr, 10);
  auto& st = self->state;
  // Right after a lost room's catch-up, the new room's early posts may repeat it.
  if (auto c = st.caught_up_to.find(cmd.chat.chan_uri); c != st.caught_up_to.end()) {
    if (seq != 0 && seq <= c->second) return;
    st.caught_up_to.erase(c);
  }
  note_seen(self, cmd.chat.chan_uri, seq);
  send(self, webchat::encode_message({seq, cmd.chat.chan_uri, cmd.chat.author, cmd.chat.ts, cmd.chat.text, {}}));
}

// Pool: the room actor of a joined room is gone (its node died, or it handed the room
// off): posts in flight to it fail (the page sends them again, same id: stored once), and
// the room is joined again where it is served now, silently; what the browser missed
// (stored after the newest seq it was sent) comes first, then the live messages.
void rejoin(web_ptr self, const std::string& uri, int attempt);

void room_lost(web_ptr self, const caf::actor_addr& room) {
  auto& st = self->state;
  std::vector<std::string> lost;
  for (auto it = st.joined.begin(); it != st.joined.end();)
    if (it->second.address() == room) {
      lost.push_back(it->first);
      it = st.joined.erase(it);
    } else {
      ++it;
    }
  if (lost.empty() || st.closing) return;
  std::vector<uint64_t> failed;
  for (auto& [txn, p] : st.posts)
    if (std::find(lost.begin(), lost.end(), p.room) != lost.end()) failed.push_back(txn);
  for (auto txn : failed) fail_post(self, txn, "the room moved to another server; send it again (stored once)", true);
  for (auto& uri : lost) rejoin(self, uri, 0);
}

void rejoin(web_ptr self, const std::string& uri, int attempt) {
  auto& st = self->state;
  if (st.closing || st.views.count(uri) == 0) return;  // parted meanwhile
  auto retry = [=](caf::error& err) {
    // Views change one node at a time (docs/POOL.md): 25 ms doubling, 8 tries (~2.6 s).
    if (attempt + 1 < 8) {
      uint64_t id = ++self->state.timer_ids;
      self->state.rejoin_timers[id] = {uri, attempt + 1};
      self->delayed_send(self, std::chrono::milliseconds(25 << attempt), session_timer_atom::value, id);
      return;
    }
    self->state.views.erase(uri);
    send(self, webchat::encode_removed(uri, "the room could not be joined again after its server went away (" +
                                                describe(self, err) + "); open it again"));
  };
  lookup_and_join(
      self, uri,
      [=](const caf::actor& room, join_result&) {
        auto& st = self->state;
        if (st.closing || st.views.count(uri) == 0) {  // parted (or closed) meanwhile
          caf::anon_send(room, part_atom::value, caf::actor_cast<caf::actor>(self));
          return;
        }
        st.joined[uri] = room;
        self->monitor(room);
        uint64_t after = st.seen.count(uri) ? st.seen[uri] : 0;
        auto ready = [=] { self->send(room, ready_atom::value, caf::actor_cast<caf::actor>(self)); };
        self->request(room, st.ctx->request_timeout, backchat_atom::value, st.user,
                      static_cast<int>(webchat::kMaxHistory))
            .then(
                [=](std::vector<storage::message_record>& msgs) {
                  for (auto& m : msgs)
                    if (m.seq > after) {
                      note_seen(self, uri, m.seq);
                      send(self, webchat::encode_message(to_message(uri, m)));
                    }
                  self->state.caught_up_to[uri] = self->state.seen[uri];
                  ready();
                },
                [=](caf::error&) { ready(); });
      },
      retry);
}

caf::behavior web_session(web_ptr self, std::shared_ptr<const server_context> ctx, web_edge* edge, std::string user,
                          web_link link) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.edge = edge;
  st.user = std::move(user);
  st.link = std::move(link);
  st.dialog = edge->open_dialog(caf::actor_cast<caf::actor>(self), st.user);
  self->attach_functor([edge, d = st.dialog] { edge->close_dialog(d); });
  send(self, webchat::encode_hello(st.user));
  if (st.ctx->pool) self->set_down_handler([=](caf::down_msg& dm) { room_lost(self, dm.source); });
  return {
      [=](web_text_atom, const std::string& text) { handle_text(self, text); },
      [=](web_answer_atom, uint64_t txn, int32_t code, const std::string& body) { handle_answer(self, txn, code, body); },
      [=](web_info_atom, const std::string& body) { handle_info(self, body); },
      [=](web_timer_atom, uint64_t txn) {
        fail_post(self, txn, "no answer from the room in time; send it again (the same id is stored once)", true);
      },
      [=](room_info_atom, const join_result& r) {
        auto it = self->state.views.find(r.uri);
        if (it == self->state.views.end()) return;
        it->second.facts = facts_of(r);
        send(self, webchat::encode_room_info(r.uri, it->second.facts));
      },
      // A pool room stopping after a hand-off says the last seq it sent; the page resumes
      // by its own last seq (docs/WEB.md "Resume"), so it is not needed here.
      [=](ready_atom, const std::string&, uint64_t) {},
      [=](session_timer_atom, uint64_t id) {  // a rejoin's next try
        auto it = self->state.rejoin_timers.find(id);
        if (it == self->state.rejoin_timers.end()) return;
        auto [uri, attempt] = it->second;
        self->state.rejoin_timers.erase(it);
        rejoin(self, uri, attempt);
      },
      [=](kicked_atom, const std::string& room_uri) {
        self->state.views.erase(room_uri);
        if (self->state.joined.erase(room_uri) > 0)
          send(self, webchat::encode_removed(room_uri, "you no longer have access to this room"));
      },
      [=](closed_atom, const std::string& reason) {
        auto& st = self->state;
        if (st.closing) return;
        if (reason == kServerStopping) {  // going away, not signed out: the page comes back
          if (st.link.close) st.link.close(1001, reason);
        } else if (reason != "connection closed") {  // revoked or signed out: tell the browser, then close
          send(self, webchat::encode_closed(reason));
          if (st.link.close) st.link.close(1008, reason);
        }
        st.closing = true;
        // Anonymous: the room's ok must not come back to an actor that is gone (an error
        // to the room; session_actor.cpp part_quietly).
        for (auto& [uri, room] : st.joined) caf::anon_send(room, part_atom::value, caf::actor_cast<caf::actor>(self));
        st.joined.clear();
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_web_session_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                                   web_edge& edge, std::string user, web_link link) {
  return sys.spawn(web_session, std::move(ctx), &edge, std::move(user), std::move(link));
}

}  // namespace pchat::actors
