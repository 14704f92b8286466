#include "actors/session_actor.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "actors/directory_actor.h"
#include "actors/identity_registry.h"
#include "actors/info_answer.h"
#include "actors/messages.h"
#include "actors/post_id_source.h"
#include "actors/server_context.h"
#include "log/log.h"
#include "protocol/xccos/chat_uri.h"
#include "protocol/xccos/xccos_codec.h"
#include "text/utc_time.h"
#include "text/valid_text.h"

namespace pchat::actors {
namespace {

struct session_state {
  std::shared_ptr<const server_context> ctx;
  sip::dialog_info info;
  std::string user;
  std::map<std::string, caf::actor> joined;  // room uri -> room actor
  // The INFOs this session holds (messages.h, "Who answers an INFO"): each is answered
  // once, by finish(); those still held when the dialog closes are answered 481, so the
  // edge's in-flight count never keeps an INFO whose session is gone.
  std::unordered_set<uint64_t> pending;
  // Posts sent to a room whose handover is not confirmed yet (a bounce gives them back).
  size_t handovers = 0;
  bool closing = false;  // the dialog closed: quit once no handover is in flight
  uint64_t envid = 1;

  // ---- pool only (ctx->pool; docs/POOL.md "Dead owner"). Standalone none of this is used.
  // Every room this session talks to is monitored (counted: joined, plus each request in
  // flight to it); its down_msg (the node died, the room stopped) fails the requests in
  // flight to it at once (CAF never answers those) and joins the room again (room_lost).
  struct room_call {
    caf::actor_addr room;
    std::function<void(caf::error)> fail;
  };
  std::unordered_map<uint64_t, room_call> calls;  // by call id
  uint64_t call_ids = 0;
  std::unordered_map<caf::actor_addr, int> watched;  // monitored rooms: uses
  std::unordered_set<std::string> rejoining;         // lost rooms being joined again (uris)
  // The newest seq the client got from a room actor that handed its room off (it says so
  // as it stops): the rejoin asks for what followed. Used once (room_lost's rejoin).
  std::unordered_map<std::string, uint64_t> seen_at_move;
  std::unordered_map<uint64_t, std::function<void()>> timers;  // by id (session_timer_atom)
  uint64_t timer_ids = 0;
  // Posts handed to a room and not finished yet (docs/POOL.md "Dead owner"): a pool room
  // completes the post request once it answered the INFO (messages.h post_atom). Until
  // then the session keeps the post; if the room is lost (down, or it gives the INFO back:
  // errc::moved) the session joins the room's next actor and sends the post there, same
  // post id, same INFO transaction: the client sees a delay, not an error or a duplicate.
  struct held_post {
    std::string uri, text, extra, envid, seqid;
    storage::post_id pid;
    std::chrono::steady_clock::time_point deadline;  // no new send after it: answered 503
    int attempt = 0;      // sends so far; an error answering an earlier one is stale
    bool parked = false;  // waits for its room to be joined again
    uint64_t order = 0;   // arrival: parked posts go out again in the order the client sent them
    caf::actor_addr room;  // the room actor it was last sent to
  };
  std::unordered_map<uint64_t, held_post> held;  // by txn
  uint64_t held_arrivals = 0;
  static inline const char* name = "session";
};

using session_ptr = caf::stateful_actor<session_state>*;

// A lost room is looked up and joined again at most this many times, waiting
// kRejoinDelay x 2^attempt (at most kMaxRejoinDelay) between tries; a lookup the owner's
// node answers busy (its view of the pool is changing) is retried the same way.
constexpr int kRejoinAttempts = 8;
constexpr std::chrono::milliseconds kRejoinDelay{25};
constexpr std::chrono::milliseconds kMaxRejoinDelay{1000};

std::chrono::milliseconds retry_delay(int attempt) {
  return std::min(kMaxRejoinDelay, kRejoinDelay * (1 << std::min(attempt, 10)));
}

// Runs `fn` in this actor after `delay`.
void after(session_ptr self, std::chrono::milliseconds delay, std::function<void()> fn) {
  uint64_t id = ++self->state.timer_ids;
  self->state.timers.emplace(id, std::move(fn));
  self->delayed_send(self, delay, session_timer_atom::value, id);
}

// Pool: one more use of `room` (monitored from the first on).
void watch(session_ptr self, const caf::actor& room) {
  if (self->state.watched[room.address()]++ == 0) self->monitor(room);
}

// Pool: one use of `room` less (not monitored after the last).
void release(session_ptr self, const caf::actor_addr& room) {
  auto& w = self->state.watched;
  auto it = w.find(room);
  if (it == w.end() || --it->second > 0) return;
  self->demonitor(room);
  w.erase(it);
}

void set_joined(session_ptr self, const std::string& uri, const caf::actor& room) {
  auto& st = self->state;
  auto [it, fresh] = st.joined.try_emplace(uri, room);
  if (!fresh) {
    if (it->second == room) return;
    if (st.ctx->pool) release(self, it->second.address());
    it->second = room;
  }
  if (st.ctx->pool) watch(self, room);
}

void drop_joined(session_ptr self, std::map<std::string, caf::actor>::iterator it) {
  if (self->state.ctx->pool) release(self, it->second.address());
  self->state.joined.erase(it);
}

// Asks `room` and runs on_ok(Answer&) or on_err(caf::error&) once. Pool: the room is
// monitored meanwhile, and its loss runs on_err(request_receiver_down) at once.
template <class Answer, class Timeout, class OnOk, class OnErr, class... Ts>
void ask_room(session_ptr self, const caf::actor& room, Timeout timeout, OnOk on_ok, OnErr on_err,
              Ts&&... xs) {
  auto& st = self->state;
  if (!st.ctx->pool) {
    self->request(room, timeout, std::forward<Ts>(xs)...).then(std::move(on_ok), std::move(on_err));
    return;
  }
  uint64_t id = ++st.call_ids;
  auto addr = room.address();
  watch(self, room);
  st.calls.emplace(id, session_state::room_call{addr, [=](caf::error err) mutable { on_err(err); }});
  self->request(room, timeout, std::forward<Ts>(xs)...)
      .then(
          [=](Answer& a) mutable {
            if (self->state.calls.erase(id) == 0) return;  // failed already (room lost)
            release(self, addr);
            on_ok(a);
          },
          [=](caf::error& err) mutable {
            if (self->state.calls.erase(id) == 0) return;
            release(self, addr);
            on_err(err);
          });
}

std::string reply_id_for(const xccos::command& cmd) {
  std::string id = cmd.id;
  if (id.rfind("cmd:", 0) == 0) return "rpl:" + id.substr(4);
  if (id == "grpchat") return "rpl:grpchat";
  return id.empty() ? "rpl:error" : "rpl:" + id;
}

xccos::reply_head head(session_ptr self, const xccos::command& cmd,
                       xccos::result_code code = xccos::result_code::ok, std::string text = {}) {
  xccos::reply_head h;
  h.id = reply_id_for(cmd);
  h.cmd_envid = cmd.envid;
  h.cmd_seqid = cmd.seqid.empty() ? "1" : cmd.seqid;
  h.code = code;
  h.text = std::move(text);
  h.envid = self->state.envid++;
  return h;
}

// The one place where this session answers an INFO it holds: the SIP response, then the
// reply INFO (info_answer.h). Every command holds its INFO until its work is done, so it
// counts against the edge's in-flight limits for as long as it costs the server something.
// An INFO no longer held (answered 481 at close) is not answered again.
void finish(session_ptr self, sip::txn_id txn, info_answer a) {
  auto& st = self->state;
  if (st.pending.erase(txn) == 0) return;
  send_answer(*st.ctx->edge, txn, st.info.id, std::move(a));
}

// The command is done: SIP 200 and its reply INFO.
void answer(session_ptr self, sip::txn_id txn, std::string body) {
  finish(self, txn, {200, std::move(body)});
}

// The command is refused with our own code (SIP 200, the code inside XCCOS).
void refuse(session_ptr self, sip::txn_id txn, const xccos::command& cmd, xccos::result_code code,
            std::string text) {
  answer(self, txn, xccos::encode_empty_reply(head(self, cmd, code, std::move(text))));
}

// The command failed with `err` (an actor's error, its timeout, a bounce).
void answer_error(session_ptr self, sip::txn_id txn, const xccos::command& cmd, const caf::error& err,
                  command_effect effect = command_effect::read) {
  finish(self, txn, error_answer(cmd.id, head(self, cmd), err, effect, self->system()));
}

// Ends the session once the dialog closed and no post is on its way to a room.
void quit_when_idle(session_ptr self) {
  if (self->state.closing && self->state.handovers == 0) self->quit();
}

// Looks the room up and joins it; retries once if the room actor retired meanwhile. In a
// pool, a lookup answered busy (the owner's view of the pool is changing) is retried too,
// after retry_delay, at most kRejoinAttempts times.
void join_room(session_ptr self, const std::string& uri, int attempt,
               std::function<void(caf::expected<join_result>)> done, int busy_attempt = 0) {
  auto& st = self->state;
  self->request(st.ctx->directory, st.ctx->request_timeout, lookup_atom::value, uri, st.user)
      .then(
          [=](caf::actor room) {
            auto& st = self->state;
            ask_room<join_result>(
                self, room, st.ctx->request_timeout,
                [=](join_result& r) {
                  set_joined(self, uri, room);
                  done(std::move(r));
                },
                [=](caf::error& err) {
                  if (err == caf::sec::request_receiver_down && attempt == 0) {
                    join_room(self, uri, 1, done, busy_attempt);
                    return;
                  }
                  done(std::move(err));
                },
                join_atom::value, st.user, st.info.id, caf::actor_cast<caf::actor>(self));
          },
          [=](caf::error& err) {
            errc code;
            std::string reason;
            if (self->state.ctx->pool && busy_attempt + 1 < kRejoinAttempts &&
                decode_error(err, &code, &reason) && code == errc::busy) {
              after(self, retry_delay(busy_attempt), [=] { join_room(self, uri, attempt, done, busy_attempt + 1); });
              return;
            }
            done(std::move(err));
          });
}

void rejoin(session_ptr self, const std::string& uri, int attempt);

// ---- pool: held posts (session_state::held)

void send_held(session_ptr self, uint64_t txn);
void send_parked(session_ptr self, const std::string& uri);

// A post handed to a room comes back unacknowledged: its INFO is the session's again and
// is answered `err` (481 when the dialog closed).
void take_back_post(session_ptr self, uint64_t txn, const std::string& envid, const std::string& seqid,
                    const caf::error& err) {
  auto& st = self->state;
  st.handovers--;
  st.pending.insert(txn);
  if (st.closing) {
    finish(self, txn, {481, {}});
  } else {
    xccos::command post;
    post.id = "grpchat";
    post.envid = envid;
    post.seqid = seqid;
    answer_error(self, txn, post, err, command_effect::write);
  }
  quit_when_idle(self);
}

// A held post ends unacknowledged here (take_back_post).
void drop_held(session_ptr self, uint64_t txn, const caf::error& err) {
  auto& st = self->state;
  auto it = st.held.find(txn);
  if (it == st.held.end()) return;
  session_state::held_post h = std::move(it->second);
  st.held.erase(it);
  take_back_post(self, txn, h.envid, h.seqid, err);
  // Newer posts that waited behind this one need not wait any longer.
  if (!st.closing && st.joined.count(h.uri) > 0) send_parked(self, h.uri);
}

// A parked post tries again: to its room if joined, else once the join running for it is
// done (rejoin sends it), else a join is started for it.
void resume_held(session_ptr self, uint64_t txn) {
  auto& st = self->state;
  auto it = st.held.find(txn);
  if (it == st.held.end() || !it->second.parked) return;
  const std::string uri = it->second.uri;
  if (st.joined.count(uri) > 0) return send_parked(self, uri);  // with the room's others, in order
  if (st.rejoining.count(uri) > 0 || st.closing) return;
  st.rejoining.insert(uri);
  rejoin(self, uri, 0);
}

// The room of `uri` is joined again: its parked posts go there, oldest first (the room
// stores them in the order it gets them; `held` is unordered), up to one behind an older
// post still in flight to another room actor: a room being left may give a newer post
// back at once and an older one only when its commit settles (lose_room), so the newer
// ones wait until that one is finished or parked too.
void send_parked(session_ptr self, const std::string& uri) {
  auto& st = self->state;
  auto j = st.joined.find(uri);
  if (j == st.joined.end()) return;
  const caf::actor_addr room = j->second.address();
  std::vector<std::pair<uint64_t, uint64_t>> held;  // (order, txn)
  for (auto& [txn, h] : st.held)
    if (h.uri == uri) held.emplace_back(h.order, txn);
  std::sort(held.begin(), held.end());
  for (auto& p : held) {
    auto it = st.held.find(p.second);
    if (it == st.held.end()) continue;
    if (!it->second.parked) {
      if (it->second.room != room) return;
      continue;
    }
    send_held(self, p.second);
    if (st.joined.count(uri) == 0) return;
  }
}

// True while a post to `uri` waits to be sent again: a newer one waits behind it.
bool has_parked(const session_state& st, const std::string& uri) {
  for (auto& [txn, h] : st.held)
    if (h.parked && h.uri == uri) return true;
  return false;
}

// The room of `uri` could not be joined again: its parked posts end with `err`.
void drop_parked(session_ptr self, const std::string& uri, const caf::error& err) {
  std::vector<uint64_t> txns;
  for (auto& [txn, h] : self->state.held)
    if (h.parked && h.uri == uri) txns.push_back(txn);
  for (auto txn : txns) drop_held(self, txn, err);
}

// Leaves `room` without waiting for its answer. Sent anonymously: the room answers a part
// with ok, and an ok this session does not expect would be dropped with an error sent back,
// which stops the room (CAF's default error handler), e.g. one still handing itself off.
void part_quietly(session_ptr self, const caf::actor& room) {
  caf::anon_send(room, part_atom::value, caf::actor_cast<caf::actor>(self));
}

// Send `attempt` of post `txn`, to `room`, failed with `err`.
void held_failed(session_ptr self, uint64_t txn, int attempt, const caf::error& err) {
  auto& st = self->state;
  auto it = st.held.find(txn);
  if (it == st.held.end() || it->second.attempt != attempt) return;  // finished, or sent again
  auto& h = it->second;
  errc code;
  std::string reason;
  bool moved = decode_error(err, &code, &reason) && code == errc::moved;
  bool retry = !st.closing && std::chrono::steady_clock::now() < h.deadline &&
               (moved || err == caf::sec::request_receiver_down || err == caf::sec::request_timeout);
  if (!retry) return drop_held(self, txn, err);
  // Moved: the room actor serves its room no more and stops once its writes settle. The
  // session stays its member until then (it is not parted): as it stops it says what the
  // client got (seen_at_move), and its down_msg joins the room's next actor (room_lost),
  // which sends what followed, then the parked posts.
  h.parked = true;
  PCHAT_LOG(info, "session", "post not finished by its room; sending it again",
            "user=" + st.user + " room=" + log::quote(h.uri) + " attempt=" + std::to_string(attempt) +
                " post_id=" + std::to_string(h.pid.origin) + ":" + std::to_string(h.pid.counter) +
                " error=" + log::quote(moved ? reason : self->system().render(err)));
  // Later, not now: a lost room's down handler marks the room as being joined again after
  // failing what was in flight to it.
  after(self, retry_delay(attempt - 1), [=] { resume_held(self, txn); });
}

void send_held(session_ptr self, uint64_t txn) {
  auto& st = self->state;
  auto it = st.held.find(txn);
  if (it == st.held.end()) return;
  auto& h = it->second;
  auto j = st.joined.find(h.uri);
  if (j == st.joined.end()) {
    if (st.rejoining.count(h.uri) > 0 && !st.closing) {
      h.parked = true;
      return;
    }
    return drop_held(self, txn, make_error(errc::not_joined, "join " + h.uri + " before posting"));
  }
  h.parked = false;
  int attempt = ++h.attempt;
  caf::actor room = j->second;
  h.room = room.address();
  ask_room<caf::ok_atom>(
      self, room, st.ctx->commit_timeout + st.ctx->request_timeout,
      [=](caf::ok_atom) {  // the INFO is answered (by this send or an earlier one)
        auto& st = self->state;
        auto it = st.held.find(txn);
        if (it == st.held.end()) return;
        const std::string uri = it->second.uri;
        st.held.erase(it);
        st.handovers--;
        // Newer posts that waited behind this one (send_parked) go now.
        if (!st.closing && st.joined.count(uri) > 0) send_parked(self, uri);
        quit_when_idle(self);
      },
      [=](caf::error& err) { held_failed(self, txn, attempt, err); }, post_atom::value, st.user, h.text,
      h.extra, h.pid, info_ticket{txn, st.info.id, h.envid, h.seqid});
}

// Pool: takes a post's INFO (handed to the room, kept until it is answered). A room being
// joined again gets it once joined.
void hold_post(session_ptr self, sip::txn_id txn, xccos::command& cmd) {
  auto& st = self->state;
  st.pending.erase(txn);
  st.handovers++;
  session_state::held_post h;
  h.uri = cmd.chat.chan_uri;
  h.text = std::move(cmd.chat.text);
  h.extra = std::move(cmd.chat.extra_xml);
  h.envid = cmd.envid;
  h.seqid = cmd.seqid;
  h.pid = st.ctx->post_ids->next();
  auto window = st.ctx->request_timeout;
  h.deadline = std::chrono::steady_clock::now() + window;
  h.order = ++st.held_arrivals;
  // Behind any older post to the room: send_parked sends it after them, never overtaking
  // one, and not at all while an older one is still with another room actor.
  h.parked = true;
  const std::string uri = h.uri;
  st.held.emplace(txn, std::move(h));
  // A post parked past its window is not acknowledged: 503, the client sends it again.
  after(self, window, [=] {
    auto it = self->state.held.find(txn);
    if (it != self->state.held.end() && it->second.parked)
      drop_held(self, txn, make_error(errc::busy, "the room " + it->second.uri +
                                                      " moved to another server and did not take the post in time; "
                                                      "it was not acknowledged, send it again"));
  });
  send_parked(self, uri);
}

// Pool: the room `addr` is gone (its node died: exit_reason::remote_link_unreachable; or
// it stopped). What was in flight to it fails now, and every room this session had joined
// there is joined again in the background (the client keeps it open and is told nothing).
// The place where a lost room's held posts are sent again (failover) hooks in.
void room_lost(session_ptr self, const caf::actor_addr& addr, const caf::error& reason) {
  auto& st = self->state;
  st.watched.erase(addr);  // a down_msg ends the monitor
  std::vector<std::function<void(caf::error)>> failed;
  for (auto it = st.calls.begin(); it != st.calls.end();)
    if (it->second.room == addr) {
      failed.push_back(std::move(it->second.fail));
      it = st.calls.erase(it);
    } else {
      ++it;
    }
  std::vector<std::string> lost;
  for (auto it = st.joined.begin(); it != st.joined.end();)
    if (it->second.address() == addr) {
      lost.push_back(it->first);
      it = st.joined.erase(it);
    } else {
      ++it;
    }
  if (!failed.empty() || !lost.empty())
    PCHAT_LOG(info, "session", "room lost; requests failed, joining again",
              "user=" + st.user + " failed=" + std::to_string(failed.size()) + " rooms=" +
                  std::to_string(lost.size()) + " reason=" + log::quote(self->system().render(reason)));
  for (auto& f : failed) f(caf::make_error(caf::sec::request_receiver_down));
  if (st.closing) return;
  for (auto& uri : lost) {
    st.rejoining.insert(uri);
    rejoin(self, uri, 0);
  }
}

// Joins a lost room again, silently (no reply INFO: the client never left it).
void rejoin(session_ptr self, const std::string& uri, int attempt) {
  join_room(self, uri, 0, [=](caf::expected<join_result> r) {
    auto& st = self->state;
    bool wanted = st.rejoining.count(uri) > 0 && !st.closing;
    if (r) {
      auto it = st.joined.find(uri);
      if (it == st.joined.end()) return;
      if (!wanted) {  // parted or closed meanwhile
        part_quietly(self, it->second);
        drop_joined(self, it);
        return;
      }
      st.rejoining.erase(uri);
      // Rejoined: the new room actor sends this client what it missed while its room moved
      // (what followed the seq the old room said the client got, or, not told, what the
      // new room fanned out before the join).
      if (auto seen = st.seen_at_move.find(uri); seen != st.seen_at_move.end()) {
        self->send(it->second, ready_atom::value, caf::actor_cast<caf::actor>(self), seen->second);
        st.seen_at_move.erase(seen);
      } else {
        self->send(it->second, ready_atom::value, caf::actor_cast<caf::actor>(self), true);
      }
      send_parked(self, uri);
      return;
    }
    if (!wanted) return;
    errc code;
    std::string reason;
    bool final = attempt + 1 >= kRejoinAttempts ||
                 (decode_error(r.error(), &code, &reason) &&
                  (code == errc::not_found || code == errc::forbidden));
    if (final) {
      st.rejoining.erase(uri);
      st.seen_at_move.erase(uri);
      drop_parked(self, uri, r.error());
      PCHAT_LOG(warn, "session", "a lost room could not be joined again; the client must rejoin it",
                "user=" + st.user + " room=" + log::quote(uri) +
                    " error=" + log::quote(self->system().render(r.error())));
      return;
    }
    after(self, retry_delay(attempt), [=] { rejoin(self, uri, attempt + 1); });
  });
}

void handle_join(session_ptr self, sip::txn_id txn, const xccos::command& cmd) {
  struct gather {
    std::vector<xccos::joined_room> joined;
    std::vector<std::string> failed;
    caf::error first_error;
    size_t remaining;
  };
  auto g = std::make_shared<gather>();
  g->remaining = cmd.rooms.size();
  bool batch = cmd.kind == xccos::command_kind::bjoin;
  for (auto& ref : cmd.rooms) {
    std::string uri = ref.uri;
    join_room(self, uri, 0, [=](caf::expected<join_result> r) {
      if (r) {
        xccos::joined_room j;
        j.uri = r->uri;
        j.name = r->name;
        j.topic = r->topic;
        for (auto& m : r->members) j.members.push_back({m.uri, m.manager});
        g->joined.push_back(std::move(j));
      } else {
        g->failed.push_back(uri);
        if (!g->first_error) g->first_error = r.error();
      }
      if (--g->remaining > 0) return;
      if (!batch && g->joined.empty()) {
        answer_error(self, txn, cmd, g->first_error);
        return;
      }
      answer(self, txn, xccos::encode_join_reply(head(self, cmd), g->joined, g->failed));
      // Only now may the rooms send this client notices and posts (see room_actor).
      if (self->state.closing) return;
      for (auto& j : g->joined)
        if (auto it = self->state.joined.find(j.uri); it != self->state.joined.end())
          self->send(it->second, ready_atom::value, caf::actor_cast<caf::actor>(self));
    });
  }
}

void handle_command(session_ptr self, sip::txn_id txn, xccos::command& cmd) {
  auto& st = self->state;
  using K = xccos::command_kind;
  const auto timeout = st.ctx->request_timeout;
  // EnablePersistentChat (user > site > global) gates every command.
  if (auto ids = st.ctx->identities ? st.ctx->identities->current() : nullptr; !ids || !ids->chat_enabled(st.user)) {
    refuse(self, txn, cmd, xccos::result_code::forbidden,
           "Persistent Chat is not enabled for " + st.user +
               (ids && !ids->known_user(st.user) ? " (not in the user directory)" : ""));
    return;
  }
  // From here every path answers the INFO exactly once (finish()), when the command's work
  // is done, including when an actor it asked does not answer in time; or hands it over.
  switch (cmd.kind) {
    case K::requri:
      answer(self, txn, xccos::encode_requri_reply(head(self, cmd), st.info.chat_uri));
      return;
    case K::getserverinfo: {
      xccos::server_info si;
      si.domain = st.ctx->domain;
      si.info_type = cmd.info_type;
      si.server_time = utc::xccos_timestamp(utc::now_micros());
      si.message_size_limit = static_cast<int>(xccos::kMaxChatBytes);
      si.search_limit = static_cast<int>(kMaxSearchResults);
      si.root_uri = xccos::category_uri(st.ctx->domain, "root");
      si.db_version = "pchat-1";
      answer(self, txn, xccos::encode_serverinfo_reply(head(self, cmd), si));
      return;
    }
    case K::chansrch:
      self->request(st.ctx->directory, timeout, search_atom::value, cmd.criteria, st.user)
          .then(
              [=](std::vector<room_view>& rooms) {
                std::vector<xccos::room_summary> out;
                out.reserve(rooms.size());
                for (auto& r : rooms)
                  out.push_back({r.uri, r.name, r.description, r.user_count, r.is_private,
                                 r.file_post, r.invite, r.logged});
                answer(self, txn, xccos::encode_chansrch_reply(head(self, cmd), out));
              },
              [=](caf::error& err) { answer_error(self, txn, cmd, err); });
      return;
    case K::join:
    case K::bjoin:
      handle_join(self, txn, cmd);
      return;
    case K::part: {
      const std::string& uri = cmd.rooms.front().uri;
      auto it = st.joined.find(uri);
      if (it == st.joined.end()) {
        // A room being joined again after its node died: the rejoin parts it when done.
        st.seen_at_move.erase(uri);
        if (st.rejoining.erase(uri) > 0)
          return answer(self, txn, xccos::encode_part_reply(head(self, cmd), uri));
        refuse(self, txn, cmd, xccos::result_code::not_found, "not in room " + uri);
        return;
      }
      auto room = it->second;
      drop_joined(self, it);
      // Parted either way: the session no longer sends to the room (a room that did not
      // answer removes the session when it sees it down, or at its next post).
      ask_room<caf::ok_atom>(
          self, room, timeout,
          [=](caf::ok_atom) { answer(self, txn, xccos::encode_part_reply(head(self, cmd), uri)); },
          [=](caf::error&) { answer(self, txn, xccos::encode_part_reply(head(self, cmd), uri)); },
          part_atom::value, caf::actor_cast<caf::actor>(self));
      return;
    }
    case K::bccontext: {
      const std::string& uri = cmd.rooms.front().uri;
      auto it = st.joined.find(uri);
      if (it == st.joined.end()) {
        if (st.rejoining.count(uri) > 0)
          return refuse(self, txn, cmd, xccos::result_code::unavailable,
                        "the room " + uri + " is moving to another server; retry");
        refuse(self, txn, cmd, xccos::result_code::forbidden, "join " + uri + " first");
        return;
      }
      ask_room<std::vector<storage::message_record>>(
          self, it->second, timeout,
              [=](std::vector<storage::message_record>& msgs) {
                std::vector<xccos::chat_message> out;
                out.reserve(msgs.size());
                for (auto& m : msgs) {
                  // The encoder repairs (U+FFFD) what an older version stored unchecked; say so.
                  if (!text::valid(m.text) || !text::valid(m.author))
                    PCHAT_LOG(warn, "session", "back-chat repaired a stored message that is not valid text",
                              "room=" + log::quote(uri) + " seq=" + std::to_string(m.seq));
                  out.push_back({uri, m.author, utc::xccos_timestamp(m.ts_micros), m.text, m.extra_xml});
                }
                answer(self, txn, xccos::encode_backchat_reply(head(self, cmd), uri, out));
              },
              [=](caf::error& err) { answer_error(self, txn, cmd, err); },
              backchat_atom::value, st.user, cmd.history_count);
      return;
    }
    case K::grpchat: {
      auto it = st.joined.find(cmd.chat.chan_uri);
      if (it == st.joined.end()) {
        // A room being joined again after it was lost takes the post once joined; so does
        // one whose posts were given back (errc::moved) and wait to be sent again: the post
        // goes behind them.
        if (st.ctx->pool && (st.rejoining.count(cmd.chat.chan_uri) > 0 || has_parked(st, cmd.chat.chan_uri)))
          return hold_post(self, txn, cmd);
        return refuse(self, txn, cmd, xccos::result_code::forbidden,
                      "join " + cmd.chat.chan_uri + " before posting");
      }
      if (st.ctx->pool) return hold_post(self, txn, cmd);
      // The post's INFO is handed over to the room (messages.h, "Who answers an INFO"):
      // it answers the 200 once the post is durable, before its fan-out, and every refusal.
      // Identity comes from the dialog, never from the XML's author attribute.
      st.pending.erase(txn);
      st.handovers++;
      info_ticket ticket{txn, st.info.id, cmd.envid, cmd.seqid};
      // No timeout: the room answers the handover itself; in a pool its loss fails it.
      ask_room<caf::ok_atom>(
          self, it->second, caf::infinite,
              [=](caf::ok_atom) {  // the room holds it now
                self->state.handovers--;
                quit_when_idle(self);
              },
              [=, envid = cmd.envid, seqid = cmd.seqid](caf::error& err) {
                // The room never held it (it was gone): the INFO is ours again.
                take_back_post(self, txn, envid, seqid, err);
              },
              post_atom::value, st.user, std::move(cmd.chat.text), std::move(cmd.chat.extra_xml),
              st.ctx->post_ids->next(), std::move(ticket));
      return;
    }
    case K::getinv: {
      // "Everything after the newest invite id the client names", batched.
      uint64_t after = 0;
      for (auto& inv : cmd.invites) after = std::max<uint64_t>(after, std::strtoull(inv.invite_id.c_str(), nullptr, 10));
      self->request(st.ctx->reader, timeout, rdinv_atom::value, st.user, after)
          .then(
              [=](std::vector<storage::invitation_record>& found, std::vector<std::string>& names) {
                auto& st = self->state;
                std::vector<xccos::invitation> out;
                for (size_t i = 0; i < found.size() && i < names.size(); ++i) {
                  if (names[i].empty()) continue;  // room removed since
                  auto& f = found[i];
                  out.push_back({std::to_string(f.id), st.ctx->domain, xccos::room_uri(st.ctx->domain, f.room_id),
                                 names[i], f.inviter, utc::xccos_timestamp(f.ts_micros)});
                }
                answer(self, txn, xccos::encode_getinv_reply(head(self, cmd), out));
              },
              [=](caf::error& err) { answer_error(self, txn, cmd, err); });
      return;
    }
    case K::getpref:
      self->request(st.ctx->reader, timeout, rdpref_atom::value, st.user, cmd.pref_label)
          .then(
              [=](std::string& content) {
                xccos::pref_value p;
                p.label = cmd.pref_label;
                p.seqid = cmd.pref_seqid;
                p.content = std::move(content);
                answer(self, txn, xccos::encode_getpref_reply(head(self, cmd), p));
              },
              [=](caf::error& err) { answer_error(self, txn, cmd, err); });
      return;
    case K::setpref:
      self->request(st.ctx->commit, st.ctx->commit_timeout, set_pref_atom::value, st.user,
                    cmd.pref_label, cmd.pref_content)
          .then(
              [=](uint64_t) {
                xccos::pref_value p{cmd.pref_label, cmd.pref_seqid, {}};
                answer(self, txn, xccos::encode_getpref_reply(head(self, cmd), p));
              },
              [=](caf::error& err) { answer_error(self, txn, cmd, err, command_effect::write); });
      return;
    case K::nodespermcreatechild:
      // The client asks whether to offer "create a room": yes when the user is a Creator
      // in a category whose scope includes them (rooms are made on the /manage page).
      self->request(st.ctx->directory, timeout, list_categories_atom::value)
          .then(
              [=](std::vector<storage::category_record>& cats) {
                auto& st = self->state;
                bool creator = false;
                if (auto ids = st.ctx->identities ? st.ctx->identities->current() : nullptr)
                  for (auto& c : cats)
                    creator = creator || (ids->in_scope(st.user, c) && ids->matches(c.creators, st.user));
                answer(self, txn, xccos::encode_empty_reply(
                                      creator ? head(self, cmd)
                                              : head(self, cmd, xccos::result_code::forbidden,
                                                     st.user + " is not a Creator in any category")));
              },
              [=](caf::error& err) { answer_error(self, txn, cmd, err); });
      return;
    case K::unknown:
      refuse(self, txn, cmd, xccos::result_code::bad_request, "unsupported command " + cmd.id);
      return;
  }
  // A command kind added to the codec but not here: answer rather than hold the INFO.
  refuse(self, txn, cmd, xccos::result_code::bad_request, "unsupported command " + cmd.id);
}

caf::behavior session_actor(session_ptr self, std::shared_ptr<const server_context> ctx,
                            sip::dialog_info info) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.info = std::move(info);
  st.user = st.info.user_uri;
  if (st.ctx->pool)
    self->set_down_handler([=](caf::down_msg& dm) { room_lost(self, dm.source, dm.reason); });
  return {
      [=](info_atom, uint64_t txn, const std::string& body) {
        self->state.pending.insert(txn);
        if (self->state.closing) return finish(self, txn, {481, {}});
        xccos::command cmd;
        auto status = xccos::decode(body, cmd);
        if (!status.is_ok()) {
          PCHAT_LOG(info, "session", "rejected XCCOS command",
                    "user=" + self->state.user + " reason=" + log::quote(status.reason()));
          refuse(self, txn, cmd, xccos::result_code::bad_request, status.reason());
          return;
        }
        handle_command(self, txn, cmd);
      },
      // A joined room actor that is stopping (handed off) says what the client got from it.
      // Its down_msg may come first (CAF sends it with high priority): then the room is
      // being joined again, and the join (two requests away) reads this in time.
      [=](ready_atom, const std::string& room_uri, uint64_t seen) {
        auto& st = self->state;
        auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto it = st.joined.find(room_uri);
        if ((it != st.joined.end() && it->second.address() == from) || st.rejoining.count(room_uri) > 0)
          st.seen_at_move[room_uri] = seen;
      },
      [=](kicked_atom, const std::string& room_uri) {
        if (auto it = self->state.joined.find(room_uri); it != self->state.joined.end()) drop_joined(self, it);
      },
      [=](room_info_atom, const join_result&) {},  // XCCOS has no notice for it (messages.h)
      [=](session_timer_atom, uint64_t id) {
        auto it = self->state.timers.find(id);
        if (it == self->state.timers.end()) return;
        auto fn = std::move(it->second);
        self->state.timers.erase(it);
        fn();
      },
      [=](closed_atom, const std::string&) {
        auto& st = self->state;
        for (auto& [uri, room] : st.joined) part_quietly(self, room);
        st.joined.clear();
        st.rejoining.clear();
        st.seen_at_move.clear();
        st.timers.clear();
        st.closing = true;
        {
          std::vector<uint64_t> parked;
          for (auto& [txn, h] : st.held)
            if (h.parked) parked.push_back(txn);
          for (auto txn : parked) drop_held(self, txn, caf::make_error(caf::sec::request_receiver_down));
        }
        while (!st.pending.empty()) finish(self, *st.pending.begin(), {481, {}});
        quit_when_idle(self);
      },
  };
}

}  // namespace

caf::actor spawn_session_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                               sip::dialog_info info) {
  return sys.spawn(session_actor, std::move(ctx), std::move(info));
}

}  // namespace pchat::actors
