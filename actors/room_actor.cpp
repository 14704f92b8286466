#include "actors/room_actor.h"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "actors/commit_actor.h"
#include "actors/identity_registry.h"
#include "actors/info_answer.h"
#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/node_metrics.h"
#include "actors/pool_view.h"
#include "actors/server_context.h"
#include "compliance/backchat_content.h"
#include "log/log.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/chat_uri.h"
#include "protocol/xccos/xccos_codec.h"
#include "text/utc_time.h"

namespace pchat::actors {
namespace {

struct member {
  caf::actor session;
  uint64_t dialog = 0;
  std::string user;
  bool manager = false;
  // False until the session has sent its rpl:join/bjoin (ready_atom): until then the
  // client does not know the room, so notices and posts for it would be dropped (SIPE
  // ignores notices for rooms it has not opened). `snapshot` is the roster it was given,
  // to send the difference when it becomes ready.
  bool ready = false;
  std::vector<std::string> snapshot;
  // Posts fanned out between its join and its ready: the client asked to join before they
  // were posted, so it must get them; sent in order when it becomes ready. Without this a
  // post taken in that window (a room that writes nothing relays at once) is lost to it.
  // With each, the seq of a stored post fanned out late (redeliver), else 0.
  std::vector<std::pair<uint64_t, std::shared_ptr<const std::string>>> early;
  // Pool, for a session that joins again silently after its room was lost (messages.h
  // ready_atom): how many posts this room actor had fanned out (room_state::pool::fanned)
  // and the newest seq it held (the back-chat cache) when the member joined. The member
  // missed those on the lost room; they are sent before `early` (make_ready).
  uint64_t joined_at_fanned = 0;
  uint64_t joined_through = 0;
  // The newest seq its client had when it became ready (its back-chat, or what it got
  // where it was before); what this room fans out later follows it (tell_members_seen).
  uint64_t seen_at_ready = 0;
  // Joined again (with what it saw) before this room had read its history: what followed
  // is sent once it has (load_history).
  std::optional<uint64_t> catch_up_after;
  // Its right to post as last told (join_result, room_info_atom): told again when it changes.
  bool can_post = false;
};

// A member that never becomes ready (its session stops first) holds at most this many.
constexpr size_t kMaxEarlyPosts = 256;

struct post_id_hash {
  size_t operator()(const storage::post_id& p) const {
    return std::hash<uint64_t>{}(p.origin * 0x9e3779b97f4a7c15ull ^ p.counter);
  }
};

// The post ids of the room's newest kPostIdWindow posts (messages.h post_atom): a post
// sent again after its room was lost is answered, not stored twice.
class post_window {
 public:
  bool has(const storage::post_id& p) const { return ids_.count(p) > 0; }
  void add(const storage::post_id& p) {
    if (p.empty() || !ids_.insert(p).second) return;
    order_.push_back(p);
    if (order_.size() > kPostIdWindow) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
  }
  void assign(const std::vector<storage::post_id>& oldest_first) {
    ids_.clear();
    order_.clear();
    for (auto& p : oldest_first) add(p);
  }

 private:
  std::unordered_set<storage::post_id, post_id_hash> ids_;
  std::deque<storage::post_id> order_;
};

struct room_state {
  std::shared_ptr<const server_context> ctx;
  storage::room_record rec;
  storage::category_record category;  // rec's category, as the directory last told (its scope)
  std::string uri;
  uint64_t next_seq = 1;
  std::deque<storage::message_record> cache;  // the newest posts, at most cache_cap()
  std::unordered_map<caf::actor_addr, member> roster;
  std::unordered_map<std::string, int> user_sessions;  // a user may be in via several sessions
  std::vector<uint64_t> dialogs;  // fan-out targets, rebuilt when the roster changes
  bool dialogs_stale = true;
  bool roster_muted = false;      // above ParticipantUpdateLimit
  size_t in_flight = 0;           // posts (and admin chunks) waiting for their commit
  // Pool: this node no longer owns the room by its view (the owner returned and is rank 0
  // again, or this node is draining; docs/POOL.md "Handing back"). The room takes no new
  // post (it gives each back: errc::moved), finishes what it has in flight, then retires;
  // its members' sessions see it down and join the room's owner.
  bool handing_off = false;
  // The history was read (next_seq is the stored last + 1). Until then, and after a failed
  // read, posts and imports are refused: numbering from 1 would overwrite history.
  bool loaded = false;
  std::chrono::seconds reload_delay{1};  // doubles per failed read, up to kMaxReloadDelay
  std::string load_error;                // why the last read failed
  // How this room takes a post, decided when it starts (its history read, or not) and again
  // when its settings change (update_room_atom), never per post: accept_post follows it.
  struct post_plan {
    std::string refusal;           // not empty: every post is refused with this (busy)
    bool store = true;             // the category's ChatHistory: in the log and back-chat
    bool capture = false;          // compliance on: the CHAT event in the post's own write
  } plan;
  bool chat_history = true;  // the category's ChatHistory, as read at start or last updated
  // Writes sent to the commit actor and not answered yet, oldest first. One timer per room
  // (not one per request: CAF's per-request timeouts cost a clock entry each, a quarter of
  // the durable throughput) fails those older than commit_timeout; their late answers are
  // then ignored. A post's entry holds the post and its client's INFO (messages.h: the room
  // answers it); an admin write's holds what to do on failure.
  // A post's INFO and, in a pool, its session's post request (messages.h post_atom):
  // completed (ok_atom) once the INFO is answered, or failed errc::moved when the room gives
  // the INFO back unanswered (it no longer serves the room) for the session to re-send.
  struct held_info {
    info_ticket ticket;           // txn 0: no INFO (an announce)
    caf::response_promise done;   // pool only; standalone not pending
  };
  struct held_post {
    held_info info;
    caf::response_promise rp;  // an announce's requester (u64 seq), else not pending
    storage::message_record msg;
    bool stored = false;       // written to the log: goes into the back-chat cache
    // The same post (its post id) sent again while this one is being written: they get
    // this one's answer.
    std::vector<held_info> again;
    // Pool: the two confirmations a post needs before its 200 (docs/POOL.md).
    bool local_ok = false;     // this node's commit synced it
    bool shipped = false;      // the current follower synced it
  };
  struct pending_commit {
    uint64_t id;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(caf::error)> fail;  // admin writes; empty for a post
    held_post post;
  };
  std::deque<pending_commit> commits;
  post_window posted;  // post ids answered 200 (stored, or relayed with ChatHistory off)
  caf::actor_system* sys = nullptr;  // renders errors when answering a post
  uint64_t commit_ids = 0;
  bool commit_watch_armed = false;
  uint64_t idle_generation = 0;
  uint64_t envid = 1;
  // Pool mode (ctx->pool set; docs/POOL.md "Replicated room log"). Standalone rooms never
  // read any of this: their post path is the one above.
  struct pool_part {
    bool on = false;            // ctx->pool != nullptr
    uint64_t epoch = 0;         // our claim's epoch; 0 until claimed
    bool lost = false;          // a node refused our epoch: a newer owner exists
    caf::actor follower;        // the synced follower's replica (posts count it); or none
    caf::actor candidate;       // a follower being caught up (not counted yet)
    uint64_t generation = 0;    // grows with every follower change: late answers are ignored
    std::vector<caf::actor_addr> failed;  // replicas that failed; skipped until the retry
    bool retry_armed = false;
    bool released = false;      // handed off: our claim is deleted (docs/POOL.md "Handing back")
    bool releasing = false;     // that delete is in flight (retire sends no second one)
    bool release_retry = false; // it failed; retire runs again at the next pool_check
    // Posts taken while the room is not serving yet (its take-over runs again: the claim is
    // still held by the node handing the room over, or this node has no lease yet). They
    // wait, oldest first, and are taken once the room serves; refused (503) past
    // commit_timeout, given back when the room hands off.
    struct waiting_post {
      std::string user, text, extra;
      storage::post_id pid;
      held_info info;
      std::chrono::steady_clock::time_point deadline;
    };
    std::deque<waiting_post> waiting;
    // The newest posts this room actor fanned out (kMaxEarlyPosts), numbered by `fanned`
    // (posts fanned out so far): a member that joins again after its room was lost, and
    // does not know what it saw there, gets those from before its join (make_ready).
    // `late`: the seq of a stored post fanned out only now (redeliver), out of seq order;
    // a member that joins again knowing what it saw gets those too (make_ready).
    struct fanned_post {
      uint64_t n = 0;
      uint64_t late = 0;
      std::shared_ptr<const std::string> body;
    };
    std::deque<fanned_post> recent;
    uint64_t fanned = 0;
    // Post ids of the history this room actor read at its start and has not fanned out
    // itself: a post sent again by its session (its first owner died after storing it on
    // the follower, before its 200 and fan-out) is fanned out once here (redeliver).
    std::unordered_set<storage::post_id, post_id_hash> unfanned;
  } pool;
  static inline const char* name = "room";

  const std::vector<uint64_t>& targets() {
    if (dialogs_stale) {
      dialogs.clear();
      dialogs.reserve(roster.size());
      for (auto& [addr, m] : roster)
        if (m.ready) dialogs.push_back(m.dialog);
      dialogs_stale = false;
    }
    return dialogs;
  }

  // The settings applied live (live_settings.h), read where they are used: a change made
  // through the admin API or SIGHUP holds from the room's next join, post or back-chat.
  size_t cache_cap() const { return static_cast<size_t>(ctx->live->current()->chat.default_chat_history); }
  bool capture_on() const { return ctx->live->current()->compliance.enabled; }

  void update_mute() {
    size_t limit = static_cast<size_t>(ctx->live->current()->chat.participant_update_limit);
    if (!roster_muted && roster.size() > limit) roster_muted = true;
    else if (roster_muted && roster.size() * 5 < limit * 4) roster_muted = false;
  }

  // A room event with no store change of its own (join, part, back-chat): staged with the
  // commit actor's next group commit.
  void emit(storage::compliance_kind kind, const std::string& user) {
    if (!capture_on()) return;  // off costs nothing (server_context.h)
    actors::capture(*ctx, event(kind, user, 0, {}, 0));
  }

  // A BACKCHAT event holds the messages the user was sent (compliance/backchat_content.h).
  void emit_backchat(const std::string& user, const std::vector<storage::message_record>& returned) {
    if (!capture_on()) return;
    actors::capture(*ctx, event(storage::compliance_kind::backchat, user, 0,
                                compliance::backchat_content(returned), 0));
  }

  // This room's compliance record (ts 0: stamped when captured). Events that go with a
  // store change (a post, an admin rewrite) ride in that change's own synced write.
  storage::compliance_record event(storage::compliance_kind kind, const std::string& user,
                                   uint64_t id, const std::string& text, int64_t ts) const {
    storage::compliance_record e;
    e.kind = kind;
    e.ts_micros = ts;
    e.room_id = rec.id;
    e.room_name = rec.name;
    e.user_uri = user;
    e.message_id = id;
    e.text = text;
    return e;
  }

