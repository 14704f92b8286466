// The HTTP side of valid text (text/valid_text.h): a request guard for the admin API and
// the repair of stored strings on their way out through the HTTP APIs.
#pragma once

#include <string>

#include "web/http_server.h"

namespace pchat::app {

// Answers 400 {"error": "..."} for a request whose path, query values or JSON body hold
// invalid text; passes every other request to `next` unchanged. REQUIRES: every request
// `next` serves carries JSON (or no) body: a body that is not valid text is refused, one
// that is valid text but not JSON is left to `next` to report.
web::http_handler make_text_guard(web::http_handler next);

// A stored string on its way out through the HTTP APIs: returned as is when valid text,
// else repaired (U+FFFD, text/valid_text.h) with a warning naming `record`, so one record
// an older version stored cannot spoil a whole answer.
std::string stored_text(const std::string& s, const std::string& record);

}  // namespace pchat::app
