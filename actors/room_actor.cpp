#include "actors/room_actor.h"

#include <caf/all.hpp>

#include <chrono>
#include <deque>
#include <unordered_map>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "compliance/event_sink.h"
#include "log/log.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/xccos_codec.h"
#include "storage/store.h"

namespace pchat::actors {
namespace {

int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
};

struct room_state {
  std::shared_ptr<const server_context> ctx;
  storage::room_record rec;
  std::string uri;
  uint64_t next_seq = 1;
  std::deque<storage::message_record> cache;
  size_t cache_cap = 30;
  bool persist = true;  // the category's ChatHistory
  std::unordered_map<caf::actor_addr, member> roster;
  std::unordered_map<std::string, int> user_sessions;  // a user may be in via several sessions
  std::vector<uint64_t> dialogs;  // fan-out targets, rebuilt when the roster changes
  bool dialogs_stale = true;
  bool roster_muted = false;      // above ParticipantUpdateLimit
  size_t in_flight = 0;           // posts waiting for their commit
  uint64_t idle_generation = 0;
  uint64_t envid = 1;
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

  void update_mute() {
    size_t limit = static_cast<size_t>(ctx->config.participant_update_limit);
    if (!roster_muted && roster.size() > limit) roster_muted = true;
    else if (roster_muted && roster.size() * 5 < limit * 4) roster_muted = false;
  }

  void emit(compliance::event_type type, const std::string& user, uint64_t id,
            const std::string& text) {
    if (!ctx->compliance_enabled) return;  // off costs nothing (server_context.h)
    compliance::event e;
    e.type = type;
    e.room_id = rec.id;
    e.room_name = rec.name;
    e.user_uri = user;
    e.message_id = id;
    e.text = text;
    e.ts_micros = now_micros();
    ctx->sink->emit(e);
  }

