// The URIs XCCOS names rooms and categories with, built and read in this one place:
//
//   ma-chan://<domain>/<room id>       a room (grpchat/@chanUri, chanib/@uri, chanid
//                                      domain+value, the admin API's room "uri")
//   ma-cat://<domain>/<category id>    a category (serverinfo's root, the admin API)
//
// The scheme is matched exactly (lower case, as Lync and SIPE send it). The domain is
// non-empty and has no '/'; the id is non-empty and is everything after the first '/'
// (so it may itself contain '/'). Nothing is unescaped: ids are opaque.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pchat::xccos {

struct uri_parts {
  std::string domain;
  std::string id;  // room id or category id
};

// REQUIRES: domain non-empty without '/', id non-empty (what parse_*_uri accepts back).
std::string room_uri(std::string_view domain, std::string_view room_id);
std::string category_uri(std::string_view domain, std::string_view category_id);

// nullopt for another scheme, an empty domain or id, or no '/' after the domain.
std::optional<uri_parts> parse_room_uri(std::string_view uri);
std::optional<uri_parts> parse_category_uri(std::string_view uri);

// The room id of `uri` when it is a room URI of `domain` (domains compared without regard
// to ASCII case, as DNS names are); nullopt otherwise.
std::optional<std::string> room_id_in_domain(std::string_view uri, std::string_view domain);

}  // namespace pchat::xccos
