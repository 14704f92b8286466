// The admin API client used by pchatctl: one HTTP/1.1 request per connection
// (Connection: close), body read to EOF.
#pragma once

#include <string>

namespace pchat::ctl {

struct http_result {
  int status = 0;      // HTTP status; 0 when the request never completed
  std::string body;
  std::string error;   // transport failure, with what to do about it
};

// The admin token sent as `Authorization: Bearer` with every request (empty: none).
void set_admin_token(std::string token);
// The name sent as X-PChat-Admin with every request (text/admin_name.h): pchatd records
// the admin's own compliance events under it.
void set_admin_name(std::string name);
// The person running pchatctl: $SUDO_USER (the login behind sudo), else the effective
// user's login name, else "uid-N"; reduced to the characters text/admin_name.h allows.
std::string default_admin_name();
// Finds the token: explicit value, else the file, else $PCHAT_ADMIN_TOKEN, else
// <data_dir>/admin.token, else ./data/admin.token (the README's default data folder).
std::string find_admin_token(const std::string& token, const std::string& token_file,
                             const std::string& data_dir);

// A category as the API's room and export requests take it: a ma-cat://DOMAIN/ID URI
// becomes its ID; an id or a name is passed as is.
std::string category_key(const std::string& id_name_or_uri);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(const std::string& s);

// `server` is HOST[:PORT] (default port 8011). Export and import may take long on big
// stores, hence the generous receive timeout.
http_result http(const std::string& server, const std::string& method, const std::string& path,
                 const std::string& body = {}, int receive_timeout_s = 600);

}  // namespace pchat::ctl
