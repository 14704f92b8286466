// base64 (RFC 4648 section 4, the standard alphabet "A-Z a-z 0-9 + /"): the one codec for
// the format in pchat. HTTP Basic credentials (app/user_auth) and the keys and values of
// etcd's v3 JSON gateway (pool/etcd_client) go through it.
//
// encode writes '=' padding. decode accepts the padding or its absence (Basic senders differ)
// and nothing else: no white space, no URL-safe alphabet, no data after '=', no length that
// no encoding can have (4n+1 characters).
//
// Threads: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pchat::text {

std::string base64_encode(std::string_view bytes);

// The bytes `in` encodes, or nullopt when `in` is not base64 as above.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace pchat::text