  // `user`'s access to this room as the identity registry says now (no registry: none).
  room_access access_of(const std::string& user) const {
    auto ids = ctx->identities ? ctx->identities->current() : nullptr;
    if (!ids) return {false, false, false, "access control is not configured"};
    return ids->access(user, rec, category);
  }

  // What a member is told of the room at its join and when the settings change (rinfo).
  join_result info_for(const std::string& user) const {
    join_result r;
    r.uri = uri;
    r.name = rec.name;
    r.topic = rec.topic.empty() ? rec.description : rec.topic;
    r.description = rec.description;
    room_access a = access_of(user);
    r.can_post = a.can_post;
    if (!a.can_post) r.post_refusal = a.reason;
    return r;
  }

  // Decides how posts are taken (post_plan) from what the room knows now: whether its
  // history was read, its type, its category's ChatHistory, compliance.
  void make_plan() {
    plan.refusal = loaded ? std::string{}
                          : "room " + rec.name + " cannot read its history (" + load_error +
                                "); posting is off until it can, retry later";
    if (pool.lost) plan.refusal = "room " + rec.name + " is now served by another node; send it again";
    plan.store = chat_history;
    plan.capture = capture_on();
  }

  // The one place where the room answers a post it holds (messages.h, "Who answers an
  // INFO"): accepted (`err` null: SIP 200 before the fan-out, the seq to an announce's
  // requester) or refused (info_answer.h; a store failure is SIP 503).
  void answer(held_post& p, const caf::error* err) {
    ctx->metrics->count_post(err);
    answer_info(p.info, err);
    for (auto& i : p.again) answer_info(i, err);
    if (!p.rp.pending()) return;
    if (err == nullptr)
      p.rp.deliver(p.msg.seq);
    else
      p.rp.deliver(*err);
  }
  void answer_info(held_info& i, const caf::error* err) {
    answer_info(i.ticket, err);
    if (i.done.pending()) i.done.deliver(caf::ok_atom::value);
  }
  void answer_info(const info_ticket& t, const caf::error* err) {
    if (t.txn == 0) return;
    if (err == nullptr) return ctx->edge->respond(t.txn, 200);
    xccos::reply_head h;
    h.id = "rpl:grpchat";
    h.cmd_envid = t.envid;
    h.cmd_seqid = t.seqid.empty() ? "1" : t.seqid;
    h.envid = envid++;
    send_answer(*ctx->edge, t.txn, t.dialog,
                error_answer("grpchat", std::move(h), *err, command_effect::write, *sys));
  }

  // Pool: the room no longer serves its room (a newer owner exists). A post whose session
  // waits for it (done) is given back unanswered, errc::moved: the session sends it again,
  // with its post id, to the room's next owner (docs/POOL.md "Dead owner"); any other is
  // refused (busy: not acknowledged, the client sends it again).
  void give_back(held_post& p) {
    auto moved = make_error(errc::moved, "room " + rec.name + " is now served by another node");
    auto refused = make_error(errc::busy, "room " + rec.name +
                                              " is now served by another node; it was not acknowledged, send it again");
    auto one = [&](held_info& i) {
      if (i.done.pending()) {
        ctx->metrics->count_post(&moved);
        i.done.deliver(moved);
      } else {
        ctx->metrics->count_post(&refused);
        answer_info(i.ticket, &refused);
      }
    };
    one(p.info);
    for (auto& i : p.again) one(i);
    if (p.rp.pending()) p.rp.deliver(refused);
  }

  // A room that stops (an exception; it never retires with writes pending) answers the
  // posts it holds: not acknowledged. In a pool, a post whose session waits for it (done)
  // is left to that session: it sees this room down, joins the room's next actor and sends
  // the post there with its post id (a node stopping hands its posts on; docs/POOL.md).
  ~room_state() {
    if (ctx) ctx->metrics->rooms_active.add(-1);
    auto err = make_error(errc::busy, "the room stopped before the post was confirmed; it was "
                                      "not acknowledged, send it again");
    auto stop = [&](held_info& i) {
      if (!i.done.pending()) answer_info(i.ticket, &err);
    };
    for (auto& c : commits)
      if (!c.fail) {
        stop(c.post.info);
        for (auto& i : c.post.again) stop(i);
      }
    for (auto& w : pool.waiting) stop(w.info);
  }

  // Pool: a post this room actor fanned out, for members that join again (make_ready).
  void remember(const std::shared_ptr<const std::string>& body, uint64_t late = 0) {
    if (!pool.on) return;
    pool.recent.push_back({pool.fanned++, late, body});
    if (pool.recent.size() > kMaxEarlyPosts) pool.recent.pop_front();
  }

  // Sends a notice to every member except `except` (a session address).
  void notify_others(const caf::actor_addr& except, std::shared_ptr<const std::string> body) {
    std::vector<uint64_t> to;
    to.reserve(roster.size());
    for (auto& [addr, m] : roster)
      if (addr != except && m.ready) to.push_back(m.dialog);
    if (!to.empty()) ctx->edge->send_info_many(std::move(to), std::move(body));
  }
};

using room_ptr = caf::stateful_actor<room_state>*;

constexpr std::chrono::seconds kMaxReloadDelay{30};
// Pool: posts that wait for the room to serve (room_state::pool_part::waiting), at most.
constexpr size_t kMaxWaitingPosts = 1024;
// Pool: after every follower candidate failed, the room tries them again this often (held
// posts wait, bounded by commit_timeout).
constexpr std::chrono::milliseconds kFollowerRetry{500};
// Pool: how long a new owner waits for each live node's (data epoch, last seq).
constexpr std::chrono::milliseconds kStateTimeout{2000};
// Pool: the bound of a new owner's catch-up of its own log (a full copy of a large room is
// many chunks, each its own request with request_timeout).
constexpr std::chrono::minutes kCopyTimeout{10};

xccos::chat_message to_wire(const room_state& st, const storage::message_record& m) {
  xccos::chat_message c;
  c.chan_uri = st.uri;
  c.author = m.author;
  c.ts = utc::xccos_timestamp(m.ts_micros);
  c.text = m.text;
  c.extra_xml = m.extra_xml;
  return c;
}

void retire(room_ptr self);

void schedule_idle_check(room_ptr self) {
  auto& st = self->state;
  // A room handed off, or lost to a newer owner, quits once nothing is in flight: the next
  // lookup on this node then finds the owner, or a fresh room actor that takes the room over
  // (a lost one left in place would give every post back for ever).
  if ((st.handing_off || st.pool.lost) && st.in_flight == 0) return retire(self);
  if (!st.roster.empty() || st.in_flight > 0) return;
  uint64_t gen = ++st.idle_generation;
  self->delayed_send(self, std::chrono::seconds(st.ctx->room_idle_seconds), idle_atom::value, gen);
}

void remove_member(room_ptr self, const caf::actor_addr& addr, bool notify) {
  auto& st = self->state;
  auto it = st.roster.find(addr);
  if (it == st.roster.end()) return;
  member m = std::move(it->second);
  st.roster.erase(it);
  st.dialogs_stale = true;
  self->demonitor(m.session);
  st.update_mute();
  bool muted = st.roster_muted;  // after this part: the one that ends the mute is announced
  st.emit(storage::compliance_kind::part, m.user);
  // The user leaves only when their last session does.
  bool last_session = --st.user_sessions[m.user] <= 0;
  if (last_session) st.user_sessions.erase(m.user);
  if (notify && !muted && last_session) {
    auto body = std::make_shared<const std::string>(
        xccos::encode_part_notice(st.uri, m.user, st.envid++));
    st.notify_others(addr, body);
  }
  self->send(st.ctx->directory, count_atom::value, st.rec.id, static_cast<int>(st.roster.size()));
  schedule_idle_check(self);
}

// Arms the room's commit watchdog (commit_watch_atom) to fire `after`, unless it is armed.
void arm_commit_watch(room_ptr self, std::chrono::steady_clock::duration after) {
  auto& st = self->state;
  if (st.commit_watch_armed) return;
  st.commit_watch_armed = true;
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(after) + std::chrono::milliseconds(1),
                     commit_watch_atom::value);
}

// The write `id` was answered: its entry, or none if the watchdog had already given up on
// it (its answer must then be ignored: the client was told it was not acknowledged).
std::optional<room_state::pending_commit> settle_commit(room_ptr self, uint64_t id) {
  auto& st = self->state;
  for (auto it = st.commits.begin(); it != st.commits.end(); ++it)  // almost always the front
    if (it->id == id) {
      auto c = std::move(*it);
      st.commits.erase(it);
      st.in_flight--;
      return c;
    }
  return std::nullopt;
}

// A write not confirmed within commit_timeout is refused (never acknowledged). It may still
// land later; then it shows in back-chat after the room reloads: the client's "not
// delivered" post appearing, never an acknowledged post going missing. Its seq is not
// reused, so a late write cannot overwrite a later post.
void on_commit_watch(room_ptr self) {
  auto& st = self->state;
  st.commit_watch_armed = false;
  auto now = std::chrono::steady_clock::now();
  size_t expired = 0;
  auto ms = std::to_string(st.ctx->commit_timeout.count());
  auto err = make_error(errc::busy, "the store did not confirm the write within " + ms +
                                        " ms; it was not acknowledged, send it again");
  while (!st.commits.empty() && st.commits.front().deadline <= now) {
    auto c = std::move(st.commits.front());
    st.commits.pop_front();
    st.in_flight--;
    ++expired;
    if (c.fail)
      c.fail(err);
    else
      st.answer(c.post, &err);
  }
  if (expired > 0)
    PCHAT_LOG(warn, "room", "writes not confirmed in time; refused",
              "room=" + st.uri + " count=" + std::to_string(expired) + " timeout_ms=" + ms +
                  " action=" + log::quote("check the disk (fsync latency) and the commit actor"));
  // Pool: posts that waited for the room to serve as long as a write may take.
  size_t waited = 0;
  auto late = make_error(errc::busy, "room " + st.rec.name + " did not start serving within " + ms +
                                         " ms (it is moving between nodes); it was not acknowledged, send it again");
  while (!st.pool.waiting.empty() && st.pool.waiting.front().deadline <= now) {
    auto w = std::move(st.pool.waiting.front());
    st.pool.waiting.pop_front();
    ++waited;
    st.ctx->metrics->count_post(&late);
    st.answer_info(w.info, &late);
  }
  if (waited > 0)
    PCHAT_LOG(warn, "room", "posts waited too long for the room to serve; refused",
              "room=" + st.uri + " count=" + std::to_string(waited) + " error=" + log::quote(st.load_error));
  auto next = std::chrono::steady_clock::time_point::max();
  if (!st.commits.empty()) next = st.commits.front().deadline;
  if (!st.pool.waiting.empty()) next = std::min(next, st.pool.waiting.front().deadline);
  if (next != std::chrono::steady_clock::time_point::max()) arm_commit_watch(self, next - now);
  schedule_idle_check(self);
}

// Counts a write as pending (the room does not retire meanwhile) under the watchdog; its
// id for settle_commit.
uint64_t hold_commit(room_ptr self, std::function<void(caf::error)> fail, room_state::held_post post) {
  auto& st = self->state;
  uint64_t id = ++st.commit_ids;
  st.in_flight++;
  st.commits.push_back({id, std::chrono::steady_clock::now() + st.ctx->commit_timeout, std::move(fail),
                        std::move(post)});
  arm_commit_watch(self, st.ctx->commit_timeout);
  return id;
}

// Sends `xs` to the commit actor (an admin write); then `on_ok(n)` (n: the commit actor's
// answer) or `on_fail(error)` runs, the latter also when the write is not confirmed within
// commit_timeout (errc::busy).
template <class OnOk, class OnFail, class... Ts>
void commit_request(room_ptr self, OnOk on_ok, OnFail on_fail, Ts&&... xs) {
  auto& st = self->state;
  uint64_t id = hold_commit(self, on_fail, {});
  // No CAF timeout here: the watchdog above bounds the wait (see room_state::commits).
  self->request(st.ctx->commit, caf::infinite, std::forward<Ts>(xs)...)
      .then(
          [=, on_ok = std::move(on_ok)](uint64_t n) mutable {
            if (!settle_commit(self, id)) return;
            on_ok(n);
            schedule_idle_check(self);
          },
          [=](caf::error& err) mutable {
            if (!settle_commit(self, id)) return;
            on_fail(std::move(err));
            schedule_idle_check(self);
          });
}

// A post is durable (or needs no write): its 200 first, then the fan-out to every joined
// member including the author (both through the edge's one queue, so clients see their
// acknowledgement before their echo; one body for all), then the back-chat cache.
void post_durable(room_ptr self, room_state::held_post& p) {
  auto& st = self->state;
  st.posted.add(p.msg.pid);
  // The envelope's envid is the post's seq (a server's envid may be any number,
  // xccos-wire.md): web sessions read it to resume from the last seq seen (docs/WEB.md).
  auto body = std::make_shared<const std::string>(
      xccos::encode_grpchat(to_wire(st, p.msg), p.msg.seq != 0 ? p.msg.seq : st.envid++));
  const auto& to = st.targets();
  if (p.info.ticket.txn != 0 && !to.empty()) {
    // The author's 200 and the fan-out as one unit, so that in a pool the author's node
    // gets both in one message (actors/pool_edge.h); then the rest of the answer (its
    // completion, copies of the same post sent again, the metrics) with the INFO answered.
    st.ctx->edge->respond_then_send_info_many(p.info.ticket.txn, 200, to, body);
    p.info.ticket.txn = 0;
    st.answer(p, nullptr);
  } else {
    st.answer(p, nullptr);
    if (!to.empty()) st.ctx->edge->send_info_many(to, body);
  }
  if (to.size() < st.roster.size())  // someone joined and is not ready yet
    for (auto& [addr, m] : st.roster)
      if (!m.ready && m.early.size() < kMaxEarlyPosts) m.early.emplace_back(0, body);
  st.remember(body);
  if (!p.stored) return;
  st.cache.push_back(std::move(p.msg));
  const size_t cap = st.cache_cap();  // one snapshot load per post, not one per check
  while (st.cache.size() > cap) st.cache.pop_front();
}

// ---- pool mode: the owner's side of the replicated room log (docs/POOL.md)
//
// A post is written to this node's commit actor and shipped to the follower's replica in
// parallel, both with the room's epoch; the 200 goes out when both have synced it. Without
// a synced follower while two or more nodes are live, posts wait (the commit watchdog
// answers 503 after commit_timeout) while the room catches the next follower up; with one
// live node the room's own copy is enough (a pool of one is standalone). A refusal with
// "stale epoch" means a newer owner exists: the room stops taking posts.

void choose_follower(room_ptr self);
void follower_failed(room_ptr self, uint64_t gen, const caf::error& err);
void send_missed(room_ptr self, member& me, uint64_t after, uint64_t through);

// A node refused the room's epoch: it accepted a newer owner's (message_log::stale). *why:
// the refusal.
bool stale_epoch(const caf::error& err, std::string* why) {
  errc code;
  return decode_error(err, &code, why) && code == errc::forbidden && why->rfind("stale epoch", 0) == 0;
}

// True when the room must have a synced follower to acknowledge (two or more live nodes
// may hold the room).
// A node that is not serving (no fresh etcd lease) acknowledges nothing: it may have lost
// the room already.
// Nor does a node that still sees other nodes registered though it is linked to none (it
// was paused, or is cut off): they may have taken its rooms over (pool_view).
bool need_follower(const room_state& st) {
  auto view = st.ctx->pool->current();
  return !view || !view->fresh() || view->rank(st.rec.id).size() >= 2 || view->others_registered > 0;
}

// A held post whose confirmations are complete gets its 200 and fan-out.
void try_finish(room_ptr self, uint64_t id) {
  auto& st = self->state;
  for (auto& c : st.commits) {
    if (c.id != id) continue;
    if (c.fail || !c.post.local_ok) return;
    if (!c.post.shipped && (st.pool.follower || need_follower(st))) return;
    if (auto done = settle_commit(self, id)) {
      auto held = std::chrono::steady_clock::now() - (done->deadline - st.ctx->commit_timeout);
      st.ctx->metrics->post_commit_us.observe(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(held).count()));
      post_durable(self, done->post);
    }
    return;
  }
}

