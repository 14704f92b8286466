#include "actors/session_actor.h"

#include <caf/all.hpp>

#include <map>
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
  static inline const char* name = "session";
};

using session_ptr = caf::stateful_actor<session_state>*;

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

// Looks the room up and joins it; retries once if the room actor retired meanwhile.
void join_room(session_ptr self, const std::string& uri, int attempt,
               std::function<void(caf::expected<join_result>)> done) {
  auto& st = self->state;
  self->request(st.ctx->directory, st.ctx->request_timeout, lookup_atom::value, uri, st.user)
      .then(
          [=](caf::actor room) {
            auto& st = self->state;
            self->request(room, st.ctx->request_timeout, join_atom::value, st.user,
                          st.info.id, caf::actor_cast<caf::actor>(self))
                .then(
                    [=](join_result& r) {
                      self->state.joined[uri] = room;
                      done(std::move(r));
                    },
                    [=](caf::error& err) {
                      if (err == caf::sec::request_receiver_down && attempt == 0) {
                        join_room(self, uri, 1, done);
                        return;
                      }
                      done(std::move(err));
                    });
          },
          [=](caf::error& err) { done(std::move(err)); });
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
  if (!st.ctx->identities || !st.ctx->identities->current()->chat_enabled(st.user)) {
    refuse(self, txn, cmd, xccos::result_code::forbidden, "Persistent Chat is not enabled for " + st.user);
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
        refuse(self, txn, cmd, xccos::result_code::not_found, "not in room " + uri);
        return;
      }
      auto room = it->second;
      st.joined.erase(it);
      // Parted either way: the session no longer sends to the room (a room that did not
      // answer removes the session when it sees it down, or at its next post).
      self->request(room, timeout, part_atom::value, caf::actor_cast<caf::actor>(self))
          .then([=](caf::ok_atom) { answer(self, txn, xccos::encode_part_reply(head(self, cmd), uri)); },
                [=](caf::error&) { answer(self, txn, xccos::encode_part_reply(head(self, cmd), uri)); });
      return;
    }
    case K::bccontext: {
      const std::string& uri = cmd.rooms.front().uri;
      auto it = st.joined.find(uri);
      if (it == st.joined.end()) {
        refuse(self, txn, cmd, xccos::result_code::forbidden, "join " + uri + " first");
        return;
      }
      self->request(it->second, timeout, backchat_atom::value, st.user, cmd.history_count)
          .then(
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
              [=](caf::error& err) { answer_error(self, txn, cmd, err); });
      return;
    }
    case K::grpchat: {
      auto it = st.joined.find(cmd.chat.chan_uri);
      if (it == st.joined.end())
        return refuse(self, txn, cmd, xccos::result_code::forbidden,
                      "join " + cmd.chat.chan_uri + " before posting");
      // The post's INFO is handed over to the room (messages.h, "Who answers an INFO"):
      // it answers the 200 once the post is durable, before its fan-out, and every refusal.
      // Identity comes from the dialog, never from the XML's author attribute.
      st.pending.erase(txn);
      st.handovers++;
      info_ticket ticket{txn, st.info.id, cmd.envid, cmd.seqid};
      self->request(it->second, caf::infinite, post_atom::value, st.user, std::move(cmd.chat.text),
                    std::move(cmd.chat.extra_xml), st.ctx->post_ids->next(), std::move(ticket))
          .then(
              [=](caf::ok_atom) {  // the room holds it now
                self->state.handovers--;
                quit_when_idle(self);
              },
              [=, envid = cmd.envid, seqid = cmd.seqid](caf::error& err) {
                // The room never held it (it was gone): the INFO is ours again.
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
              });
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
      [=](kicked_atom, const std::string& room_uri) { self->state.joined.erase(room_uri); },
      [=](closed_atom, const std::string&) {
        auto& st = self->state;
        for (auto& [uri, room] : st.joined) self->send(room, part_atom::value, caf::actor_cast<caf::actor>(self));
        st.joined.clear();
        st.closing = true;
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
