#include "app/web_client_api.h"

#include <caf/all.hpp>

#include <nlohmann/json.hpp>

#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/web_edge.h"
#include "actors/web_session_actor.h"
#include "app/admin_json.h"
#include "app/user_auth.h"
#include "app/web_sign_ins.h"
#include "log/log.h"
#include "web/assets.h"

namespace pchat::app {
namespace {

constexpr std::string_view kCookie = "pchat_session";
constexpr std::string_view kSessionPath = "/api/web/session";
constexpr size_t kMaxSocketsPerUser = 16;  // open WebSockets of one user

// The value of cookie `name` in the request's Cookie header, or "".
std::string cookie(const web::http_request& req, std::string_view name) {
  auto it = req.headers.find("cookie");
  if (it == req.headers.end()) return {};
  std::string_view all = it->second;
  while (!all.empty()) {
    size_t end = all.find(';');
    std::string_view part = all.substr(0, end);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
    if (end == std::string_view::npos) break;
    all.remove_prefix(end + 1);
  }
  return {};
}

std::string set_cookie(const web::http_request& req, const std::string& value, bool clear) {
  std::string c = std::string("Set-Cookie: ") + std::string(kCookie) + "=" + value +
                  "; Path=/; HttpOnly; SameSite=Strict";
  if (req.tls) c += "; Secure";
  if (clear) c += "; Max-Age=0";
  return c;
}

web::http_response json_ok(const nlohmann::json& j) {
  return {200, "application/json", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", {}, nullptr};
}

web::http_response asset_response(std::string_view name, const char* type) {
  auto body = web::asset(name);
  web::http_response r{200, type, std::string(body), {}, nullptr};
  // The page holds no data; what it shows comes over the WebSocket.
  r.extra_headers.push_back("Cache-Control: no-cache");
  r.extra_headers.push_back("X-Content-Type-Options: nosniff");
  r.extra_headers.push_back(
      "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
      "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  return r;
}

// The sign-in of the request's cookie, if live and its user still has the password (and
// chat) it signed in with: deleting or disabling a user, or a new password, signs out.
std::optional<web_sign_in> signed_in(const actors::server_context& ctx, web_sign_ins& sign_ins,
                                     const web::http_request& req, std::string* token_out = nullptr) {
  std::string token = cookie(req, kCookie);
  if (token_out) *token_out = token;
  auto in = token.empty() ? std::nullopt : sign_ins.find(token);
  if (!in) return std::nullopt;
  auto ids = ctx.identities ? ctx.identities->current() : nullptr;
  if (!ids || web_sign_ins::digest(ids->ha1(in->user.substr(4))) != in->ha1_digest || !ids->chat_enabled(in->user)) {
    sign_ins.remove(token);
    return std::nullopt;
  }
  return in;
}

web::http_response session_api(const actors::server_context& ctx, web_sign_ins& sign_ins,
                               const web::http_request& req) {
  if (req.method == "POST") {
    if (!cross_site(req).empty()) return error(403, "cross-site sign-in refused");
    auto type = req.headers.find("content-type");
    if (type == req.headers.end() || type->second.rfind("application/json", 0) != 0)
      return error(415, "send {\"address\", \"password\"} as application/json");
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("address") || !j["address"].is_string() ||
        !j.contains("password") || !j["password"].is_string())
      return error(400, "send {\"address\": \"user@domain\", \"password\": \"...\"}");
    auto who = check_password(ctx, j["address"].get<std::string>(), j["password"].get<std::string>(), req.peer);
    if (auto* refused = std::get_if<web::http_response>(&who)) return *refused;
    const std::string& user = std::get<std::string>(who);
    auto [token, in] = sign_ins.add(user, ctx.identities->current()->ha1(user.substr(4)));
    log::write(log::level::info, "web", "signed in", "user=" + log::quote(in.user) + " peer=" + log::quote(req.peer));
    auto r = json_ok({{"user", in.user}, {"csrf", in.csrf}});
    r.extra_headers.push_back(set_cookie(req, token, false));
    return r;
  }
  std::string token;
  auto in = signed_in(ctx, sign_ins, req, &token);
  if (req.method == "GET") {
    if (!in) return error(401, "not signed in");
    return json_ok({{"user", in->user}, {"csrf", in->csrf}});
  }
  if (req.method == "DELETE") {
    if (!cross_site(req).empty()) return error(403, "cross-site sign-out refused");
    auto csrf = req.headers.find("x-pchat-csrf");
    if (in && (csrf == req.headers.end() || !web::constant_time_equal(csrf->second, in->csrf)))
      return error(403, "sign-out needs the X-PChat-CSRF header the sign-in answered");
    if (in) sign_ins.remove(token);
    auto r = json_ok({{"signed_out", true}});
    r.extra_headers.push_back(set_cookie(req, "", true));
    return r;
  }
  auto r = error(405, "use POST (sign in), GET (who am I) or DELETE (sign out)");
  r.extra_headers.push_back("Allow: GET, POST, DELETE");
  return r;
}

bool served_elsewhere(const std::string& path) {
  for (std::string_view p :
       {"/api/v1/", "/api/web/", "/files/", "/manage", "/metrics", "/healthz", "/readyz"})
    if (path.rfind(p, 0) == 0) return true;
  return false;
}

// The WebSocket's events go to its session actor.
class socket_events final : public web::ws_handler {
 public:
  explicit socket_events(caf::actor session) : session_(std::move(session)) {}
  void on_text(std::string message) override { caf::anon_send(session_, actors::web_text_atom::value, std::move(message)); }
  void on_closed() override { caf::anon_send(session_, actors::closed_atom::value, std::string("connection closed")); }

 private:
  caf::actor session_;
};

}  // namespace

std::optional<web_sign_in> web_signed_in(const actors::server_context& ctx, web_sign_ins& sign_ins,
                                         const web::http_request& req) {
  return signed_in(ctx, sign_ins, req);
}

std::optional<web::http_response> web_write_refused(const web_sign_in& in,
                                                    const web::http_request& req) {
  if (!cross_site(req).empty()) return error(403, "cross-site request refused");
  auto csrf = req.headers.find("x-pchat-csrf");
  if (csrf == req.headers.end() || !web::constant_time_equal(csrf->second, in.csrf))
    return error(403, "this change needs the X-PChat-CSRF header the sign-in answered");
  return std::nullopt;
}

web::http_handler make_web_client_api(std::shared_ptr<const actors::server_context> ctx,
                                      std::shared_ptr<web_sign_ins> sign_ins, web::http_handler next) {
  return [ctx, sign_ins, next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path == kSessionPath) return session_api(*ctx, *sign_ins, req);
    if (req.method == "GET" || req.method == "HEAD") {
      if (req.path == "/") return asset_response("app.html", "text/html; charset=utf-8");
      // The page's scripts and styles: /app/<file>.js and .css (web/assets/).
      if (req.path.rfind("/app/", 0) == 0) {
        std::string name = req.path.substr(5);
        bool js = name.ends_with(".js"), css = name.ends_with(".css");
        if ((js || css) && name.find('/') == std::string::npos && !web::asset(name).empty())
          return asset_response(name,
                                js ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      }
    }
    if (served_elsewhere(req.path)) return next(req);
    return {404, "text/plain; charset=utf-8", "not found\n", {}, nullptr};
  };
}

cookie_auth make_web_cookie_auth(std::shared_ptr<const actors::server_context> ctx,
                                 std::shared_ptr<web_sign_ins> sign_ins) {
  return [ctx, sign_ins](const web::http_request& req) -> std::optional<std::variant<std::string, web::http_response>> {
    if (cookie(req, kCookie).empty()) return std::nullopt;
    auto in = signed_in(*ctx, *sign_ins, req);
    if (!in) return error(401, "your sign-in ended; sign in again");
    if (req.method != "GET" && req.method != "HEAD")
      if (auto refused = web_write_refused(*in, req)) return *refused;
    return in->user;
  };
}

web::ws_upgrade_check make_web_socket_check(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                            actors::web_edge& edge, std::shared_ptr<web_sign_ins> sign_ins) {
  return [&sys, ctx, &edge, sign_ins](const web::http_request& req) -> std::variant<web::http_response, web::ws_opener> {
    // Browsers always send Origin on a WebSocket: none, or another host's, is refused.
    if (req.headers.find("origin") == req.headers.end() || !cross_site(req).empty())
      return error(403, "WebSocket from another origin refused");
    auto in = signed_in(*ctx, *sign_ins, req);
    if (!in) return error(401, "sign in first (POST /api/web/session)");
    std::string user = in->user;
    // As a SIP user's sessions are capped (--sip-max-dialogs-per-user).
    if (edge.dialogs_of(user) >= kMaxSocketsPerUser)
      return error(503, "too many open chat windows for " + user + "; close one");
    return web::ws_opener([&sys, ctx, &edge, user](std::shared_ptr<web::ws_connection> conn) -> std::shared_ptr<web::ws_handler> {
      actors::web_link link;
      link.send = [conn](std::string m) { conn->send_text(std::move(m)); };
      link.close = [conn](int code, std::string reason) { conn->close(code, std::move(reason)); };
      auto session = actors::spawn_web_session_actor(sys, ctx, edge, user, std::move(link));
      return std::make_shared<socket_events>(std::move(session));
    });
  };
}

}  // namespace pchat::app
