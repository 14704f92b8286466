#include "web/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "log/log.h"

namespace pchat::web {
namespace {

constexpr size_t kMaxHead = 16 * 1024;

const char* status_text(int code) {
  switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

http_handler require_bearer_token(std::string token, std::string hint, http_handler next) {
  return [token = std::move(token), hint = std::move(hint), next = std::move(next)](
             const http_request& req) -> http_response {
    std::string given;
    if (auto it = req.headers.find("authorization"); it != req.headers.end() &&
                                                      it->second.rfind("Bearer ", 0) == 0)
      given = it->second.substr(7);
    if (!constant_time_equal(given, token) || token.empty())
      return {401, "application/json",
              "{\"error\": \"missing or wrong admin token: send 'Authorization: Bearer <token>' with the "
              "token from " + hint + " (pchatctl: --data-dir, --token-file or PCHAT_ADMIN_TOKEN)\"}\n"};
    return next(req);
  };
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned>(b[i] ^ (i < a.size() ? a[i] : 0));
  return diff == 0;
}

std::string url_decode(const std::string& s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

http_server::http_server(std::string host, uint16_t port, http_handler handler, size_t max_body)
    : host_(std::move(host)), port_(port), handler_(std::move(handler)), max_body_(max_body) {}

http_server::~http_server() { stop(); }

std::string http_server::start() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) return "invalid HTTP bind address " + host_;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return "bind " + host_ + ":" + std::to_string(port_) + "/http: " + std::strerror(errno);
  if (::listen(listen_fd_, 128) != 0) return std::string("listen: ") + std::strerror(errno);
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
  return {};
}

void http_server::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  ssize_t rc = ::write(wake_fd_, &one, sizeof one);
  (void)rc;
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void http_server::run() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) <= 0) continue;
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    serve(fd);
    ::close(fd);
  }
}

// The response's status line, headers and body.
static std::string render(const http_response& resp) {
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + status_text(resp.status) +
                    "\r\nContent-Type: " + resp.content_type +
                    "\r\nContent-Length: " + std::to_string(resp.body.size());
  for (const auto& h : resp.extra_headers) {
    // A header with a line break would let a value inject headers: dropped.
    if (h.find_first_of("\r\n") == std::string::npos) out += "\r\n" + h;
  }
  return out + "\r\n\r\n" + resp.body;
}

// Waits until `fd` is readable; false when the server is stopping or `deadline` passed,
// so neither an idle keep-alive client nor a slow one holds the thread or shutdown.
static bool wait_readable(int fd, int wake_fd, std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  int n = ::poll(fds, 2, static_cast<int>(left.count()));
  return n > 0 && !fds[1].revents && (fds[0].revents & (POLLIN | POLLHUP | POLLERR));
}

void http_server::serve(int fd) {
  std::string buf;
  char chunk[16 * 1024];
  for (;;) {  // one request per iteration (keep-alive)
    // One deadline for the whole request: a client trickling bytes cannot hold the
    // (single) server thread longer than this.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHead) {
        send_all(fd, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      if (!wait_readable(fd, wake_fd_, deadline)) return;
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
      if (stopping_) return;
    }
    http_request req;
    std::string head = buf.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) {
      send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    req.method = request_line.substr(0, sp1);
    std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t q = target.find('?');
    req.path = url_decode(target.substr(0, q), false);
    if (q != std::string::npos) {
      std::string qs = target.substr(q + 1);
      size_t pos = 0;
      while (pos <= qs.size()) {
        size_t amp = qs.find('&', pos);
        std::string kv = qs.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        size_t eq = kv.find('=');
        if (!kv.empty())
          req.query[url_decode(kv.substr(0, eq), true)] =
              eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1), true);
        if (amp == std::string::npos) break;
        pos = amp + 1;
      }
    }
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      std::string line = head.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
      pos = e == std::string::npos ? head.size() : e + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.headers[name] = value;
    }
    size_t body_len = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end())
      body_len = std::strtoull(it->second.c_str(), nullptr, 10);
    size_t max_body = max_body_;
    if (head_check_) {
      std::optional<http_response> refused;
      try {
        refused = head_check_(req, &max_body);
      } catch (const std::exception& e) {
        PCHAT_LOG(error, "http", "head check failed", "path=" + log::quote(req.path) + " error=" + log::quote(e.what()));
        refused = http_response{500, "application/json", "{\"error\":\"internal error\"}\n"};
      }
      if (refused) {
        refused->extra_headers.push_back("Connection: close");
        send_all(fd, render(*refused));
        return;
      }
    }
    if (body_len > max_body) {
      send_all(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: 43\r\nConnection: close\r\n\r\n{\"error\":\"request body exceeds the limit\"}\n");
      return;
    }
    buf.erase(0, head_end + 4);
    // curl and other clients wait for this before sending a large body (file uploads).
    if (auto it = req.headers.find("expect"); it != req.headers.end() && body_len > buf.size()) {
      std::string v = it->second;
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (v == "100-continue" && !send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return;
    }
    while (buf.size() < body_len) {
      if (!wait_readable(fd, wake_fd_, deadline)) return;
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
    }
    req.body = buf.substr(0, body_len);
    buf.erase(0, body_len);

    http_response resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      PCHAT_LOG(error, "http", "handler failed", "path=" + log::quote(req.path) + " error=" + log::quote(e.what()));
      resp = {500, "application/json", std::string("{\"error\":\"internal error\"}\n")};
    }
    bool close_after = false;
    if (auto it = req.headers.find("connection"); it != req.headers.end() && it->second == "close")
      close_after = true;
    if (close_after) resp.extra_headers.push_back("Connection: close");
    std::string out = render(resp);
    if (!send_all(fd, out) || close_after) return;
  }
}

}  // namespace pchat::web
