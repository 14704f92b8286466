#include "app/text_guard.h"

#include <nlohmann/json.hpp>

#include "app/admin_json.h"
#include "app/json_text.h"
#include "log/log.h"
#include "text/valid_text.h"

namespace pchat::app {

using json = nlohmann::json;

std::string stored_text(const std::string& s, const std::string& record) {
  text::problem p = text::check(s);
  if (p.ok()) return s;
  PCHAT_LOG(warn, "http", "repaired a stored record that is not valid text",
            "record=" + log::quote(record) + " problem=" + log::quote(p.reason));
  return text::repair(s);
}

web::http_handler make_text_guard(web::http_handler next) {
  return [next = std::move(next)](const web::http_request& req) -> web::http_response {
    if (text::problem p = text::check(req.path); !p.ok())
      return error(400, "the path is not valid text: " + p.reason);
    for (const auto& [k, v] : req.query) {
      if (text::problem p = text::check(k); !p.ok())
        return error(400, "a query parameter name is not valid text: " + p.reason);
      if (text::problem p = text::check(v); !p.ok())
        return error(400, "query parameter '" + k + "' is not valid text: " + p.reason);
    }
    if (!req.body.empty()) {
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_discarded()) {
        if (std::string e = invalid_text_in(body); !e.empty()) return error(400, e);
      } else if (text::problem p = text::check(req.body); !p.ok()) {
        // nlohmann refuses invalid UTF-8 with a generic parse error: say what is wrong.
        return error(400, "the body is not valid text: " + p.reason);
      }
    }
    return next(req);
  };
}

}  // namespace pchat::app
