#include "tests/support/http_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <regex>

#include "tests/support/loopback_socket.h"

namespace pchat::testing {

http_reply http(int port, const std::string& method, const std::string& target,
                const std::vector<std::string>& headers, const std::string& body) {
  http_reply r;
  int fd = connect_loopback(static_cast<uint16_t>(port));
  if (fd < 0) return r;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n" +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n";
  for (auto& h : headers) req += h + "\r\n";
  req += "\r\n" + body;
  send_all(fd, req);  // a server that closes early still gets its answer read
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

std::string json_field(const std::string& text, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\": *(\"([^\"]*)\"|([0-9]+))");
  if (!std::regex_search(text, m, re)) return {};
  return m[2].matched ? m[2].str() : m[3].str();
}

}  // namespace pchat::testing
