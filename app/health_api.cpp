#include "app/health_api.h"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

#include "actors/messages.h"
#include "actors/server_context.h"
#include "protocol/sip/sip_endpoint.h"
#include "storage/database.h"

namespace pchat::app {
namespace {

using json = nlohmann::json;
constexpr auto kDirectoryTimeout = std::chrono::seconds(2);

// "" when the directory answers with its categories, else why not.
std::string directory_problem(caf::actor_system& sys, const actors::server_context& ctx) {
  caf::scoped_actor self{sys};
  std::string problem;
  self->request(ctx.directory, kDirectoryTimeout, actors::list_categories_atom::value)
      .receive([&](std::vector<storage::category_record>&) {},
               [&](caf::error& err) {
                 actors::errc code;
                 std::string reason;
                 problem = actors::decode_error(err, &code, &reason) ? reason : sys.render(err);
                 if (problem.empty()) problem = "no answer";
               });
  return problem;
}

}  // namespace

web::http_handler make_health_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                  const sip::endpoint* edge, web::http_handler next) {
  return [&sys, ctx = std::move(ctx), edge, next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (req.path != "/healthz" && req.path != "/readyz") return next(req);
    if (req.method != "GET")
      return {405, "application/json", "{\"error\": \"" + req.path + " takes GET\"}\n", {"Allow: GET"}, nullptr};
    if (req.path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n", {}, nullptr};
    json checks = json::object();
    std::string reason;
    auto check = [&](const char* name, const std::string& problem, const std::string& action) {
      checks[name] = problem.empty() ? "ok" : problem;
      if (!problem.empty() && reason.empty()) reason = std::string(name) + ": " + problem + " (" + action + ")";
    };
    auto writable = ctx->store->db().check_writable();
    check("store", writable.is_ok() ? std::string{} : "writes stopped: " + writable.reason(),
          "free space in the data folder; writes resume by themselves");
    check("directory", directory_problem(sys, *ctx), "check the store; the directory reads again by itself");
    check("sip", edge->port() != 0 ? std::string{} : "not listening", "check --sip-port and the log");
    json body{{"ready", reason.empty()}, {"checks", checks}};
    if (!reason.empty()) body["reason"] = reason;
    return {reason.empty() ? 200 : 503, "application/json", body.dump() + "\n", {}, nullptr};
  };
}

}  // namespace pchat::app
