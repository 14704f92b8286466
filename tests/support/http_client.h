// A minimal HTTP/1.1 client for end-to-end tests of pchatd's HTTP services: one request
// per connection (Connection: close), read to EOF, loopback only. Blocking, on the caller's
// thread; a server that stops answering is given up after 10 s (receive timeout).
#pragma once

#include <string>
#include <vector>

namespace pchat::testing {

struct http_reply {
  int status = 0;    // 0: no (complete) response
  std::string head;  // status line and headers
  std::string body;
};

// One request to 127.0.0.1:`port`; `headers` are whole lines without CRLF ("Name: value").
// Content-Length is always sent (0 without a body).
http_reply http(int port, const std::string& method, const std::string& target,
                const std::vector<std::string>& headers = {}, const std::string& body = {});

// The value of `"key": "..."` or `"key": 123` in a JSON text (first occurrence), "" if none.
// For pchatd's flat replies; parse with nlohmann::json where structure matters.
std::string json_field(const std::string& text, const std::string& key);

}  // namespace pchat::testing