// Sends held post `id` to the current follower; its answer counts only while that follower
// is still the room's follower (generation).
void ship_post(room_ptr self, uint64_t id, const storage::message_record& m,
               const storage::compliance_record* event) {
  auto& st = self->state;
  auto gen = st.pool.generation;
  auto on_ok = [self, id, gen](uint64_t) {
    auto& st = self->state;
    if (gen != st.pool.generation) return;
    for (auto& c : st.commits)
      if (c.id == id) c.post.shipped = true;
    try_finish(self, id);
  };
  auto on_err = [self, gen](caf::error& err) { follower_failed(self, gen, err); };
  // A follower that does not answer in half the post's time is replaced while the post can
  // still be acknowledged through the next one.
  auto timeout = st.ctx->commit_timeout / 2;
  st.ctx->metrics->pool_shipped.add();
  if (event)
    self->request(st.pool.follower, timeout, ship_atom::value, st.rec.id, st.pool.epoch, m, *event)
        .then(on_ok, on_err);
  else
    self->request(st.pool.follower, timeout, ship_atom::value, st.rec.id, st.pool.epoch, m).then(on_ok, on_err);
}

// The room lost its claim (a node accepted a newer epoch): no more posts here; what it
// holds is refused (not acknowledged: the client sends it again, to the new owner).
void lose_room(room_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.pool.lost) return;
  st.pool.lost = true;
  st.plan.refusal = "room " + st.rec.name + " is now served by another node (" + why + "); send it again";
  PCHAT_LOG(warn, "room", "a newer owner exists; this node stops taking posts for the room",
            "room=" + st.uri + " epoch=" + std::to_string(st.pool.epoch) + " reason=" + log::quote(why));
  std::vector<uint64_t> ids;
  for (auto& c : st.commits)
    if (!c.fail) ids.push_back(c.id);
  for (auto id : ids)
    if (auto c = settle_commit(self, id)) st.give_back(c->post);
  if (st.pool.follower) self->demonitor(st.pool.follower);
  st.pool.follower = caf::actor{};
  ++st.pool.generation;
  schedule_idle_check(self);
}

// The follower failed (an error, a timeout or its death): nothing is acknowledged through
// it any more; held posts wait for the next follower, which gets the log first.
void follower_failed(room_ptr self, uint64_t gen, const caf::error& err) {
  auto& st = self->state;
  if (gen != st.pool.generation) return;
  std::string reason;
  if (stale_epoch(err, &reason)) return lose_room(self, reason);
  errc code;
  if (!decode_error(err, &code, &reason)) reason = self->system().render(err);
  st.ctx->metrics->pool_follower_failures.add();
  PCHAT_LOG(warn, "room", "follower failed; catching up another before acknowledging",
            "room=" + st.uri + " error=" + log::quote(reason));
  if (st.pool.follower) {
    st.pool.failed.push_back(st.pool.follower.address());
    self->demonitor(st.pool.follower);
  }
  st.pool.follower = caf::actor{};
  ++st.pool.generation;
  for (auto& c : st.commits) c.post.shipped = false;
  choose_follower(self);
}

// Ships every held post not confirmed by the (new) follower.
void reship_held(room_ptr self) {
  auto& st = self->state;
  std::vector<uint64_t> ids;
  for (auto& c : st.commits)
    if (!c.fail && !c.post.shipped) ids.push_back(c.id);
  for (auto id : ids)
    for (auto& c : st.commits)
      if (c.id == id) {
        // The event is rebuilt as write_post built it (compliance on).
        if (st.plan.capture) {
          auto e = st.event(storage::compliance_kind::chat, c.post.msg.author, c.post.msg.seq, c.post.msg.text,
                            c.post.msg.ts_micros);
          ship_post(self, id, c.post.msg, &e);
        } else {
          ship_post(self, id, c.post.msg, nullptr);
        }
        break;
      }
}

// Finishes every held post that no longer needs a follower (a pool of one).
void finish_without_follower(room_ptr self) {
  std::vector<uint64_t> ids;
  for (auto& c : self->state.commits)
    if (!c.fail) ids.push_back(c.id);
  for (auto id : ids) try_finish(self, id);
}

// Before a follower counts, the room's files are on it and on this node (docs/POOL.md
// "Uploaded files in a pool"): this node copies each file of the room another live node
// holds and it does not (uploads made while it did not own the room; a node that fails to
// answer is left out), then the candidate copies what it lacks from this node; then `done`.
// `fail` when the candidate's copy fails. Nothing once the follower's generation moved on.
struct files_job {
  uint64_t gen = 0;
  caf::actor cand;
  std::vector<std::pair<std::string, caf::actor>> sources;  // still to copy from, last first
  std::function<void()> done;
  std::function<void(caf::error&)> fail;
};

