// The web client's protocol (docs/WEB.md): JSON text messages over the WebSocket at /ws,
// one object per message, each with a "type". This is its one codec: requests from the
// browser are decoded here (and refused with a reason), everything the server sends is
// encoded here.
//
// Limits checked by decode_request: a room URI at most kMaxRoom bytes, a post id 1..64
// printable ASCII characters, a post's text 1..xccos::kMaxChatBytes bytes, history 0..200,
// older: count 1..200 and before >= 1.
// Invalid UTF-8 is refused by the JSON parser.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "status/status.h"

namespace pchat::webchat {

constexpr size_t kMaxRoom = 512;
constexpr size_t kMaxPostId = 64;
constexpr int kMaxHistory = 200;

enum class request_kind { rooms, join, part, post, older };

struct request {
  request_kind kind = request_kind::rooms;
  std::string room;     // join, part, post, older
  int history = 0;      // join: newest messages wanted (back-chat); older: how many (1..200)
  std::optional<uint64_t> after;  // join: resume, only messages with a larger seq
  uint64_t before = 0;  // older: only messages with a smaller seq (the oldest shown), >= 1
  std::string id;       // post: the client's id for it (the same on a retry)
  std::string text;     // post
};

// Parses one message from the browser. invalid_argument says what is wrong.
status decode_request(std::string_view json, request& out);

// A room message as the browser shows it. `id` is the author's post id (only in the
// author's own echo); seq 0: not stored (a room without history).
struct message {
  uint64_t seq = 0;
  std::string room, author, ts, text, id;
};

struct room_entry {
  std::string uri, name, description;
  int users = 0;
  bool is_private = false;
};

// What the page shows of an open room, at its join and again when it changes.
struct room_facts {
  std::string name, topic, description;
  bool can_post = true;      // false: the composer is off (auditorium, not a presenter)
  std::string post_refusal;  // why, in plain words
};

std::string encode_hello(const std::string& user);
std::string encode_rooms(const std::vector<room_entry>& rooms);
// `gap`: older messages after `after` exist than the back-chat holds (reload the room).
std::string encode_joined(const std::string& room, const room_facts& facts, const std::vector<std::string>& members,
                          const std::vector<message>& backchat, bool gap);
// A page of "load older", oldest first; `more`: older messages may exist before it.
std::string encode_older(const std::string& room, const std::vector<message>& page, bool more);
// The room's facts changed (settings updated).
std::string encode_room_info(const std::string& room, const room_facts& facts);
// Someone entered (`present`) or left the room: "member_joined" / "member_left".
std::string encode_member(const std::string& room, const std::string& user, bool present);
std::string encode_parted(const std::string& room);
std::string encode_message(const message& m);
std::string encode_ack(const std::string& room, const std::string& id, uint64_t seq);
// A post that was not stored; `retry`: sending it again (same id) may succeed.
std::string encode_failed(const std::string& room, const std::string& id, const std::string& error, bool retry);
// A request refused (bad JSON, unknown type, not joined...); `room` and `id` when known.
std::string encode_error(const std::string& error, const std::string& room = {}, const std::string& id = {});
// Removed from a room (access changed, room disabled).
std::string encode_removed(const std::string& room, const std::string& reason);
// The session ends (signed out, revoked); the server closes the socket next.
std::string encode_closed(const std::string& reason);

}  // namespace pchat::webchat