  // The record of an event that must be staged in the same write as a store change (a post,
  // an admin replacement) rather than go through the sink.
  storage::compliance_record capture(storage::compliance_kind kind, const std::string& user,
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

xccos::chat_message to_wire(const room_state& st, const storage::message_record& m) {
  xccos::chat_message c;
  c.chan_uri = st.uri;
  c.author = m.author;
  c.ts = xccos::utc_timestamp(m.ts_micros);
  c.text = m.text;
  c.extra_xml = m.extra_xml;
  return c;
}

void schedule_idle_check(room_ptr self) {
  auto& st = self->state;
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
  st.emit(compliance::event_type::part, m.user, 0, {});
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

// A post the room accepted: the author's SIP 200 first, then the fan-out to every joined
// member including the author (both through the edge's one queue, so clients see their
// acknowledgement before their echo). One body for all members.
void relay_post(room_ptr self, const storage::message_record& m, uint64_t txn) {
  auto& st = self->state;
  if (txn != 0) st.ctx->edge->respond(txn, 200);  // 0: not from a SIP request (announce)
  auto body = std::make_shared<const std::string>(xccos::encode_grpchat(to_wire(st, m), st.envid++));
  const auto& to = st.targets();
  if (!to.empty()) st.ctx->edge->send_info_many(to, body);
}

// Sends `xs` to the commit actor with the room counted busy (it does not retire meanwhile).
// Once the write is synced, `on_durable(n)` runs (n: the commit actor's answer) and its result
// answers the current request; a failed write answers the error instead.
template <class OnDurable, class... Ts>
caf::result<uint64_t> when_durable(room_ptr self, OnDurable on_durable, Ts&&... xs) {
  auto rp = self->make_response_promise();
  self->state.in_flight++;
  self->request(self->state.ctx->commit, caf::infinite, std::forward<Ts>(xs)...)
      .then(
          [=, on_durable = std::move(on_durable)](uint64_t n) mutable {
            self->state.in_flight--;
            rp.deliver(on_durable(n));
            schedule_idle_check(self);
          },
          [=](caf::error& err) mutable {
            self->state.in_flight--;
            rp.deliver(std::move(err));
            schedule_idle_check(self);
          });
  return rp;
}

// Remove-CsPersistentChatMessage: rewrites the stored messages matching `f` with the
// replacement text (and their compliance events) in one synced write, then updates the
// back-chat cache so later back-chat shows the replacement. Posts still in flight are not
// matched (they were not stored when the admin asked).
caf::result<uint64_t> replace_messages(room_ptr self, const message_filter& f) {
  auto& st = self->state;
  std::vector<storage::message_record> all;
  if (auto s = st.ctx->store->read_from(st.rec.id, 1, SIZE_MAX, &all); !s.is_ok())
    return make_error(errc::storage_failure, s.to_string());
  std::vector<storage::message_record> changed;
  std::vector<storage::compliance_record> events;
  int64_t now = now_micros();
  for (auto& m : all) {
    if (!f.user.empty() && m.author != f.user) continue;
    if (f.before_micros != 0 && m.ts_micros >= f.before_micros) continue;
    if (f.after_micros != 0 && m.ts_micros <= f.after_micros) continue;
    if (!f.contains.empty() && m.text.find(f.contains) == std::string::npos) continue;
    if (m.text == f.replacement && m.extra_xml.empty()) continue;  // replaced already
    m.text = f.replacement;
    m.extra_xml.clear();  // client formatting of the old text no longer applies
    if (st.ctx->compliance_enabled)
      events.push_back(st.capture(storage::compliance_kind::message_replaced, m.author, m.seq,
                                  m.text, now));
    changed.push_back(std::move(m));
  }
  if (changed.empty()) return uint64_t{0};
  return when_durable(
      self,
      [self, changed](uint64_t n) {
        size_t i = 0;  // both ascending by seq
        for (auto& c : self->state.cache) {
          while (i < changed.size() && changed[i].seq < c.seq) ++i;
          if (i < changed.size() && changed[i].seq == c.seq) c = changed[i];
        }
        return n;
      },
      rewrite_atom::value, st.rec.id, changed, std::move(events));
}

// Archive import (app/admin_archive.h): writes the messages the room does not have yet,
// keeping their seqs and timestamps, in one synced write. A seq already stored with the same
// author, time and text is skipped, so importing twice adds nothing; a seq stored with other
// content is a conflict (errc::bad_request, nothing written). REQUIRES: `msgs` ascending by
// seq. The room's next seq moves past the highest imported one at once, so a post racing
// the import cannot reuse it.
caf::result<uint64_t> import_messages(room_ptr self, std::vector<storage::message_record> msgs) {
  auto& st = self->state;
  if (msgs.empty()) return uint64_t{0};
  uint64_t first = msgs.front().seq, last = msgs.back().seq;
  if (first == 0 || last < first) return make_error(errc::bad_request, "import: seqs must ascend from 1");
  std::vector<storage::message_record> stored;
  if (auto s = st.ctx->store->read_from(st.rec.id, first, last - first + 1, &stored); !s.is_ok())
    return make_error(errc::storage_failure, s.to_string());
  std::unordered_map<uint64_t, const storage::message_record*> have;
  for (auto& m : stored) have.emplace(m.seq, &m);
  std::vector<storage::message_record> fresh;
  for (auto& m : msgs) {
    auto it = have.find(m.seq);
    if (it != have.end()) {
      const auto& o = *it->second;
      if (o.author != m.author || o.ts_micros != m.ts_micros || o.text != m.text)
        return make_error(errc::bad_request, "import: room " + st.uri + " already has a different message " +
                                                 std::to_string(m.seq));
      continue;
    }
    if (m.seq < st.next_seq && st.in_flight > 0)
      return make_error(errc::bad_request, "import: room " + st.uri + " is posting; retry");
    fresh.push_back(std::move(m));
  }
  if (fresh.empty()) return uint64_t{0};
  st.next_seq = std::max(st.next_seq, fresh.back().seq + 1);
  return when_durable(
      self,
      [self](uint64_t n) {
        auto& st = self->state;
        std::vector<storage::message_record> latest;  // imported seqs may be anywhere
        if (auto s = st.ctx->store->read_latest(st.rec.id, st.cache_cap, &latest); s.is_ok())
          st.cache.assign(latest.begin(), latest.end());
        return n;
      },
      rewrite_atom::value, st.rec.id, std::move(fresh), std::vector<storage::compliance_record>{});
}

// Accepts a post by `user` (sequence, persist with its compliance event, then the 200 for
// `txn` and the fan-out). REQUIRES: the caller checked that `user` may post here.
caf::result<uint64_t> accept_post(room_ptr self, const std::string& user, std::string text,
                                  std::string extra, uint64_t txn) {
  auto& st = self->state;
  if (st.rec.type == storage::room_type::auditorium &&
      (!st.ctx->identities || !st.ctx->identities->matches(st.rec.presenters, user)))
    return make_error(errc::forbidden, "only presenters post in the auditorium " + st.rec.name);
  storage::message_record m;
  m.seq = st.next_seq++;
  m.author = user;
  m.ts_micros = now_micros();
  m.text = std::move(text);
  m.extra_xml = std::move(extra);
  if (!st.persist && !st.ctx->compliance_enabled) {
    // Category with ChatHistory off: relayed live, never stored, not in back-chat.
    relay_post(self, m, txn);
    return m.seq;
  }
  if (!st.persist)  // compliance still captures it (reference §1.4), durably before the 200
    return when_durable(
        self, [self, m, txn](uint64_t) { relay_post(self, m, txn); return m.seq; },
        capture_atom::value,
        st.capture(storage::compliance_kind::chat, m.author, m.seq, m.text, m.ts_micros),
        caf::ok_atom::value);
  auto stored = [self, m, txn](uint64_t seq) mutable {
    relay_post(self, m, txn);
    auto& st = self->state;
    st.cache.push_back(std::move(m));
    while (st.cache.size() > st.cache_cap) st.cache.pop_front();
    return seq;
  };
  // With compliance on, the post's CHAT event is staged in the same synced write.
  if (st.ctx->compliance_enabled)
    return when_durable(
        self, std::move(stored), commit_atom::value, st.rec.id, m,
        st.capture(storage::compliance_kind::chat, m.author, m.seq, m.text, m.ts_micros));
  return when_durable(self, std::move(stored), commit_atom::value, st.rec.id, m);
}

caf::behavior room_actor(room_ptr self, std::shared_ptr<const server_context> ctx,
                         storage::room_record rec) {
  auto& st = self->state;
  st.ctx = ctx;
  st.rec = std::move(rec);
  st.uri = xccos::room_uri(ctx->domain, st.rec.id);
  st.cache_cap = static_cast<size_t>(ctx->config.default_chat_history);
  if (storage::category_record cat; ctx->store->get_category(st.rec.category_id, &cat).is_ok())
    st.persist = cat.chat_history;
  uint64_t last = 0;
  if (auto s = ctx->store->last_sequence(st.rec.id, &last); !s.is_ok())
    PCHAT_LOG(error, "room", "cannot read last sequence", "room=" + st.uri + " error=" + log::quote(s.to_string()));
  st.next_seq = last + 1;
  std::vector<storage::message_record> latest;
  if (auto s = ctx->store->read_latest(st.rec.id, st.cache_cap, &latest); s.is_ok())
    st.cache.assign(latest.begin(), latest.end());
  self->set_down_handler([=](caf::down_msg& dm) { remove_member(self, dm.source, true); });
  schedule_idle_check(self);

  return {
      [=](join_atom, const std::string& user, uint64_t dialog, const caf::actor& session) {
        auto& st = self->state;
        auto addr = session.address();
        bool fresh = st.roster.find(addr) == st.roster.end();
        bool first_session = false;
        if (fresh) {
          self->monitor(session);
          st.roster.emplace(addr, member{session, dialog, user, false, false, {}});
          first_session = st.user_sessions[user]++ == 0;
          st.dialogs_stale = true;
          st.update_mute();
          st.emit(compliance::event_type::join, user, 0, {});
          self->send(st.ctx->directory, count_atom::value, st.rec.id,
                     static_cast<int>(st.roster.size()));
        }
        join_result r;
        r.uri = st.uri;
        r.name = st.rec.name;
        r.topic = st.rec.topic.empty() ? st.rec.description : st.rec.topic;
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
      [=](ready_atom, const caf::actor& session) {
        // The session's client now knows the room: bring its roster up to date with
        // whoever joined or left since its snapshot, then include it in notices and posts.
        auto& st = self->state;
        auto it = st.roster.find(session.address());
        if (it == st.roster.end() || it->second.ready) return;
        member& me = it->second;
        me.ready = true;
        st.dialogs_stale = true;
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
      },
      [=](update_room_atom, storage::room_record& rec) {
        auto& st = self->state;
        st.rec = std::move(rec);
        storage::category_record cat;
        if (!st.ctx->store->get_category(st.rec.category_id, &cat).is_ok()) cat = {};
        // Whoever may no longer be in the room is removed and told so (ntc:part about
        // themselves, which closes the room in the client), the others see the part.
        std::vector<caf::actor_addr> out;
        for (auto& [addr, m] : st.roster)
          if (!st.ctx->identities || !st.ctx->identities->access(m.user, st.rec, cat).can_join)
            out.push_back(addr);
        for (auto& addr : out) {
          auto it = st.roster.find(addr);
          if (it == st.roster.end()) continue;
          st.ctx->edge->send_info(it->second.dialog, std::make_shared<const std::string>(
                                                         xccos::encode_part_notice(st.uri, it->second.user, st.envid++)));
          caf::anon_send(it->second.session, kicked_atom::value, st.uri);
          remove_member(self, addr, true);
        }
      },
      [=](part_atom, const caf::actor& session) {
        remove_member(self, session.address(), true);
        return caf::make_message(caf::ok_atom::value);
      },
      [=](backchat_atom, const std::string& user,
          int count) -> caf::result<std::vector<storage::message_record>> {
        auto& st = self->state;
        size_t n = static_cast<size_t>(std::clamp(count <= 0 ? st.ctx->config.default_chat_history : count,
                                                  0, st.ctx->config.default_chat_history));
        st.emit(compliance::event_type::backchat, user, 0, {});
        if (n <= st.cache.size())
          return std::vector<storage::message_record>(st.cache.end() - static_cast<long>(n),
                                                      st.cache.end());
        std::vector<storage::message_record> out;
        auto s = st.ctx->store->read_latest(st.rec.id, n, &out);
        if (!s.is_ok()) return make_error(errc::storage_failure, s.to_string());
        return out;
      },
      [=](post_atom, const std::string& user, std::string& text, std::string& extra,
          uint64_t txn) -> caf::result<uint64_t> {
        auto& st = self->state;
        auto sender = self->current_sender();
        if (!sender || st.roster.find(caf::actor_cast<caf::actor_addr>(sender)) == st.roster.end())
          return make_error(errc::not_joined, "join the room before posting");
        return accept_post(self, user, std::move(text), std::move(extra), txn);
      },
      [=](announce_atom, const std::string& user, std::string& text) -> caf::result<uint64_t> {
        return accept_post(self, user, std::move(text), {}, 0);
      },
      [=](clear_atom, const std::string&, int64_t before) -> caf::result<uint64_t> {
        // Clear-CsPersistentChatRoom: everything posted on or before `before` goes, in one
        // synced write (with a MESSAGE_REMOVED compliance event each when compliance is on).
        auto& st = self->state;
        std::vector<storage::message_record> all;
        if (auto s = st.ctx->store->read_from(st.rec.id, 1, SIZE_MAX, &all); !s.is_ok())
          return make_error(errc::storage_failure, s.to_string());
        std::vector<uint64_t> seqs;
        std::vector<storage::compliance_record> events;
        int64_t now = now_micros();
        for (auto& m : all) {
          if (m.ts_micros > before) continue;
          seqs.push_back(m.seq);
          if (st.ctx->compliance_enabled)
            events.push_back(st.capture(storage::compliance_kind::message_removed, m.author, m.seq, m.text, now));
        }
        if (seqs.empty()) return uint64_t{0};
        return when_durable(
            self,
            [self, seqs, before](uint64_t n) {
              auto& st = self->state;
              std::erase_if(st.cache, [&](const storage::message_record& m) { return m.ts_micros <= before; });
              if (st.ctx->indexer) self->send(st.ctx->indexer, ixdel_atom::value, st.rec.id, seqs);
              return n;
            },
            purge_atom::value, st.rec.id, seqs, std::move(events));
      },
      [=](replace_atom, const message_filter& f) -> caf::result<uint64_t> {
        return replace_messages(self, f);
      },
      [=](import_atom, const std::string&, std::vector<storage::message_record>& msgs)
          -> caf::result<uint64_t> { return import_messages(self, std::move(msgs)); },
      [=](idle_atom, uint64_t generation) {
        auto& st = self->state;
        if (generation != st.idle_generation || !st.roster.empty() || st.in_flight > 0) return;
        // Wait for the directory to forget us before quitting, so that no new lookup can
        // return this actor after it stopped.
        self->request(st.ctx->directory, std::chrono::seconds(10), retire_atom::value, st.rec.id)
            .await([=](caf::ok_atom) { self->quit(); },
                   [=](caf::error&) { schedule_idle_check(self); });
      },
  };
}

}  // namespace

caf::actor spawn_room_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                            storage::room_record rec) {
  return sys.spawn(room_actor, std::move(ctx), std::move(rec));
}

}  // namespace pchat::actors