void catch_files_step(room_ptr self, std::shared_ptr<files_job> job) {
  auto& st = self->state;
  if (job->gen != st.pool.generation) return;
  if (job->sources.empty()) {
    self->request(job->cand, kCopyTimeout, fpull_atom::value, st.rec.id, st.ctx->replica)
        .then([job](uint64_t) { job->done(); }, [job](caf::error& err) { job->fail(err); });
    return;
  }
  std::string name = job->sources.back().first;
  caf::actor source = job->sources.back().second;
  job->sources.pop_back();
  // Gone from the view since (its death was seen): not waited for.
  auto view = st.ctx->pool->current();
  if (!view || !view->find(name)) return catch_files_step(self, job);
  self->request(st.ctx->replica, kCopyTimeout, fpull_atom::value, st.rec.id, source)
      .then([self, job](uint64_t) { catch_files_step(self, job); },
            [self, job, name](caf::error& err) {
              PCHAT_LOG(warn, "room",
                        "cannot copy the room's files from a node; going on without them",
                        "room=" + self->state.uri + " node=" + name +
                            " error=" + log::quote(self->system().render(err)));
              catch_files_step(self, job);
            });
}

void catch_files_up(room_ptr self, uint64_t gen, caf::actor cand, std::function<void()> done,
                    std::function<void(caf::error&)> fail) {
  auto job = std::make_shared<files_job>();
  job->gen = gen;
  job->cand = std::move(cand);
  job->done = std::move(done);
  job->fail = std::move(fail);
  auto view = self->state.ctx->pool->current();
  if (view)
    for (auto& n : view->live)
      if (n.name != view->self && n.replica) job->sources.emplace_back(n.name, n.replica);
  catch_files_step(self, job);
}

// Picks the next follower from the current view (rank order, skipping this node and
// replicas that failed), catches it up from this node's log (its tail if it holds a prefix
// of ours, else a full copy) and the room's files (catch_files_up), and only then counts it.
void choose_follower(room_ptr self) {
  auto& st = self->state;
  if (st.pool.lost || st.pool.follower || st.pool.candidate || st.pool.epoch == 0) return;
  auto view = st.ctx->pool->current();
  if (!view) return;
  const node_entry* pick = nullptr;
  for (auto& name : view->rank(st.rec.id)) {
    if (name == view->self) continue;
    auto* n = view->find(name);
    if (!n || !n->replica) continue;
    if (std::find(st.pool.failed.begin(), st.pool.failed.end(), n->replica.address()) != st.pool.failed.end())
      continue;
    pick = n;
    break;
  }
  if (!pick) {
    PCHAT_LOG(debug, "room", "no follower candidate", "room=" + st.uri + " failed=" + std::to_string(st.pool.failed.size()));
    if (!need_follower(st)) return finish_without_follower(self);
    // Every candidate failed: try them again soon; held posts wait (watchdog: 503).
    if (!st.pool.retry_armed) {
      st.pool.retry_armed = true;
      self->delayed_send(self, kFollowerRetry, follower_retry_atom::value);
    }
    return;
  }
  st.pool.candidate = pick->replica;
  auto gen = ++st.pool.generation;
  PCHAT_LOG(debug, "room", "catching a follower up", "room=" + st.uri + " node=" + pick->name);
  auto cand = pick->replica;
  auto timeout = st.ctx->request_timeout;
  auto fail = [self, gen, cand](caf::error& err) {
    auto& st = self->state;
    if (gen != st.pool.generation) return;
    st.pool.candidate = caf::actor{};
    // A candidate fenced by a newer owner's take-over: the room is that owner's now, and
    // what it holds goes back at once (not after commit_timeout) to be sent there.
    if (std::string why; stale_epoch(err, &why)) return lose_room(self, why);
    st.pool.failed.push_back(cand.address());
    PCHAT_LOG(warn, "room", "cannot catch a follower up; trying the next",
              "room=" + st.uri + " error=" + log::quote(self->system().render(err)));
    choose_follower(self);
  };
  // Our log and the candidate's, then the pull.
  self->request(st.ctx->replica, timeout, rstate_atom::value, st.rec.id)
      .then(
          [=](uint64_t, uint64_t own_last, bool) {
            self->request(cand, timeout, rstate_atom::value, self->state.rec.id)
                .then(
                    [=](uint64_t data_epoch, uint64_t last, bool complete) {
                      auto& st = self->state;
                      if (gen != st.pool.generation) return;
                      // Ours is complete at our epoch (marked at take-over).
                      bool tail = complete && data_epoch == st.pool.epoch && last <= own_last;
                      self->request(cand, timeout, rpull_atom::value, st.rec.id, st.pool.epoch, st.ctx->replica,
                                    tail ? last + 1 : uint64_t{1}, !tail)
                          .then(
                              [=](uint64_t) {
                                catch_files_up(
                                    self, gen, cand,
                                    [=] {
                                      auto& st = self->state;
                                      if (gen != st.pool.generation) return;
                                      st.pool.candidate = caf::actor{};
                                      st.pool.follower = cand;
                                      self->monitor(cand);
                                      st.ctx->metrics->pool_followers_caught_up.add();
                                      PCHAT_LOG(info, "room",
                                                "follower caught up; posts are acknowledged again",
                                                "room=" + st.uri +
                                                    " epoch=" + std::to_string(st.pool.epoch) +
                                                    " copy=" + (tail ? "tail" : "full"));
                                      reship_held(self);
                                    },
                                    fail);
                              },
                              fail);
                    },
                    fail);
          },
          fail);
}

// Pool: a follower (or a follower being caught up) whose node is drained (`pool drain`)
// stops counting; the next in rank order (placement skips drained nodes) is caught up
// first and counts then (choose_follower). Posts held meanwhile wait for it and are shipped
// to it (reship_held); none is acknowledged with fewer copies than before.
void drop_drained_follower(room_ptr self) {
  auto& st = self->state;
  if (!st.pool.on || st.pool.lost || (!st.pool.follower && !st.pool.candidate)) return;
  auto view = st.ctx->pool->current();
  if (!view) return;
  for (auto& n : view->live) {
    if (!n.draining || !n.replica) continue;
    if (n.replica == st.pool.follower) {
      PCHAT_LOG(info, "room", "the room's follower is drained; catching up the next one before acknowledging",
                "room=" + st.uri + " follower=" + n.name);
      self->demonitor(st.pool.follower);
      st.pool.follower = caf::actor{};
      for (auto& c : st.commits) c.post.shipped = false;
    } else if (n.replica == st.pool.candidate) {
      st.pool.candidate = caf::actor{};
    } else {
      continue;
    }
    ++st.pool.generation;  // late answers of the drained one are ignored
    return choose_follower(self);
  }
}

// Writes a held post in pool mode: this node's commit and the follower's replica in
// parallel, both with the epoch (docs/POOL.md); the room keeps it until both confirmed (or
// one node is live), refused on a local failure, a lost claim or the commit watchdog.
void write_post_pooled(room_ptr self, room_state::held_post p) {
  auto& st = self->state;
  p.stored = true;
  std::optional<storage::compliance_record> event;
  if (st.plan.capture)
    event = st.event(storage::compliance_kind::chat, p.msg.author, p.msg.seq, p.msg.text, p.msg.ts_micros);
  uint64_t id = hold_commit(self, {}, std::move(p));
  const storage::message_record& m = st.commits.back().post.msg;
  auto on_ok = [self, id](uint64_t) {
    for (auto& c : self->state.commits)
      if (c.id == id) c.post.local_ok = true;
    try_finish(self, id);
    schedule_idle_check(self);
  };
  auto on_err = [self, id](caf::error& err) {
    if (std::string reason; stale_epoch(err, &reason)) lose_room(self, reason);
    if (auto c = settle_commit(self, id)) self->state.answer(c->post, &err);
    schedule_idle_check(self);
  };
  if (event)
    self->request(st.ctx->commit, caf::infinite, logput_atom::value, st.rec.id, st.pool.epoch, m, *event)
        .then(on_ok, on_err);
  else
    self->request(st.ctx->commit, caf::infinite, logput_atom::value, st.rec.id, st.pool.epoch, m)
        .then(on_ok, on_err);
  if (st.pool.follower)
    ship_post(self, id, st.commits.back().post.msg, event ? &*event : nullptr);
  else
    choose_follower(self);
}

// Writes a held post as the plan says, in one synced write with its CHAT event when
// compliance is on; the room keeps it (and its INFO) until the commit actor answers or the
// watchdog gives up. Nothing to write (ChatHistory and compliance off): relayed live.
void write_post(room_ptr self, room_state::held_post p) {
  auto& st = self->state;
  st.plan.capture = st.capture_on();  // compliance may have been switched live
  const auto& plan = st.plan;
  if (!plan.store && !plan.capture) return post_durable(self, p);
  if (st.pool.on && plan.store) return write_post_pooled(self, std::move(p));
  p.stored = plan.store;
  storage::compliance_record event;
  if (plan.capture)  // with ChatHistory off too (reference §1.4), durably before the 200
    event = st.event(storage::compliance_kind::chat, p.msg.author, p.msg.seq, p.msg.text, p.msg.ts_micros);
  uint64_t id = hold_commit(self, {}, std::move(p));
  const storage::message_record& m = st.commits.back().post.msg;
  auto send = [&](auto&&... xs) {
    // No CAF timeout: the watchdog bounds the wait (see room_state::commits).
    self->request(st.ctx->commit, caf::infinite, std::forward<decltype(xs)>(xs)...)
        .then(
            [self, id](uint64_t) {
              if (auto c = settle_commit(self, id)) {
                auto held = std::chrono::steady_clock::now() - (c->deadline - self->state.ctx->commit_timeout);
                self->state.ctx->metrics->post_commit_us.observe(static_cast<uint64_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(held).count()));
                post_durable(self, c->post);
              }
              schedule_idle_check(self);
            },
            [self, id](caf::error& err) {
              if (auto c = settle_commit(self, id)) self->state.answer(c->post, &err);
              schedule_idle_check(self);
            });
  };
  if (!plan.store)
    send(capture_atom::value, std::move(event), caf::ok_atom::value);
  else if (plan.capture)
    send(commit_atom::value, st.rec.id, m, std::move(event));
  else
    send(commit_atom::value, st.rec.id, m);
}

// A walk over the room's whole stored history in chunks (admin clear and replace): reads
// kScanChunk messages through the reader, lets `plan` write what it wants of them through
// the commit actor, and only then reads on. Each chunk is its own synced write, so posts to
// every room interleave with the admin work instead of queueing behind one huge read and
// one huge write; a failure stops the walk (what was written stays written, a re-run
// finishes it). Answers the sum of the chunks' counts.
struct scan_job {
  caf::response_promise rp;
  uint64_t from = 1;
  uint64_t done = 0;
  // (chunk, done(count or error)): must call done exactly once.
  std::function<void(std::vector<storage::message_record>&,
                     std::function<void(caf::expected<uint64_t>)>)> plan;
};

