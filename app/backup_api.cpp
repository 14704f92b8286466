#include "app/backup_api.h"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>

#include "actors/backup_actor.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "app/admin_json.h"
#include "app/node_facts.h"

namespace pchat::app {

namespace {

using json = nlohmann::json;

web::http_response handle_backup(caf::actor_system& sys, const std::shared_ptr<const actors::server_context>& ctx,
                                  const node_facts& facts, const std::shared_ptr<std::atomic<bool>>& busy,
                                  const web::http_request& req) {
  if (req.method != "POST") return error(405, "use POST");
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return error(400, "the body must be a JSON object: {\"dir\": \"/path\"}");
  if (!body.contains("dir") || !body["dir"].is_string() || body["dir"].get<std::string>().empty())
    return error(400, "dir (the backup folder, an absolute path) is required");
  int timeout_s = kBackupDefaultTimeoutSeconds;
  if (body.contains("timeout_seconds")) {
    const json& t = body["timeout_seconds"];
    if (!t.is_number_integer() || t.get<int64_t>() < 1 || t.get<int64_t>() > kBackupMaxTimeoutSeconds)
      return error(400, "timeout_seconds must be a whole number in 1.." + std::to_string(kBackupMaxTimeoutSeconds));
    timeout_s = t.get<int>();
  }
  for (const auto& [k, v] : body.items())
    if (k != "dir" && k != "timeout_seconds") return error(400, "unknown field " + k + " (dir, timeout_seconds)");
  if (busy->exchange(true)) return error(409, "a backup is already running on this node: wait for it to finish");
  auto job = std::make_shared<actors::backup_job>();
  job->busy = busy;
  storage::backup_origin origin{facts.version, facts.host, ctx->domain, facts.data_dir};
  caf::actor worker = actors::spawn_backup_actor(sys, ctx->store, ctx->files_dir, std::move(origin), job);
  const std::string dir = body["dir"].get<std::string>();
  web::http_response out;
  caf::scoped_actor self{sys};
  self->request(worker, std::chrono::seconds(timeout_s), actors::backup_atom::value, dir)
      .receive(
          [&](actors::backup_result& r) {
            switch (static_cast<status::code>(r.code)) {
              case status::code::ok:
                out = reply(201, json::parse(r.summary, nullptr, false));
                return;
              case status::code::invalid_argument:
                out = error(400, r.reason);
                return;
              case status::code::already_exists:
                out = error(409, r.reason);
                return;
              case status::code::not_found:
              case status::code::corruption:
              case status::code::io_error:
                break;
            }
            out = r.no_space ? error(507, "no space left for the backup: " + r.reason +
                                              " (free space or choose a folder on another disk; what it wrote is removed)")
                             : error(500, "backup failed: " + r.reason + " (what it wrote is removed)");
          },
          [&](caf::error&) {
            job->cancel = true;  // the actor stops at the next file and removes what it wrote
            out = error(503, "the backup did not finish within " + std::to_string(timeout_s) +
                                 " s: cancelled, what it wrote is being removed (give a longer timeout_seconds)");
          });
  return out;
}

}  // namespace

web::http_handler make_backup_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                  std::shared_ptr<const node_facts> facts, web::http_handler next) {
  auto busy = std::make_shared<std::atomic<bool>>(false);
  return [&sys, ctx = std::move(ctx), facts = std::move(facts), busy, next = std::move(next)](
             const web::http_request& req) {
    if (req.path == "/api/v1/backup") return handle_backup(sys, ctx, *facts, busy, req);
    return next(req);
  };
}

}  // namespace pchat::app
