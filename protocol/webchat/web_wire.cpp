#include "protocol/webchat/web_wire.h"

#include <nlohmann/json.hpp>

#include "protocol/xccos/xccos_codec.h"

namespace pchat::webchat {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The string member `name`: required or optional (empty when absent); `why` set on a wrong type.
bool string_field(const json& j, const char* name, bool required, std::string* out, std::string* why) {
  auto it = j.find(name);
  if (it == j.end()) {
    if (required) *why = std::string("\"") + name + "\" is missing";
    return !required;
  }
  if (!it->is_string()) {
    *why = std::string("\"") + name + "\" must be a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

json to_json(const message& m) {
  json j{{"type", "message"}, {"room", m.room}, {"seq", m.seq}, {"author", m.author}, {"ts", m.ts}, {"text", m.text}};
  if (!m.id.empty()) j["id"] = m.id;
  return j;
}

json facts_json(const char* type, const std::string& room, const room_facts& f) {
  json j{{"type", type},
         {"room", room},
         {"name", f.name},
         {"topic", f.topic},
         {"description", f.description},
         {"can_post", f.can_post}};
  if (!f.can_post) j["post_refusal"] = f.post_refusal;
  return j;
}

}  // namespace

status decode_request(std::string_view text, request& out) {
  out = request{};
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return status::invalid_argument("not JSON (or not valid UTF-8)");
  if (!j.is_object()) return status::invalid_argument("a message is a JSON object");
  std::string type, why;
  if (!string_field(j, "type", true, &type, &why)) return status::invalid_argument(why);
  if (type == "rooms") {
    out.kind = request_kind::rooms;
    return status::ok();
  }
  if (type == "join") out.kind = request_kind::join;
  else if (type == "part") out.kind = request_kind::part;
  else if (type == "post") out.kind = request_kind::post;
  else if (type == "older") out.kind = request_kind::older;
  else return status::invalid_argument("unknown type \"" + type.substr(0, 32) + "\"");
  if (!string_field(j, "room", true, &out.room, &why)) return status::invalid_argument(why);
  if (out.room.empty() || out.room.size() > kMaxRoom)
    return status::invalid_argument("\"room\" must be a room URI of 1.." + std::to_string(kMaxRoom) + " bytes");
  if (out.kind == request_kind::join) {
    if (auto h = j.find("history"); h != j.end()) {
      if (!h->is_number_integer() || h->get<int64_t>() < 0 || h->get<int64_t>() > kMaxHistory)
        return status::invalid_argument("\"history\" must be an integer 0.." + std::to_string(kMaxHistory));
      out.history = h->get<int>();
    }
    if (auto a = j.find("after"); a != j.end() && !a->is_null()) {
      if (!a->is_number_unsigned()) return status::invalid_argument("\"after\" must be a non-negative integer (a seq)");
      out.after = a->get<uint64_t>();
    }
  }
  if (out.kind == request_kind::older) {
    auto b = j.find("before");
    if (b == j.end() || !b->is_number_unsigned() || b->get<uint64_t>() < 1)
      return status::invalid_argument("\"before\" must be a seq >= 1 (the oldest message shown)");
    out.before = b->get<uint64_t>();
    auto c = j.find("count");
    if (c == j.end() || !c->is_number_integer() || c->get<int64_t>() < 1 ||
        c->get<int64_t>() > kMaxHistory)
      return status::invalid_argument("\"count\" must be an integer 1.." +
                                      std::to_string(kMaxHistory));
    out.history = c->get<int>();
  }
  if (out.kind == request_kind::post) {
    if (!string_field(j, "id", true, &out.id, &why)) return status::invalid_argument(why);
    if (out.id.empty() || out.id.size() > kMaxPostId)
      return status::invalid_argument("\"id\" must be 1.." + std::to_string(kMaxPostId) + " characters");
    for (char c : out.id)
      if (c < 0x21 || c > 0x7e) return status::invalid_argument("\"id\" must be printable ASCII without spaces");
    if (!string_field(j, "text", true, &out.text, &why)) return status::invalid_argument(why);
    if (out.text.empty() || out.text.size() > xccos::kMaxChatBytes)
      return status::invalid_argument("\"text\" must be 1.." + std::to_string(xccos::kMaxChatBytes) + " bytes");
  }
  return status::ok();
}

std::string encode_hello(const std::string& user) { return dump({{"type", "hello"}, {"user", user}}); }

std::string encode_rooms(const std::vector<room_entry>& rooms) {
  json list = json::array();
  for (auto& r : rooms)
    list.push_back({{"uri", r.uri}, {"name", r.name}, {"description", r.description}, {"users", r.users},
                    {"private", r.is_private}});
  return dump({{"type", "rooms"}, {"rooms", std::move(list)}});
}

std::string encode_joined(const std::string& room, const room_facts& facts, const std::vector<std::string>& members,
                          const std::vector<message>& backchat, bool gap) {
  json j = facts_json("joined", room, facts);
  json msgs = json::array();
  for (auto& m : backchat) msgs.push_back(to_json(m));
  j["members"] = members;
  j["backchat"] = std::move(msgs);
  j["gap"] = gap;
  return dump(j);
}

std::string encode_older(const std::string& room, const std::vector<message>& page, bool more) {
  json msgs = json::array();
  for (auto& m : page) msgs.push_back(to_json(m));
  return dump({{"type", "older"}, {"room", room}, {"messages", std::move(msgs)}, {"more", more}});
}

std::string encode_room_info(const std::string& room, const room_facts& facts) {
  return dump(facts_json("room_info", room, facts));
}

std::string encode_member(const std::string& room, const std::string& user, bool present) {
  return dump({{"type", present ? "member_joined" : "member_left"}, {"room", room}, {"user", user}});
}

std::string encode_parted(const std::string& room) { return dump({{"type", "parted"}, {"room", room}}); }

std::string encode_message(const message& m) { return dump(to_json(m)); }

std::string encode_ack(const std::string& room, const std::string& id, uint64_t seq) {
  return dump({{"type", "ack"}, {"room", room}, {"id", id}, {"seq", seq}});
}

std::string encode_failed(const std::string& room, const std::string& id, const std::string& error, bool retry) {
  return dump({{"type", "failed"}, {"room", room}, {"id", id}, {"error", error}, {"retry", retry}});
}

std::string encode_error(const std::string& error, const std::string& room, const std::string& id) {
  json j{{"type", "error"}, {"error", error}};
  if (!room.empty()) j["room"] = room;
  if (!id.empty()) j["id"] = id;
  return dump(j);
}

std::string encode_removed(const std::string& room, const std::string& reason) {
  return dump({{"type", "removed"}, {"room", room}, {"reason", reason}});
}

std::string encode_closed(const std::string& reason) { return dump({{"type", "closed"}, {"reason", reason}}); }

}  // namespace pchat::webchat