void scan_step(room_ptr self, std::shared_ptr<scan_job> job) {
  auto& st = self->state;
  st.in_flight++;  // the room stays up until the walk ends
  self->request(st.ctx->reader, st.ctx->request_timeout, rdfrom_atom::value, st.rec.id, job->from,
                static_cast<uint64_t>(kScanChunk))
      .then(
          [=](std::vector<storage::message_record>& chunk) {
            self->state.in_flight--;
            if (chunk.empty()) {
              job->rp.deliver(job->done);
              schedule_idle_check(self);
              return;
            }
            job->from = chunk.back().seq + 1;
            bool last = chunk.size() < kScanChunk;
            job->plan(chunk, [=](caf::expected<uint64_t> n) {
              if (!n) {
                job->rp.deliver(n.error());
                return;
              }
              job->done += *n;
              if (last) {
                job->rp.deliver(job->done);
                return;
              }
              scan_step(self, job);
            });
          },
          [=](caf::error& err) {
            self->state.in_flight--;
            job->rp.deliver(std::move(err));
            schedule_idle_check(self);
          });
}

caf::result<uint64_t> scan(room_ptr self, decltype(scan_job::plan) plan) {
  auto job = std::make_shared<scan_job>();
  job->rp = self->make_response_promise();
  job->plan = std::move(plan);
  scan_step(self, job);
  return job->rp;
}

// Remove-CsPersistentChatMessage: rewrites the stored messages matching `f` with the
// replacement text (and their compliance events), one synced write per chunk of history
// (scan), updating the back-chat cache so later back-chat shows the replacement. Posts
// still in flight are not matched (they were not stored when the admin asked).
caf::result<uint64_t> replace_messages(room_ptr self, message_filter f) {
  return scan(self, [self, f](std::vector<storage::message_record>& chunk,
                              std::function<void(caf::expected<uint64_t>)> done) {
    auto& st = self->state;
    std::vector<storage::message_record> changed;
    std::vector<storage::compliance_record> events;
    int64_t now = utc::now_micros();
    for (auto& m : chunk) {
      if (!f.user.empty() && m.author != f.user) continue;
      if (f.before_micros != 0 && m.ts_micros >= f.before_micros) continue;
      if (f.after_micros != 0 && m.ts_micros <= f.after_micros) continue;
      if (!f.contains.empty() && m.text.find(f.contains) == std::string::npos) continue;
      if (m.text == f.replacement && m.extra_xml.empty()) continue;  // replaced already
      if (st.capture_on()) {
        // The admin's own event: who acted, on whose message, what it said and says now.
        auto e = st.event(storage::compliance_kind::admin_replace, f.admin, m.seq, f.replacement, now);
        e.target = m.author;
        e.previous = m.text;
        events.push_back(std::move(e));
      }
      m.text = f.replacement;
      m.extra_xml.clear();  // client formatting of the old text no longer applies
      changed.push_back(std::move(m));
    }
    if (changed.empty()) return done(uint64_t{0});
    commit_request(
        self,
        [self, changed, done](uint64_t n) {
          size_t i = 0;  // both ascending by seq
          for (auto& c : self->state.cache) {
            while (i < changed.size() && changed[i].seq < c.seq) ++i;
            if (i < changed.size() && changed[i].seq == c.seq) c = changed[i];
          }
          done(n);
        },
        [done](caf::error err) { done(std::move(err)); }, rewrite_atom::value, st.rec.id, changed,
        std::move(events));
  });
}

// Clear-CsPersistentChatRoom: everything posted on or before `before` goes, one synced write
// per chunk of history (with an ADMINCLEAR compliance event each, by `admin`, when
// compliance is on).
caf::result<uint64_t> clear_messages(room_ptr self, int64_t before, std::string admin) {
  const std::string criteria = "cleared: posted on or before " + utc::seconds_timestamp(before);
  return scan(self, [self, before, admin, criteria](std::vector<storage::message_record>& chunk,
                                                    std::function<void(caf::expected<uint64_t>)> done) {
    auto& st = self->state;
    std::vector<uint64_t> seqs;
    std::vector<storage::compliance_record> events;
    int64_t now = utc::now_micros();
    for (auto& m : chunk) {
      if (m.ts_micros > before) continue;
      seqs.push_back(m.seq);
      if (st.capture_on()) {
        // The admin's own event per message removed: whose it was and what it said.
        auto e = st.event(storage::compliance_kind::admin_clear, admin, m.seq, criteria, now);
        e.target = m.author;
        e.previous = m.text;
        events.push_back(std::move(e));
      }
    }
    if (seqs.empty()) return done(uint64_t{0});
    commit_request(
        self,
        [self, seqs, before, done](uint64_t n) {
          auto& st = self->state;
          std::erase_if(st.cache, [&](const storage::message_record& m) {
            return m.ts_micros <= before && std::binary_search(seqs.begin(), seqs.end(), m.seq);
          });
          if (st.ctx->indexer) self->send(st.ctx->indexer, ixdel_atom::value, st.rec.id, seqs);
          done(n);
        },
        [done](caf::error err) { done(std::move(err)); }, purge_atom::value, st.rec.id, seqs,
        std::move(events));
  });
}

// Reloads the back-chat cache from the store (through the reader), keeping what the room
// cached meanwhile above what the read saw.
void reload_cache(room_ptr self) {
  auto& st = self->state;
  self->request(st.ctx->reader, st.ctx->request_timeout, rdlatest_atom::value, st.rec.id,
                static_cast<uint64_t>(st.cache_cap()))
      .then(
          [=](std::vector<storage::message_record>& latest) {
            auto& st = self->state;
            uint64_t seen = latest.empty() ? 0 : latest.back().seq;
            for (auto& m : st.cache)
              if (m.seq > seen) latest.push_back(std::move(m));
            st.cache.assign(std::make_move_iterator(latest.begin()), std::make_move_iterator(latest.end()));
            for (const size_t cap = st.cache_cap(); st.cache.size() > cap;) st.cache.pop_front();
          },
          [=](caf::error& err) {
            PCHAT_LOG(warn, "room", "cannot reload back-chat after an import",
                      "room=" + self->state.uri + " error=" + log::quote(self->system().render(err)));
          });
}

struct import_job {
  caf::response_promise rp;
  std::vector<storage::message_record> msgs;  // ascending by seq
  std::unordered_map<uint64_t, storage::message_record> have;  // stored, by seq, within range
  uint64_t from = 0;
};

// Second half of an import, once the stored messages in its range are known.
void import_write(room_ptr self, std::shared_ptr<import_job> job) {
  auto& st = self->state;
  std::vector<storage::message_record> fresh;
  for (auto& m : job->msgs) {
    auto it = job->have.find(m.seq);
    if (it != job->have.end()) {
      const auto& o = it->second;
      if (o.author != m.author || o.ts_micros != m.ts_micros || o.text != m.text)
        return job->rp.deliver(make_error(errc::bad_request, "import: room " + st.uri +
                                                                 " already has a different message " +
                                                                 std::to_string(m.seq)));
      continue;
    }
    if (m.seq < st.next_seq && st.in_flight > 0)
      return job->rp.deliver(make_error(errc::bad_request, "import: room " + st.uri + " is posting; retry"));
    fresh.push_back(std::move(m));
  }
  if (fresh.empty()) return job->rp.deliver(uint64_t{0});
  st.next_seq = std::max(st.next_seq, fresh.back().seq + 1);
  commit_request(
      self,
      [self, job](uint64_t n) {
        reload_cache(self);  // imported seqs may be anywhere
        job->rp.deliver(n);
      },
      [job](caf::error err) { job->rp.deliver(std::move(err)); }, rewrite_atom::value, st.rec.id,
      std::move(fresh), std::vector<storage::compliance_record>{});
}

// Reads the stored messages in the import's seq range, chunk by chunk, then writes.
void import_read(room_ptr self, std::shared_ptr<import_job> job) {
  auto& st = self->state;
  uint64_t last = job->msgs.back().seq;
  st.in_flight++;  // the room stays up meanwhile
  self->request(st.ctx->reader, st.ctx->request_timeout, rdfrom_atom::value, st.rec.id, job->from,
                static_cast<uint64_t>(kScanChunk))
      .then(
          [=](std::vector<storage::message_record>& chunk) {
            self->state.in_flight--;
            bool more = chunk.size() >= kScanChunk;
            for (auto& m : chunk) {
              if (m.seq > last) {
                more = false;
                break;
              }
              job->from = m.seq + 1;
              job->have.emplace(m.seq, std::move(m));
            }
            if (more) return import_read(self, job);
            import_write(self, job);
            schedule_idle_check(self);
          },
          [=](caf::error& err) {
            self->state.in_flight--;
            job->rp.deliver(std::move(err));
            schedule_idle_check(self);
          });
}

// Archive import (app/admin_archive.h): writes the messages the room does not have yet,
// keeping their seqs and timestamps, in one synced write. A seq already stored with the same
// author, time and text is skipped, so importing twice adds nothing; a seq stored with other
// content is a conflict (errc::bad_request, nothing written). REQUIRES: `msgs` ascending by
// seq. The room's next seq moves past the highest imported one, so a post racing the
// import cannot reuse it.
caf::result<uint64_t> import_messages(room_ptr self, std::vector<storage::message_record> msgs) {
  auto& st = self->state;
  if (msgs.empty()) return uint64_t{0};
  if (!st.loaded)
    return make_error(errc::busy, "import: room " + st.uri + " cannot read its history yet; retry");
  uint64_t first = msgs.front().seq, last = msgs.back().seq;
  if (first == 0 || last < first) return make_error(errc::bad_request, "import: seqs must ascend from 1");
  auto job = std::make_shared<import_job>();
  job->rp = self->make_response_promise();
  job->msgs = std::move(msgs);
  job->from = first;
  import_read(self, job);
  return job->rp;
}

// Pool: true once this node no longer owns the room by its current view; from then on the
// room hands it off (room_state::handing_off), retiring as soon as nothing is in flight.
// The claim in etcd is deleted where it was made (the directory's local_room; docs/POOL.md).
bool hands_off(room_ptr self) {
  auto& st = self->state;
  if (!st.ctx->pool) return false;
  if (st.handing_off) return true;
  auto view = st.ctx->pool->current();
  if (view->owns(st.rec.id)) return false;
  st.handing_off = true;
  auto rank = view->rank(st.rec.id);
  PCHAT_LOG(info, "room", "this node no longer owns the room; handing it off",
            "room=" + st.uri + " owner=" + log::quote(rank.empty() ? std::string("none") : rank.front()) +
                " in_flight=" + std::to_string(st.in_flight) + " view=" + std::to_string(view->version));
  // Posts waiting for this room to serve go to the owner instead.
  auto waiting = std::move(st.pool.waiting);
  st.pool.waiting.clear();
  for (auto& w : waiting) {
    room_state::held_post p{std::move(w.info), {}, {}, false, {}, false, false};
    st.give_back(p);
  }
  // Owned by nobody in its view: this node is not serving (its lease lapsed; the peers may
  // have revoked it and taken the room at a newer epoch). Nothing it holds can be
  // acknowledged here any more: given back now, not after commit_timeout, and sent again
  // by the sessions to the room's owner (the post id keeps a post stored once).
  if (rank.empty()) lose_room(self, "this node is not serving in the pool");
  schedule_idle_check(self);
  return true;
}

