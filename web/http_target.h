// What the HTTP server reads out of a request's text beyond Beast's own parsing: the target
// (path and query, percent-decoded) and a Range header value. Pure functions of the bytes a
// client sent, fuzzed on their own with Beast's request parser (tests/fuzz/fuzz_http_request.cpp).
// Thread safety: reentrant.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pchat::web {

// Percent-decoding for paths and query values ('+' is a space in query values). A '%' not
// followed by two hex digits stays as it is.
std::string url_decode(const std::string& s, bool plus_is_space);

// Splits a request target at '?' into the decoded path and the decoded query parameters
// (a later duplicate key wins; a key without '=' maps to "").
void parse_target(std::string_view target, std::string* path, std::map<std::string, std::string>* query);

// The single range of a `Range` header value against a body of `size` bytes:
// nullopt = no usable range (serve the whole body: absent, not bytes, or several ranges);
// {first, last} inclusive; first > last = unsatisfiable (416).
std::optional<std::pair<uint64_t, uint64_t>> parse_byte_range(std::string_view value, uint64_t size);

}  // namespace pchat::web
