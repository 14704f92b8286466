// A minimal HTTP/1.1 client for end-to-end tests of pchatd's HTTP services: one request
// per connection (Connection: close), read to EOF, loopback only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

namespace pchat::testing {

struct http_reply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// One HTTP/1.1 request on its own connection (Connection: close), read to EOF.
inline http_reply http(int port, const std::string& method, const std::string& target,
                const std::vector<std::string>& headers = {}, const std::string& body = {}) {
  http_reply r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return r;
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n" +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n";
  for (auto& h : headers) req += h + "\r\n";
  req += "\r\n" + body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string all;
  char buf[65536];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  auto end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12) return r;
  r.status = std::atoi(all.c_str() + 9);
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

// The value of `"key": "..."` or `"key": 123` in a JSON text (first occurrence).
inline std::string json_field(const std::string& text, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\": *(\"([^\"]*)\"|([0-9]+))");
  if (!std::regex_search(text, m, re)) return {};
  return m[2].matched ? m[2].str() : m[3].str();
}

}  // namespace pchat::testing
