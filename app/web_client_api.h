// The web chat client (docs/WEB.md): the page, its sign-in, and its WebSocket.
//
//   GET    /                   the page (web/assets/app.html; its .js and .css files under /app/)
//   POST   /api/web/session    {address, password} -> 200 {user, csrf} and the session cookie
//                              (pchat_session: HttpOnly, SameSite=Strict, Path=/, Secure
//                              over HTTPS); 401 wrong, 429 throttled (app/user_auth.h
//                              check_password: the same check and throttle as SIP and Basic)
//   GET    /api/web/session    {user, csrf} for the cookie's sign-in, else 401
//   DELETE /api/web/session    signs out (needs X-PChat-CSRF); the cookie is cleared
//   GET    /ws                 the WebSocket (web/websocket.h): the cookie's sign-in, and an
//                              Origin naming this host, else refused before the handshake
//
// Writes (POST, DELETE) and the upgrade are refused when an Origin header names another
// host; POST needs Content-Type application/json (no cross-site form can send it).
// Other paths that no service of pchatd serves answer a plain 404.
#pragma once

#include <caf/fwd.hpp>

#include <memory>
#include <optional>

#include "app/user_auth.h"
#include "app/web_sign_ins.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
class web_edge;
}

namespace pchat::app {

class web_sign_ins;

// REQUIRES: `sys`, `edge` and `sign_ins` outlive the handler and the upgrade check.
web::http_handler make_web_client_api(std::shared_ptr<const actors::server_context> ctx,
                                      std::shared_ptr<web_sign_ins> sign_ins, web::http_handler next);
// The live sign-in of the request's cookie, as the socket checks it (the user still has the
// password and Persistent Chat it signed in with), for the web client's other endpoints
// (app/web_rooms_api.h); nullopt otherwise (the sign-in is then forgotten).
std::optional<web_sign_in> web_signed_in(const actors::server_context& ctx, web_sign_ins& sign_ins,
                                         const web::http_request& req);
// A write of the web client (not the sign-in) may go on: no cross-site request and the
// sign-in's csrf token in X-PChat-CSRF; else the refusal (403) to send.
std::optional<web::http_response> web_write_refused(const web_sign_in& in,
                                                    const web::http_request& req);

// The file service's way in for the page (app/user_auth.h cookie_auth): the cookie's live
// sign-in is the user; a write (not GET or HEAD) also needs the sign-in's X-PChat-CSRF
// header (403 without: a form of another site cannot send it); an ended sign-in is 401.
cookie_auth make_web_cookie_auth(std::shared_ptr<const actors::server_context> ctx,
                                 std::shared_ptr<web_sign_ins> sign_ins);
web::ws_upgrade_check make_web_socket_check(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                            actors::web_edge& edge, std::shared_ptr<web_sign_ins> sign_ins);

}  // namespace pchat::app
