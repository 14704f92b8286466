// The web client's rooms (docs/WEB.md "Finding and following rooms"): search, the rooms the
// user follows, invitations. Signed in by the web client's cookie (app/web_client_api.h);
// writes need X-PChat-CSRF.
//
//   GET    /api/web/rooms?q=TEXT      rooms whose name or description holds TEXT (0..256
//                                     bytes; empty: every room), found as cmd:chansrch finds
//                                     them (the directory's search): {rooms: [room]}
//   GET    /api/web/follows           the rooms the user follows: {rooms: [room]}
//   POST   /api/web/follows           {room: URI}: follows it (404 unless the user may see it
//                                     now; 413 beyond xccos::kMaxFollowedRooms or the
//                                     preference quota) -> 200 {rooms: [room]}
//   DELETE /api/web/follows?room=URI  unfollows it (also a room no longer seen) -> 200 {rooms}
//   POST   /api/web/read              {room: URI, seq: N}: I have read the followed room
//                                     through N (its marker moves forward only, and never
//                                     past the room's newest message) -> 200 {rooms}; 404 a
//                                     room I do not follow
//   GET    /api/web/invitations       invitations to rooms the user may join now and does not
//                                     follow yet, newest first: {invitations: [{id, room, name,
//                                     inviter, ts}]}; accepting is following (and opening) it
//
//   room = {uri, name, description, topic, users, privacy ("open", "closed", "secret"),
//           role ("manager", "presenter", "member" or ""), can_join, can_post, followed};
//           followed rooms add last_seq (the room's newest message), read (the read marker,
//           once there is one) and unread (the messages after it)
//
// The followed rooms are the preference SIP clients keep (protocol/xccos/followed_rooms.h,
// kedzie.GroupChannels): one list on every client of the user. Only rooms the user may see
// at the moment of the request are shown (default-deny: a room made secret, or one they
// lost, drops out of every answer but stays followed, and comes back if access does).
// Follow and unfollow read, change and write the list under one lock of this node, through
// the commit actor's preference writer (quota, synced; in a pool the directory log).
// Unread counts: the read markers are one more preference (protocol/webchat/read_markers.h),
// so they follow the user between browsers; following a room sets its marker at the room's
// newest message; a room without a marker (followed by a SIP client) counts 0 until read
// once on the web. The newest seq is this node's copy of the room's log.
// Threads: the HTTP handler threads (blocking requests to the actors, store reads).
#pragma once

#include <caf/fwd.hpp>

#include <memory>
#include <optional>
#include <string>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

class web_sign_ins;

// Answers /api/web/... (404 for a path it does not know) and passes every other request to
// `next`. REQUIRES: `sys` outlives the handler.
// Stores one preference of `user` through the node's preference writer (quota, synced,
// shared in a pool), as a SIP client's setpref; the refusal to send if it was not stored.
// Blocks the calling (HTTP) thread.
std::optional<web::http_response> web_put_pref(caf::actor_system& sys,
                                               const actors::server_context& ctx,
                                               const std::string& user, const std::string& label,
                                               const std::string& value);

web::http_handler make_web_rooms_api(caf::actor_system& sys,
                                     std::shared_ptr<const actors::server_context> ctx,
                                     std::shared_ptr<web_sign_ins> sign_ins,
                                     web::http_handler next);

}  // namespace pchat::app
