// Who is asking, for the user-facing HTTP services (files, room management): HTTP Basic
// with the user's SIP address and password, checked against the Digest HA1 the directory
// keeps (realm = the domain), or, on a node started with --auth=none, the address in
// `X-PChat-User` (as its SIP edge trusts the From header: tests and closed networks only).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

inline constexpr std::string_view kFilesPrefix = "/files/";    // app/file_api.h
inline constexpr std::string_view kManagePrefix = "/manage/v1/";  // app/room_management_api.h

// A browser signed in to the web client (app/web_client_api.h make_web_cookie_auth): for a
// request carrying its session cookie, the user or the refusal; nullopt without the cookie.
using cookie_auth = std::function<std::optional<std::variant<std::string, web::http_response>>(
    const web::http_request&)>;

// The requester's SIP address ("sip:user@domain", lower-case), or the response refusing
// the request (401 with a Basic challenge and what to send). A request with neither an
// Authorization nor an X-PChat-User header but with the web client's cookie is `cookie`'s
// to answer.
std::variant<std::string, web::http_response> authenticate_user(const actors::server_context& ctx,
                                                                bool trust_user_header,
                                                                const web::http_request& req,
                                                                const cookie_auth& cookie = {});

// The one password check of the HTTP services (Basic above, the web client's sign-in):
// `address` ("user@domain", "sip:user@domain" or "user" in the node's domain) and
// `password` against the Digest HA1 the directory keeps, under the sign-in throttle shared
// with SIP (per user and `peer` address). The user's lower-case SIP URI, or 401 (wrong or
// unknown, one message for both) or 429 with Retry-After while the throttle makes it wait.
std::variant<std::string, web::http_response> check_password(const actors::server_context& ctx,
                                                             std::string address, const std::string& password,
                                                             const std::string& peer);

// Why `req` is a request another site's page made, or empty: its Origin names another host
// than its Host (or is "null": sandboxed frames, files), or Sec-Fetch-Site says
// cross-site. The one check of the user services and the web client's sign-in and socket.
std::string cross_site(const web::http_request& req);

// The HTTP server's head check (web/http_server.h): refuses unauthenticated or cross-site
// requests (Origin of another host, Sec-Fetch-Site: cross-site) to the user services before
// their body is read, and lets file uploads carry MaxFileSizeKB as in force now (and a byte
// more, so that the file service, not the server, says what the limit is; at least
// `min_upload`, the server's own body limit). Other requests keep the server's limit.
web::http_head_check make_user_head_check(std::shared_ptr<const actors::server_context> ctx,
                                          bool trust_user_header, size_t min_upload,
                                          cookie_auth cookie = {});

}  // namespace pchat::app