// Pool: how often a handed-off room tries again to delete its claim (etcd not reached).
constexpr std::chrono::milliseconds kReleaseRetry{500};

// Tells the directory to forget this room, then quits (sessions monitoring it join again).
// A room handing off first deletes its claim (its epoch only: a newer claim stays), so the
// owner can claim it: nothing is in flight any more, so nothing written at this epoch is
// missing from this node's log, which the owner copies before it serves.
// Pool: before a room actor that handed off (or lost its claim) stops, each ready member's
// session learns the newest seq its client has, so that where it joins again it gets
// exactly what followed (make_ready): what it had when it became ready here, or the back-
// chat cache's newest entry if newer (fanned out to it since: a post enters the cache
// after its fan-out, and nothing is in flight when a room retires).
void tell_members_seen(room_ptr self) {
  auto& st = self->state;
  if (!st.pool.on) return;
  uint64_t fanned = st.cache.empty() ? 0 : st.cache.back().seq;
  for (auto& [addr, m] : st.roster)
    if (m.ready && std::max(fanned, m.seen_at_ready) != 0) {
      PCHAT_LOG(debug, "room", "stopping: a member saw up to", "room=" + st.uri + " user=" + m.user +
                " seen=" + std::to_string(std::max(fanned, m.seen_at_ready)));
      self->send(m.session, ready_atom::value, st.uri, std::max(fanned, m.seen_at_ready));
    }
}

void retire(room_ptr self) {
  auto& st = self->state;
  ++st.idle_generation;  // no idle check runs meanwhile
  if (st.handing_off && st.pool.epoch != 0 && !st.pool.released && !st.pool.lost) {
    if (st.pool.releasing || st.pool.release_retry) return;  // its answer or its retry retires
    auto view = st.ctx->pool->current();
    const node_entry* me = view ? view->find(view->self) : nullptr;
    // The retry comes back as pool_check (the room's handler runs retire again then): a
    // hand-off whose delete failed must not stop here, or the owner is refused for ever.
    auto again = [self](const std::string& why) {
      auto& st = self->state;
      st.pool.releasing = false;
      st.pool.release_retry = true;
      PCHAT_LOG(warn, "room", "cannot delete the room's claim; the owner waits until it is",
                "room=" + st.uri + " epoch=" + std::to_string(st.pool.epoch) + " error=" + log::quote(why) +
                    " retry_ms=" + std::to_string(kReleaseRetry.count()));
      self->delayed_send(self, kReleaseRetry, pool_check_atom::value);
    };
    if (!me || !me->pool) return again("this node is not in its own pool view");
    st.pool.releasing = true;
    self->request(me->pool, st.ctx->request_timeout, release_atom::value, st.rec.id, st.pool.epoch)
        .then(
            [=](caf::ok_atom) {
              auto& st = self->state;
              st.pool.releasing = false;
              st.pool.released = true;
              PCHAT_LOG(info, "room", "room handed off; claim deleted",
                        "room=" + st.uri + " epoch=" + std::to_string(st.pool.epoch));
              retire(self);
            },
            [=](caf::error& err) { again(self->system().render(err)); });
    return;
  }
  self->request(st.ctx->directory, std::chrono::seconds(10), retire_atom::value, st.rec.id)
      .await(
          [=](caf::ok_atom) {
            tell_members_seen(self);
            self->quit();
          },
          [=](caf::error&) { schedule_idle_check(self); });
}

// Pool: a post sent again whose id is in the history this room read at its start but was
// never fanned out here (its first owner died after the follower stored it, before its 200
// and fan-out): answered 200 and fanned out now, once. False when the post is not one.
bool redeliver(room_ptr self, const storage::post_id& pid, room_state::held_info& info) {
  auto& st = self->state;
  if (!st.pool.on || st.pool.unfanned.erase(pid) == 0) return false;
  const storage::message_record* m = nullptr;
  for (auto& c : st.cache)
    if (c.pid == pid) m = &c;
  if (!m) return false;  // older than the back-chat cache: acknowledged only
  PCHAT_LOG(info, "room", "a post stored by the room's previous owner and never delivered; delivering it",
            "room=" + st.uri + " seq=" + std::to_string(m->seq));
  auto body = std::make_shared<const std::string>(
      xccos::encode_grpchat(to_wire(st, *m), m->seq != 0 ? m->seq : st.envid++));  // envid = seq: post_durable
  const auto& to = st.targets();
  if (info.ticket.txn != 0 && !to.empty()) {
    st.ctx->edge->respond_then_send_info_many(info.ticket.txn, 200, to, body);
    info.ticket.txn = 0;
  } else if (!to.empty()) {
    st.ctx->edge->send_info_many(to, body);
  }
  st.answer_info(info, nullptr);
  st.ctx->metrics->count_post(nullptr);
  for (auto& [addr, mb] : st.roster)
    if (!mb.ready && mb.early.size() < kMaxEarlyPosts) mb.early.emplace_back(m->seq, body);
  st.remember(body, m->seq);
  return true;
}

// Takes a post by `user` and the INFO behind it (`ticket`; txn 0 for an announce, whose
// requester `rp` gets the seq): numbers it and writes it as the room's post plan says; the
// room answers it, whatever happens (messages.h). REQUIRES: the caller checked that `user`
// may post here (joined, or the file API's check for an announce).
void accept_post(room_ptr self, const std::string& user, std::string text, std::string extra,
                 storage::post_id pid, room_state::held_info info, caf::response_promise rp) {
  auto& st = self->state;
  if (!pid.empty() && st.loaded) {
    // Sent again (its room was lost, or its answer was): the first one's result.
    if (st.posted.has(pid)) {
      if (redeliver(self, pid, info)) return;
      return st.answer_info(info, nullptr);
    }
    for (auto& c : st.commits)
      if (!c.fail && c.post.msg.pid == pid) return c.post.again.push_back(std::move(info));
  }
  // Lost (a follower saw a higher epoch) or handing off (another node owns it now): given
  // back, not refused; the session sends it to the room's owner (same post id).
  if (st.pool.on && (st.pool.lost || hands_off(self))) {
    room_state::held_post p{std::move(info), std::move(rp), {}, false, {}, false, false};
    return st.give_back(p);
  }
  // Pool: the room does not serve yet (its take-over runs again): a member's post waits.
  if (st.pool.on && !st.loaded && info.done.pending() &&
      st.pool.waiting.size() < kMaxWaitingPosts) {
    auto deadline = std::chrono::steady_clock::now() + st.ctx->commit_timeout;
    st.pool.waiting.push_back({user, std::move(text), std::move(extra), pid, std::move(info), deadline});
    arm_commit_watch(self, st.ctx->commit_timeout);
    return;
  }
  room_state::held_post p{std::move(info), std::move(rp), {}, false, {}, false, false};
  caf::error refused;
  if (!st.plan.refusal.empty()) {
    refused = make_error(errc::busy, st.plan.refusal);
  } else if (!p.rp.pending()) {
    // A member's post is checked now, not only at its join: access revoked since is refused
    // even if the room has not removed the member yet (an announce's caller checked).
    room_access a = st.access_of(user);
    if (!a.can_post) refused = make_error(errc::forbidden, a.reason);
  }
  if (refused) return st.answer(p, &refused);
  p.msg.seq = st.next_seq++;
  p.msg.author = user;
  p.msg.ts_micros = utc::now_micros();
  p.msg.text = std::move(text);
  p.msg.extra_xml = std::move(extra);
  p.msg.pid = pid;
  write_post(self, std::move(p));
}

// Reads the room's last sequence, newest messages and ChatHistory (through the reader).
// The first read, at spawn, is awaited: the room takes no other message until it is
// answered. After a failure the room stays up but refuses posts and imports (numbering
// from 1 would overwrite history) and reads again after reload_delay (doubling, at most
// kMaxReloadDelay).
void load_history(room_ptr self, bool first) {
  auto& st = self->state;
  auto h = self->request(st.ctx->reader, st.ctx->request_timeout, rdload_atom::value, st.rec.id,
                         st.rec.category_id, static_cast<uint64_t>(st.cache_cap()),
                         static_cast<uint64_t>(kPostIdWindow));
  auto ok = [=](uint64_t last, std::vector<storage::message_record>& latest, bool chat_history,
                std::vector<storage::post_id>& post_ids) {
    auto& st = self->state;
    if (!st.loaded && !st.load_error.empty())
      PCHAT_LOG(info, "room", "history readable again; posting resumes",
                "room=" + st.uri + " next_seq=" + std::to_string(last + 1));
    st.next_seq = last + 1;
    st.chat_history = chat_history;
    st.cache.assign(std::make_move_iterator(latest.begin()), std::make_move_iterator(latest.end()));
    st.posted.assign(post_ids);
    st.loaded = true;
    st.load_error.clear();
    st.reload_delay = std::chrono::seconds(1);
    st.make_plan();
    if (st.pool.on) {
      st.pool.unfanned.clear();
      for (auto& m : st.cache)
        if (!m.pid.empty()) st.pool.unfanned.insert(m.pid);
      // Members that joined again before the history was read: what they missed first.
      uint64_t through = st.cache.empty() ? 0 : st.cache.back().seq;
      for (auto& [addr, m] : st.roster)
        if (m.catch_up_after) {
          send_missed(self, m, *m.catch_up_after, through);
          m.seen_at_ready = std::max(m.seen_at_ready, through);
          m.catch_up_after.reset();
        }
      choose_follower(self);
      // Posts that waited for the room to serve, in their order.
      auto waiting = std::move(st.pool.waiting);
      st.pool.waiting.clear();
      for (auto& w : waiting)
        accept_post(self, w.user, std::move(w.text), std::move(w.extra), w.pid, std::move(w.info), {});
    }
  };
  auto fail = [=](caf::error& err) {
    auto& st = self->state;
    errc code;
    std::string reason;
    st.load_error = decode_error(err, &code, &reason) ? reason : self->system().render(err);
    st.make_plan();
    PCHAT_LOG(error, "room", "cannot read the room's history; posts refused until it can",
              "room=" + st.uri + " error=" + log::quote(st.load_error) +
                  " retry_s=" + std::to_string(st.reload_delay.count()) +
                  " action=" + log::quote("check the data directory and the store's log"));
    self->delayed_send(self, st.reload_delay, reload_atom::value);
    st.reload_delay = std::min(st.reload_delay * 2, kMaxReloadDelay);
  };
  if (first)
    h.await(ok, fail);
  else
    h.then(ok, fail);
}

