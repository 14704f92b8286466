// web_session_actor: one per browser WebSocket (docs/WEB.md). A room member like a SIP
// session (actors/session_actor.h): it looks rooms up in the directory, joins the same room
// actors with a dialog id of its own (actors/web_edge.h), is counted and checked by them
// like any member, receives their fan-out, and posts with the 200-after-durable rule: a
// post is "ack"ed to the browser only once the room answered it 200 (stored), "failed"
// for every other outcome, including no answer within commit_timeout + request_timeout.
//
// The browser names each post with its own id; the post's storage::post_id is derived
// from (user, id), so a retry with the same id (after a lost answer, a reconnect) is
// stored once: the room answers 200 again for a post id it holds. The same id in flight
// twice is sent once.
//
// It ends on (closed, reason): its connection closed, its user lost access
// (web_edge::end_user: the browser is told, the socket closed), or the server stops
// (kServerStopping: the socket closes with 1001, the page reconnects); it parts every room.
#pragma once

#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>

namespace pchat::actors {

struct server_context;
class web_edge;

// The closed_atom reason of a server stop (web_edge::end_all).
inline constexpr const char* kServerStopping = "the server is stopping";

// How the session reaches its browser (the WebSocket, app/web_client_api.cpp). Both may be
// called from the actor's thread; they must not block.
struct web_link {
  std::function<void(std::string)> send;          // one JSON text message
  std::function<void(int, std::string)> close;    // close code (1000, 1008), reason
};

// REQUIRES: `edge` is the node's web_edge and outlives the actor; `user` is the signed-in
// user's lower-case SIP URI.
caf::actor spawn_web_session_actor(caf::actor_system& sys, std::shared_ptr<const server_context> ctx,
                                   web_edge& edge, std::string user, web_link link);

}  // namespace pchat::actors
