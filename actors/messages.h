// Every message exchanged between pchat actors, declared once.
//
// Actors (one concept each):
//   sip_bridge      (not an actor) SIP thread -> session actors
//   session_actor   one per channel dialog: decodes XCCOS, answers the client
//   directory_actor detached; room URI -> room actor, spawning on demand; room search;
//                   category/room creation (the only writer of the directory)
//   room_actor      one per active room: sequence, roster, back-chat cache, fan-out
//   commit_actor    detached; group-commits posts and prefs with one fsync per batch
//
// Each line: message shape  | sender -> receiver | reply.
// Errors travel as caf::error in category "pchat" (see errc below) with a reason string.
#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "storage/records.h"

namespace pchat::actors {

// ---- session_actor
using info_atom = caf::atom_constant<caf::atom("info")>;      // (info, txn u64, body string) | bridge -> session | none
using closed_atom = caf::atom_constant<caf::atom("closed")>;  // (closed, reason string)      | bridge -> session | none

// ---- directory_actor
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;  // (lookup, room_uri)             | session -> dir | caf::actor (room) or errc::not_found
using search_atom = caf::atom_constant<caf::atom("search")>;  // (search, criteria, user_uri)   | session -> dir | std::vector<room_view>
using retire_atom = caf::atom_constant<caf::atom("retire")>;  // (retire, room_id)              | room -> dir    | ok (the room then quits)
using count_atom = caf::atom_constant<caf::atom("count")>;    // (count, room_id, int members)  | room -> dir    | none
using new_category_atom = caf::atom_constant<caf::atom("newcat")>;  // (newcat, category_record) | admin -> dir | category_record (id set)
using new_room_atom = caf::atom_constant<caf::atom("newroom")>;     // (newroom, room_record)     | admin -> dir | room_record (id set)
using list_rooms_atom = caf::atom_constant<caf::atom("lsrooms")>;   // (lsrooms)                  | admin -> dir | std::vector<room_view>
using list_categories_atom = caf::atom_constant<caf::atom("lscats")>;  // (lscats)                | admin -> dir | std::vector<storage::category_record>

// ---- room_actor
using join_atom = caf::atom_constant<caf::atom("rjoin")>;      // (rjoin, user_uri, dialog u64, session actor) | session -> room | join_result
using ready_atom = caf::atom_constant<caf::atom("rready")>;    // (rready, session actor)       | session -> room | none: its rpl:join went out
using part_atom = caf::atom_constant<caf::atom("rpart")>;      // (rpart, session actor)        | session -> room | ok_atom
using backchat_atom = caf::atom_constant<caf::atom("backchat")>;  // (backchat, user_uri, int cnt) | session -> room | std::vector<storage::message_record>
using post_atom = caf::atom_constant<caf::atom("post")>;       // (post, user_uri, text, extra_xml, txn u64) | session -> room | u64 seq, after it is durable
                                                               //   (the room answers the INFO's SIP 200 itself, before the fan-out)
using idle_atom = caf::atom_constant<caf::atom("idlechk")>;    // (idlechk, u64 generation)    | room -> itself | none

// ---- commit_actor
using commit_atom = caf::atom_constant<caf::atom("commit")>;   // (commit, room_id, message_record) | room -> commit | u64 seq once synced
using set_pref_atom = caf::atom_constant<caf::atom("setpref")>;  // (setpref, user, label, value) | session -> commit | ok_atom once synced
using flush_atom = caf::atom_constant<caf::atom("flush")>;     // (flush)                        | commit -> itself | none

// Domain errors (category atom "pchat"). DO NOT renumber: values may cross pool nodes.
enum class errc : uint8_t {
  not_found = 1,       // unknown room
  forbidden = 2,       // not allowed (disabled room, not a member, ...)
  not_joined = 3,      // command needs the session to be in the room
  storage_failure = 4, // the store refused the write (disk full, I/O error)
  bad_request = 5,
};
caf::error make_error(errc code, std::string reason);
// Returns true (and fills code/reason) if `e` is one of ours.
bool decode_error(const caf::error& e, errc* code, std::string* reason);

// A room as shown in search results and the admin API.
struct room_view {
  std::string id;
  std::string uri;
  std::string name;
  std::string description;
  std::string category_id;
  int user_count = 0;
  bool is_private = false;
  bool file_post = false;
  bool invite = false;
  bool logged = true;
  bool disabled = false;
};

struct member_view {
  std::string uri;
  bool manager = false;
};

// What a session learns when it joins a room.
struct join_result {
  std::string uri;
  std::string name;
  std::string topic;
  std::vector<member_view> members;  // empty above ParticipantUpdateLimit (except self)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_view& x) {
  return f(caf::meta::type_name("room_view"), x.id, x.uri, x.name, x.description, x.category_id,
           x.user_count, x.is_private, x.file_post, x.invite, x.logged, x.disabled);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_view& x) {
  return f(caf::meta::type_name("member_view"), x.uri, x.manager);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_result& x) {
  return f(caf::meta::type_name("join_result"), x.uri, x.name, x.topic, x.members);
}

// Registers every custom message type with a CAF config (needed for pool nodes).
void add_message_types(caf::actor_system_config& cfg);

}  // namespace pchat::actors

namespace pchat::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_record& x) {
  return f(caf::meta::type_name("message_record"), x.seq, x.author, x.ts_micros, x.text,
           x.extra_xml);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, category_record& x) {
  return f(caf::meta::type_name("category_record"), x.id, x.name, x.description,
           x.allowed_members, x.denied_members, x.creators, x.file_upload, x.invitations,
           x.chat_history);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_record& x) {
  auto type = static_cast<uint8_t>(x.type);
  auto privacy = static_cast<uint8_t>(x.privacy);
  auto inv = static_cast<uint8_t>(x.invitations);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.type = static_cast<room_type>(type);
    x.privacy = static_cast<room_privacy>(privacy);
    x.invitations = static_cast<room_invitations>(inv);
    return caf::none;
  });
  return f(caf::meta::type_name("room_record"), x.id, x.name, x.description, x.category_id,
           x.topic, type, privacy, inv, x.disabled, x.addin, x.members, x.managers, x.presenters,
           load);
}

}  // namespace pchat::storage