// ---- pool mode: taking a room over (docs/POOL.md "Taking a room over")
//
// Before it serves, a room on its owner claims it (the node's pool actor: a new epoch),
// stores the epoch, asks every live node for its (data epoch, last seq), catches its own
// log up from the best complete one (the missing tail if it holds a prefix of it, else a
// full copy, which drops a divergent suffix) and marks it complete at the epoch; then it
// reads its history as a standalone room does, and catches up its follower the same way
// (choose_follower) before a post is acknowledged. The first take-over is awaited (the
// room takes no other message until its history is known); a failed one refuses posts and
// runs again on the reload timer.

struct log_position {
  caf::actor replica;
  uint64_t data_epoch = 0;
  uint64_t last = 0;
  bool complete = false;
  bool answered = false;
};

struct takeover_job {
  bool first = false;
  uint64_t epoch = 0;
  std::vector<std::pair<std::string, caf::actor>> nodes;  // live replicas, this node first
  size_t next = 0;
  log_position own;
  std::optional<log_position> best;
};

// await (the room's first start: nothing else is taken meanwhile) or then (a retry).
template <class Handle, class Ok, class Fail>
void on_answer(Handle h, bool first, Ok ok, Fail fail) {
  if (first)
    h.await(std::move(ok), std::move(fail));
  else
    h.then(std::move(ok), std::move(fail));
}

void load_history(room_ptr self, bool first);

// Pool: a room whose node is not serving yet (starting, or its lease lapsed) tries again
// this often instead of backing off, so it serves soon after the node does.
constexpr std::chrono::milliseconds kNotServingRetry{250};

void takeover_failed(room_ptr self, const caf::error& err, bool not_serving = false) {
  auto& st = self->state;
  errc code;
  std::string reason;
  st.load_error = "taking the room over: " + (decode_error(err, &code, &reason) ? reason : self->system().render(err));
  st.loaded = false;
  st.make_plan();
  if (not_serving) {
    self->delayed_send(self, kNotServingRetry, reload_atom::value);
    return;
  }
  PCHAT_LOG(warn, "room", "cannot take the room over; posts wait (503 after commit_timeout) until it can",
            "room=" + st.uri + " error=" + log::quote(st.load_error) +
                " retry_s=" + std::to_string(st.reload_delay.count()));
  self->delayed_send(self, st.reload_delay, reload_atom::value);
  st.reload_delay = std::min(st.reload_delay * 2, kMaxReloadDelay);
}

void takeover_catch_up(room_ptr self, std::shared_ptr<takeover_job> job) {
  auto& st = self->state;
  auto fail = [self](caf::error& err) { takeover_failed(self, err); };
  auto loaded = [self, job](uint64_t) { load_history(self, job->first); };
  if (!job->own.answered)
    return takeover_failed(self, make_error(errc::busy, "this node's copy of the log is unreadable"));
  if (!job->best)
    return takeover_failed(self, make_error(errc::busy, "no complete copy of the room's log is reachable"));
  const log_position& best = *job->best;
  if (best.replica == st.ctx->replica) {
    on_answer(self->request(st.ctx->replica, st.ctx->request_timeout, rmark_atom::value, st.rec.id, job->epoch),
              job->first, loaded, fail);
    return;
  }
  const log_position& own = job->own;
  bool tail = own.complete && own.data_epoch == best.data_epoch && own.last <= best.last;
  PCHAT_LOG(info, "room", "catching the room's log up before serving",
            "room=" + st.uri + " epoch=" + std::to_string(job->epoch) + " copy=" + (tail ? "tail" : "full") +
                " own_last=" + std::to_string(own.last) + " source_last=" + std::to_string(best.last));
  on_answer(self->request(st.ctx->replica, kCopyTimeout, rpull_atom::value, st.rec.id, job->epoch, best.replica,
                          tail ? own.last + 1 : uint64_t{1}, !tail),
            job->first, loaded, fail);
}

// Asks the live nodes one by one (a node that does not answer within kStateTimeout is left
// out), keeping the best complete (data epoch, last seq); this node wins ties.
void takeover_states(room_ptr self, std::shared_ptr<takeover_job> job) {
  auto& st = self->state;
  if (job->next >= job->nodes.size()) return takeover_catch_up(self, job);
  std::string name = job->nodes[job->next].first;
  caf::actor replica = job->nodes[job->next].second;
  ++job->next;
  bool mine = replica == st.ctx->replica;
  // Every node asked is fenced at the new epoch before it answers (its own replica already
  // is): an old owner still writing (paused, not yet told) is refused by every node that
  // answered, and what they accepted before is in the positions compared.
  on_answer(self->request(replica, kStateTimeout, rstate_atom::value, st.rec.id, job->epoch), job->first,
            [=](uint64_t data_epoch, uint64_t last, bool complete) {
              log_position p{replica, data_epoch, last, complete, true};
              PCHAT_LOG(debug, "room", "log position", "room=" + self->state.uri + " node=" + name +
                        " data_epoch=" + std::to_string(data_epoch) + " last=" + std::to_string(last) +
                        " complete=" + (complete ? "1" : "0"));
              if (mine) job->own = p;
              if (complete && (!job->best || std::make_pair(data_epoch, last) >
                                                 std::make_pair(job->best->data_epoch, job->best->last)))
                job->best = p;
              takeover_states(self, job);
            },
            [=](caf::error& err) {
              PCHAT_LOG(warn, "room", "a node did not say how far its copy of the room's log goes",
                        "room=" + self->state.uri + " node=" + name +
                            " error=" + log::quote(self->system().render(err)));
              takeover_states(self, job);
            });
}

void take_over(room_ptr self, bool first) {
  auto& st = self->state;
  auto view = st.ctx->pool->current();
  const node_entry* me = view ? view->find(view->self) : nullptr;
  if (!view || !view->fresh() || !me || !me->pool || !st.ctx->replica)
    return takeover_failed(self, make_error(errc::busy, "this node is not serving in the pool (no etcd lease yet)"),
                           true);
  auto job = std::make_shared<takeover_job>();
  job->first = first;
  job->nodes.emplace_back(view->self, st.ctx->replica);
  for (auto& n : view->live)
    if (n.name != view->self && n.replica) job->nodes.emplace_back(n.name, n.replica);
  auto fail = [self](caf::error& err) { takeover_failed(self, err); };
  // Another node holds the claim (it is handing the room over and deletes it once its
  // writes are done, or its lease has not ended yet), or etcd is not reached: tried again
  // soon, not with the backoff; posts wait meanwhile (room_state::pool_part::waiting).
  auto claim_refused = [self](caf::error& err) {
    errc code;
    std::string reason;
    if (decode_error(err, &code, &reason) && code == errc::forbidden) {
      PCHAT_LOG(debug, "room", "the room is claimed by another node; waiting for it",
                "room=" + self->state.uri + " holder=" + log::quote(reason));
      return takeover_failed(self, make_error(errc::busy, "the room is still held by node " + reason), true);
    }
    takeover_failed(self, err, decode_error(err, &code, &reason) && code == errc::busy);
  };
  on_answer(self->request(me->pool, st.ctx->request_timeout, claim_atom::value, st.rec.id), first,
            [=](uint64_t epoch) {
              auto& st = self->state;
              st.pool.epoch = job->epoch = epoch;
              // Stored before anything else: from here this node refuses older owners.
              on_answer(self->request(st.ctx->commit, st.ctx->request_timeout, logcopy_atom::value, st.rec.id,
                                      epoch, std::vector<storage::message_record>{}, false),
                        job->first, [=](uint64_t) { takeover_states(self, job); }, fail);
            },
            claim_refused);
}

// A member that joined again gets the stored posts after `after` up to `through` (the
// back-chat cache's), as they were fanned out (envid = seq).
void send_missed(room_ptr self, member& me, uint64_t after, uint64_t through) {
  auto& st = self->state;
  if (!st.cache.empty() && st.cache.front().seq > after + 1 && after < through)
    PCHAT_LOG(warn, "room", "a member joined again missed more posts than the back-chat cache holds",
              "room=" + st.uri + " user=" + me.user + " seen=" + std::to_string(after) +
                  " oldest_cached=" + std::to_string(st.cache.front().seq));
  size_t sent = 0;
  for (auto& m : st.cache)
    if (m.seq > after && m.seq <= through) {
      st.ctx->edge->send_info(me.dialog, std::make_shared<const std::string>(
                                             xccos::encode_grpchat(to_wire(st, m), m.seq)));
      ++sent;
    }
  PCHAT_LOG(debug, "room", "member joined again; sent what followed what it saw",
            "room=" + st.uri + " user=" + me.user + " seen=" + std::to_string(after) +
                " through=" + std::to_string(through) + " sent=" + std::to_string(sent));
}

// The session's client now knows the room: bring its roster up to date with whoever
// joined or left since its snapshot, then include it in notices and posts. `rejoined`
// (pool): the session joined again after its room was lost, and `after` (when set) is
// the newest seq its client got there (the lost room said so as it stopped,
// tell_members_seen). What it missed up to its join goes first: the stored posts after
// `after` from the back-chat cache, or, not knowing `after` (the lost room's node died),
// the posts this room actor fanned out before the join.
void make_ready(room_ptr self, const caf::actor& session, bool rejoined,
                std::optional<uint64_t> after = std::nullopt) {
  auto& st = self->state;
  auto it = st.roster.find(session.address());
  if (it == st.roster.end() || it->second.ready) return;
  member& me = it->second;
  me.ready = true;
  st.dialogs_stale = true;
  me.seen_at_ready = std::max(me.joined_through, after.value_or(0));
  if (rejoined && after) {
    // Posts fanned out here late (redeliver) before the join, at or below what the member
    // saw: where it was, they were stored but never delivered, so it never got them.
    for (auto& f : st.pool.recent)
      if (f.late != 0 && f.late <= *after && f.n < me.joined_at_fanned) st.ctx->edge->send_info(me.dialog, f.body);
    if (st.loaded)
      send_missed(self, me, *after, me.joined_through);
    else
      me.catch_up_after = after;
  } else if (rejoined) {
    for (auto& f : st.pool.recent)
      if (f.n < me.joined_at_fanned) st.ctx->edge->send_info(me.dialog, f.body);
    PCHAT_LOG(debug, "room", "member joined again; sent what this room fanned out before", "room=" + st.uri + " user=" + me.user);
  }
  // A post delivered late since the join that the catch-up above sent already: not twice.
  const bool caught_up = rejoined && after && st.loaded;
  for (auto& [late, body] : me.early)
    if (!(caught_up && late > *after && late <= me.joined_through)) st.ctx->edge->send_info(me.dialog, std::move(body));
  me.early.clear();
  std::vector<std::string> snapshot = std::move(me.snapshot);
  me.snapshot.clear();
  if (st.roster_muted) return;
  std::unordered_map<std::string, bool> now_in;
  for (auto& [a, m] : st.roster) now_in[m.user] = true;
  std::unordered_map<std::string, bool> was_in;
  for (auto& u : snapshot) was_in[u] = true;
  for (auto& [u, _] : now_in)
    if (!was_in.count(u))
      st.ctx->edge->send_info(me.dialog, std::make_shared<const std::string>(
                                             xccos::encode_join_notice(st.uri, u, false, st.envid++)));
  for (auto& u : snapshot)
    if (!now_in.count(u))
      st.ctx->edge->send_info(me.dialog, std::make_shared<const std::string>(
                                             xccos::encode_part_notice(st.uri, u, st.envid++)));
}

