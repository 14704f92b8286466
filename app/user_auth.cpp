#include "app/user_auth.h"

#include <algorithm>

#include <optional>
#include <utility>

#include "actors/identity_registry.h"
#include "actors/live_settings.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "log/log.h"
#include "protocol/sip/sign_in_throttle.h"
#include "protocol/sip/sip_digest.h"
#include "text/base64.h"

namespace pchat::app {
namespace {

web::http_response challenge(const std::string& domain, const std::string& why) {
  auto r = error(401, why);
  r.extra_headers.push_back("WWW-Authenticate: Basic realm=\"" + domain + "\", charset=\"UTF-8\"");
  return r;
}

}  // namespace

std::variant<std::string, web::http_response> authenticate_user(const actors::server_context& ctx,
                                                                bool trust_user_header,
                                                                const web::http_request& req,
                                                                const cookie_auth& cookie) {
  // A browser of the web client sends its cookie and neither header (also on a node with
  // --auth=none, whose page signs in with a password all the same).
  if (cookie && req.headers.count("authorization") == 0 && req.headers.count("x-pchat-user") == 0)
    if (auto by_cookie = cookie(req)) return std::move(*by_cookie);
  if (trust_user_header) {
    auto it = req.headers.find("x-pchat-user");
    if (it == req.headers.end() || it->second.empty())
      return challenge(ctx.domain, "name the user in X-PChat-User: sip:user@" + ctx.domain +
                                       " (this node runs with --auth=none)");
    std::string uri = it->second;
    if (uri.rfind("sip:", 0) != 0) uri = "sip:" + uri;
    return actors::identity_registry::lower(uri);
  }
  auto it = req.headers.find("authorization");
  std::optional<std::string> credentials;
  // The scheme name is case-insensitive (RFC 7235).
  if (it == req.headers.end() || it->second.size() < 6 ||
      actors::identity_registry::lower(it->second.substr(0, 6)) != "basic " ||
      !(credentials = text::base64_decode(it->second.substr(6))) ||
      credentials->find(':') == std::string::npos)
    return challenge(ctx.domain, "sign in with your SIP address and password (HTTP Basic)");
  std::string decoded = std::move(*credentials);
  // A "sip:" prefix would end the user-id at its own colon (RFC 7617): drop it first.
  if (actors::identity_registry::lower(decoded.substr(0, 4)) == "sip:") decoded.erase(0, 4);
  if (decoded.find(':') == std::string::npos)
    return challenge(ctx.domain, "sign in with your SIP address and password (HTTP Basic)");
  auto checked = check_password(ctx, decoded.substr(0, decoded.find(':')), decoded.substr(decoded.find(':') + 1), req.peer);
  if (auto* refused = std::get_if<web::http_response>(&checked); refused && refused->status == 401)
    return challenge(ctx.domain, "wrong SIP address or password, or the user is disabled");
  return checked;
}

std::variant<std::string, web::http_response> check_password(const actors::server_context& ctx,
                                                             std::string address, const std::string& password,
                                                             const std::string& peer) {
  if (actors::identity_registry::lower(address.substr(0, 4)) == "sip:") address.erase(0, 4);
  // Addresses are case-insensitive; the directory's HA1 was made from the lower-case one,
  // so the domain added to a bare user part is lower-cased too (--domain may be mixed-case).
  std::string user = address;
  if (user.empty() || user.find_first_of(" :\r\n") != std::string::npos)
    return error(401, "wrong SIP address or password, or the user is disabled");
  if (user.find('@') == std::string::npos) user += "@" + ctx.domain;
  user = actors::identity_registry::lower(user);
  std::string uri = "sip:" + user;
  // Failed sign-ins wait, per user and address, shared with SIP Digest: while they do, the
  // password is not checked at all (protocol/sip/sign_in_throttle.h).
  if (ctx.sign_in_throttle) {
    auto wait = ctx.sign_in_throttle->wait(uri, peer);
    if (wait.count() > 0) {
      std::string secs = std::to_string((wait.count() + 999) / 1000);
      auto r = error(429, "too many failed sign-ins: retry in " + secs + " s");
      r.extra_headers.push_back("Retry-After: " + secs);
      return r;
    }
  }
  std::string ha1 = ctx.identities ? ctx.identities->current()->ha1(user) : std::string{};
  // The directory keeps H(A1) = MD5(user:realm:password), the realm being the domain.
  if (ha1.empty() || !web::constant_time_equal(sip::digest_ha1(user, ctx.domain, password), ha1)) {
    std::string counts;
    if (ctx.sign_in_throttle) {
      auto o = ctx.sign_in_throttle->failed(uri, peer);
      counts = " user_failures=" + std::to_string(o.user_failures) +
               " source_failures=" + std::to_string(o.source_failures) +
               " delay_ms=" + std::to_string(o.delay.count());
    }
    log::write(log::level::warn, "http", "authentication failed",
               "user=" + log::quote(uri) + " peer=" + log::quote(peer) + counts +
                   " action=" + log::quote("check the user name and password"));
    return error(401, "wrong SIP address or password, or the user is disabled");
  }
  if (ctx.sign_in_throttle) ctx.sign_in_throttle->succeeded(uri);
  return uri;
}

std::string cross_site(const web::http_request& req) {
  auto origin = req.headers.find("origin");
  if (origin != req.headers.end()) {
    auto at = origin->second.find("://");
    std::string o = at == std::string::npos ? origin->second : origin->second.substr(at + 3);
    auto host = req.headers.find("host");
    if (host == req.headers.end() ||
        actors::identity_registry::lower(o) != actors::identity_registry::lower(host->second))
      return "Origin " + origin->second;
  }
  if (auto site = req.headers.find("sec-fetch-site"); site != req.headers.end() && site->second == "cross-site")
    return "Sec-Fetch-Site: cross-site";
  return {};
}

web::http_head_check make_user_head_check(std::shared_ptr<const actors::server_context> ctx,
                                          bool trust_user_header, size_t min_upload, cookie_auth cookie) {
  return [ctx, trust_user_header, min_upload, cookie](const web::http_request& head,
                                                     web::head_decision* d) -> std::optional<web::http_response> {
    bool files = head.path.rfind(kFilesPrefix, 0) == 0;
    if (!files && head.path.rfind(kManagePrefix, 0) != 0) return std::nullopt;
    // Browsers resend Basic credentials to this origin from any page: requests another
    // site started are refused.
    if (auto why = cross_site(head); !why.empty()) return error(403, "cross-site request refused (" + why + ")");
    auto who = authenticate_user(*ctx, trust_user_header, head, cookie);
    if (auto* refused = std::get_if<web::http_response>(&who)) return *refused;
    if (files && head.method == "POST")  // uploads stream to disk: their size costs no memory
      d->max_body = std::max<size_t>(
          static_cast<size_t>(ctx->live->current()->chat.max_file_size_kb) * 1024 + 1, min_upload);
    return std::nullopt;
  };
}

}  // namespace pchat::app
