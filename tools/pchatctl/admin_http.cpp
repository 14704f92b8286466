#include "tools/pchatctl/admin_http.h"

#include <netdb.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pchat::ctl {

namespace {
std::string& admin_token() {
  static std::string token;
  return token;
}
std::string& admin_name() {
  static std::string name;
  return name;
}
std::string read_first_line(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return {};
  char buf[256] = {0};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string s(buf, n);
  auto nl = s.find_first_of("\r\n");
  return nl == std::string::npos ? s : s.substr(0, nl);
}
}  // namespace

void set_admin_token(std::string token) { admin_token() = std::move(token); }

void set_admin_name(std::string name) { admin_name() = std::move(name); }

std::string default_admin_name() {
  std::string raw;
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) raw = sudo;
  if (raw.empty())
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) raw = pw->pw_name;
  if (raw.empty()) raw = "uid-" + std::to_string(::geteuid());
  std::string out;
  for (char c : raw)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '+' || c == '-')
      out += c;
  if (out.size() > 64) out.resize(64);
  return out.empty() ? "uid-" + std::to_string(::geteuid()) : out;
}

std::string find_admin_token(const std::string& token, const std::string& token_file,
                             const std::string& data_dir) {
  if (!token.empty()) return token;
  if (!token_file.empty()) return read_first_line(token_file);
  if (const char* env = std::getenv("PCHAT_ADMIN_TOKEN"); env && *env) return env;
  if (!data_dir.empty()) return read_first_line(data_dir + "/admin.token");
  return read_first_line("data/admin.token");
}

std::string category_key(const std::string& v) {
  if (v.rfind("ma-cat://", 0) == 0) return v.substr(v.rfind('/') + 1);
  return v;
}

std::string url_encode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

http_result http(const std::string& server, const std::string& method, const std::string& path,
                 const std::string& body, int receive_timeout_s) {
  http_result r;
  auto colon = server.rfind(':');
  std::string host = colon == std::string::npos ? server : server.substr(0, colon);
  std::string port = colon == std::string::npos ? "8011" : server.substr(colon + 1);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    r.error = "cannot resolve " + server;
    return r;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM, 0);
  timeval tv{receive_timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    r.error = "cannot connect to " + server + ": " + std::strerror(errno) +
              " (is pchatd running? set --server=HOST:HTTP-PORT)";
    freeaddrinfo(res);
    ::close(fd);
    return r;
  }
  freeaddrinfo(res);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + server +
                    "\r\nConnection: close\r\nContent-Type: application/json\r\n" +
                    (admin_token().empty() ? std::string() : "Authorization: Bearer " + admin_token() + "\r\n") +
                    (admin_name().empty() ? std::string() : "X-PChat-Admin: " + admin_name() + "\r\n") +
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    r.error = "cannot send request to " + server;
    ::close(fd);
    return r;
  }
  std::string resp;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto head_end = resp.find("\r\n\r\n");
  if (resp.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos) {
    r.error = "malformed HTTP response from " + server;
    return r;
  }
  r.status = std::atoi(resp.c_str() + 9);
  r.body = resp.substr(head_end + 4);
  return r;
}

}  // namespace pchat::ctl