// "Load older" (backchat with `before`): the newest `count` stored messages with seq <
// before, from the cache when it reaches back that far, else read. Seqs are dense from the
// oldest kept message, so [before - count, before) is the page.
caf::result<std::vector<storage::message_record>> older_messages(room_ptr self,
                                                                 const std::string& user, int count,
                                                                 uint64_t before) {
  auto& st = self->state;
  if (room_access a = st.access_of(user); !a.can_join) return make_error(errc::forbidden, a.reason);
  constexpr int kMaxOlder = 200;
  uint64_t n = static_cast<uint64_t>(std::clamp(count, 1, kMaxOlder));
  if (before <= 1) return std::vector<storage::message_record>{};
  uint64_t from = before > n ? before - n : 1;
  if (!st.cache.empty() && st.cache.front().seq <= from) {
    std::vector<storage::message_record> out;
    for (auto& m : st.cache)
      if (m.seq >= from && m.seq < before) out.push_back(m);
    if (out.size() == before - from) {  // else not dense there (a trimmed cache): read
      st.emit_backchat(user, out);
      return out;
    }
  }
  auto rp = self->make_response_promise();
  self->request(st.ctx->reader, st.ctx->request_timeout, rdfrom_atom::value, st.rec.id, from,
                before - from)
      .then(
          [=](std::vector<storage::message_record>& msgs) mutable {
            while (!msgs.empty() && msgs.back().seq >= before) msgs.pop_back();
            self->state.emit_backchat(user, msgs);
            rp.deliver(std::move(msgs));
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::behavior room_actor(room_ptr self, std::shared_ptr<const server_context> ctx,
                         storage::room_record rec, storage::category_record cat) {
  auto& st = self->state;
  st.ctx = ctx;
  st.category = std::move(cat);
  ctx->metrics->rooms_active.add(1);  // ~room_state takes it back
  st.rec = std::move(rec);
  st.uri = xccos::room_uri(ctx->domain, st.rec.id);
  st.sys = &self->system();
  st.pool.on = ctx->pool != nullptr;
  st.make_plan();
  if (st.pool.on)
    take_over(self, true);
  else
    load_history(self, true);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.pool.on && st.pool.follower && dm.source == st.pool.follower.address())
      return follower_failed(self, st.pool.generation, make_error(errc::busy, "the follower's node is gone"));
    remove_member(self, dm.source, true);
  });
  schedule_idle_check(self);

  return {
      [=](join_atom, const std::string& user, uint64_t dialog, const caf::actor& session) {
        auto& st = self->state;
        auto addr = session.address();
        bool fresh = st.roster.find(addr) == st.roster.end();
        bool first_session = false;
        if (fresh) {
          self->monitor(session);
          st.roster.emplace(addr, member{session, dialog, user, false, false, {}, {}, st.pool.fanned,
                                         st.cache.empty() ? 0 : st.cache.back().seq});
          first_session = st.user_sessions[user]++ == 0;
          st.dialogs_stale = true;
          st.update_mute();
          st.emit(storage::compliance_kind::join, user);
          self->send(st.ctx->directory, count_atom::value, st.rec.id,
                     static_cast<int>(st.roster.size()));
        }
        join_result r = st.info_for(user);
        st.roster[addr].can_post = r.can_post;
        if (st.roster_muted) {
          r.members.push_back({user, false});
        } else {
          std::unordered_map<std::string, bool> seen;  // one entry per user, not per session
          for (auto& [a, m] : st.roster)
            if (seen.emplace(m.user, true).second) r.members.push_back({m.user, m.manager});
          if (fresh) {
            auto& snap = st.roster[addr].snapshot;
            for (auto& mv : r.members) snap.push_back(mv.uri);
          }
          if (first_session) {
            auto body = std::make_shared<const std::string>(
                xccos::encode_join_notice(st.uri, user, false, st.envid++));
            st.notify_others(addr, body);
          }
        }
        return r;
      },
      [=](ready_atom, const caf::actor& session) { make_ready(self, session, false); },
      [=](ready_atom, const caf::actor& session, bool rejoined) { make_ready(self, session, rejoined); },
      [=](ready_atom, const caf::actor& session, uint64_t after) { make_ready(self, session, true, after); },
      [=](update_room_atom, storage::room_record& rec, const storage::category_record& cat) {
        auto& st = self->state;
        bool facts_changed = rec.name != st.rec.name || rec.topic != st.rec.topic || rec.description != st.rec.description;
        st.rec = std::move(rec);
        st.category = cat;
        st.chat_history = cat.chat_history;
        st.make_plan();
        // Whoever may no longer be in the room is removed and told so (ntc:part about
        // themselves, which closes the room in the client), the others see the part.
        std::vector<caf::actor_addr> out;
        auto ids = st.ctx->identities ? st.ctx->identities->current() : nullptr;
        for (auto& [addr, m] : st.roster)
          if (!ids || !ids->access(m.user, st.rec, cat).can_join)
            out.push_back(addr);
        for (auto& addr : out) {
          auto it = st.roster.find(addr);
          if (it == st.roster.end()) continue;
          st.ctx->edge->send_info(it->second.dialog, std::make_shared<const std::string>(
                                                         xccos::encode_part_notice(st.uri, it->second.user, st.envid++)));
          caf::anon_send(it->second.session, kicked_atom::value, st.uri);
          remove_member(self, addr, true);
        }
        // Those who stay learn the new name, topic, description or their new right to post
        // (not on every access change of the node: only what changed what they see).
        for (auto& [addr, m] : st.roster) {
          join_result info = st.info_for(m.user);
          if (!facts_changed && info.can_post == m.can_post) continue;
          m.can_post = info.can_post;
          caf::anon_send(m.session, room_info_atom::value, std::move(info));
        }
      },
      [=](part_atom, const caf::actor& session) {
        remove_member(self, session.address(), true);
        return caf::make_message(caf::ok_atom::value);
      },
      [=](backchat_atom, const std::string& user,
          int count) -> caf::result<std::vector<storage::message_record>> {
        auto& st = self->state;
        if (room_access a = st.access_of(user); !a.can_join) return make_error(errc::forbidden, a.reason);
        int history = st.ctx->live->current()->chat.default_chat_history;
        size_t n = static_cast<size_t>(std::clamp(count <= 0 ? history : count, 0, history));
        if (n <= st.cache.size()) {
          std::vector<storage::message_record> out(st.cache.end() - static_cast<long>(n), st.cache.end());
          st.emit_backchat(user, out);
          return out;
        }
        // Beyond the cache: read, then answer with what was read and record exactly that.
        // (The asker is joined, so the room does not go idle meanwhile.)
        auto rp = self->make_response_promise();
        self->request(st.ctx->reader, st.ctx->request_timeout, rdlatest_atom::value, st.rec.id,
                      static_cast<uint64_t>(n))
            .then(
                [=](std::vector<storage::message_record>& msgs) mutable {
                  self->state.emit_backchat(user, msgs);
                  rp.deliver(std::move(msgs));
                },
                [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [=](backchat_atom, const std::string& user, int count,
          uint64_t before) -> caf::result<std::vector<storage::message_record>> {
        return older_messages(self, user, count, before);
      },
      [=](post_atom, const std::string& user, std::string& text, std::string& extra,
          const storage::post_id& pid, info_ticket& ticket) -> caf::result<caf::ok_atom> {
        // From here the room holds the post's INFO and answers it (messages.h). In a pool
        // the session keeps the post until it is answered (to send it again if this room
        // is lost), so the request completes then; standalone, at once.
        auto& st = self->state;
        auto sender = self->current_sender();  // before make_response_promise takes it
        room_state::held_info info{std::move(ticket), {}};
        if (st.ctx->pool) info.done = self->make_response_promise();
        caf::response_promise done = info.done;
        if (!sender || st.roster.find(caf::actor_cast<caf::actor_addr>(sender)) == st.roster.end()) {
          room_state::held_post p{std::move(info), {}, {}, false, {}, false, false};
          auto err = make_error(errc::not_joined, "join the room before posting");
          st.answer(p, &err);
        } else {
          accept_post(self, user, std::move(text), std::move(extra), pid, std::move(info), {});
        }
        if (done.pending()) return done;
        return caf::ok_atom::value;
      },
      [=](announce_atom, const std::string& user, std::string& text) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise();
        accept_post(self, user, std::move(text), {}, {}, {}, rp);
        return rp;
      },
      [=](clear_atom, const std::string&, int64_t before, const std::string& admin) -> caf::result<uint64_t> {
        return clear_messages(self, before, admin);
      },
      [=](replace_atom, const message_filter& f) -> caf::result<uint64_t> {
        return replace_messages(self, f);
      },
      [=](import_atom, const std::string&, std::vector<storage::message_record>& msgs)
          -> caf::result<uint64_t> { return import_messages(self, std::move(msgs)); },
      [=](reload_atom) {
        auto& st = self->state;
        if (st.pool.on && !st.pool.lost && !st.handing_off)
          take_over(self, false);
        else if (!st.pool.on)
          load_history(self, false);
      },
      [=](follower_retry_atom) {
        auto& st = self->state;
        st.pool.retry_armed = false;
        st.pool.failed.clear();
        choose_follower(self);
      },
      [=](commit_watch_atom) { on_commit_watch(self); },
      [=](idle_atom, uint64_t generation) {
        auto& st = self->state;
        if (generation != st.idle_generation || !st.roster.empty() || st.in_flight > 0) return;
        // Wait for the directory to forget us before quitting, so that no new lookup can
        // return this actor after it stopped.
        retire(self);
      },
      // Pool: the view changed; a room this node no longer owns hands itself off, one it
      // owns drops a drained follower. Also the retry of a failed claim delete (retire):
      // tried again once nothing is in flight.
      [=](pool_check_atom) {
        auto& st = self->state;
        if (!hands_off(self)) return drop_drained_follower(self);
        if (!st.pool.release_retry) return;
        st.pool.release_retry = false;
        schedule_idle_check(self);
      },
  };
}

}  // namespace

caf::actor spawn_room_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                            storage::room_record rec, storage::category_record cat) {
  return sys.spawn(room_actor, std::move(ctx), std::move(rec), std::move(cat));
}

}  // namespace pchat::actors
