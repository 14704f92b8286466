// JSON replies of the admin API, shared by its handlers (admin_api, admin_identity,
// admin_search, admin_archive): pretty-printed bodies, errors as {"error": "..."}.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "web/http_server.h"

namespace pchat::app {

inline web::http_response reply(int status, const nlohmann::json& j) {
  // Invalid UTF-8 (from a client's bytes) is replaced, not thrown on.
  return {status, "application/json",
          j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}
inline web::http_response error(int status, const std::string& what) {
  return reply(status, nlohmann::json{{"error", what}});
}

}  // namespace pchat::app
