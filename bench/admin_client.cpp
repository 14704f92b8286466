#include "bench/admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pchat::bench {

namespace {
// The admin API answers within its own 30 s per request limit (web/http_server.h).
constexpr int kIoTimeoutSeconds = 35;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

admin_client::admin_client(std::string host_port) {
  auto colon = host_port.rfind(':');
  host_ = colon == std::string::npos ? host_port : host_port.substr(0, colon);
  port_ = colon == std::string::npos
              ? 8011
              : static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1));
}

admin_client::~admin_client() {
  disconnect();
}

void admin_client::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool admin_client::connect_once() {
  if (fd_ >= 0) return true;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  if (inet_pton(AF_INET, host_.c_str(), &a.sin_addr) != 1) {
    error_ = "admin address is not an IPv4 literal: " + host_;
    return false;
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  timeval tv{kIoTimeoutSeconds, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    error_ = "cannot connect to admin API " + host_ + ":" + std::to_string(port_) + ": " +
             std::strerror(errno);
    disconnect();
    return false;
  }
  return true;
}

bool admin_client::send_all(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("admin send: ") + std::strerror(errno);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool admin_client::read_response(response& out) {
  char chunk[16384];
  size_t head_end;
  while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = n == 0 ? "admin API closed the connection"
                      : std::string("admin recv: ") + std::strerror(errno);
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
  }
  std::string head = buf_.substr(0, head_end);
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) {
    error_ = "admin API sent no HTTP status line";
    return false;
  }
  out.status = std::atoi(head.c_str() + 9);
  size_t length = 0;
  bool closes = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line =
        lower(head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2));
    if (line.rfind("content-length:", 0) == 0)
      length = std::strtoul(line.c_str() + 15, nullptr, 10);
    if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) closes = true;
    pos = next;
  }
  size_t total = head_end + 4 + length;
  while (buf_.size() < total) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = "admin API closed the connection inside a body";
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
  }
  std::string body = buf_.substr(head_end + 4, length);
  buf_.erase(0, total);
  out.body = body.empty() ? nlohmann::json() : nlohmann::json::parse(body, nullptr, false);
  out.text = std::move(body);
  if (closes) disconnect();
  return true;
}

admin_client::response admin_client::request(const std::string& method, const std::string& path,
                                             const std::string& body) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host_ + ":" +
                    std::to_string(port_) + "\r\nConnection: keep-alive\r\n";
  if (!body.empty()) req += "Content-Type: application/json\r\n";
  if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  // A keep-alive connection the server closed in the meantime fails at once: retry on a
  // fresh one, once. Non-idempotent requests are only retried when nothing was read back.
  for (int attempt = 0; attempt < 2; ++attempt) {
    response r;
    if (!connect_once()) return r;
    if (send_all(req) && read_response(r)) return r;
    disconnect();
  }
  return {};
}

std::optional<nlohmann::json> admin_client::status() {
  auto r = request("GET", "/api/v1/status");
  if (r.status != 200) {
    if (r.status) error_ = "GET /api/v1/status: HTTP " + std::to_string(r.status);
    return std::nullopt;
  }
  return r.body;
}

std::optional<std::string> admin_client::create_category(const std::string& name,
                                                         const std::string& description) {
  nlohmann::json b{{"name", name}, {"description", description}};
  auto r = request("POST", "/api/v1/categories", b.dump());
  if (r.status != 201 && r.status != 200) {
    if (r.status)
      error_ = "POST /api/v1/categories: HTTP " + std::to_string(r.status) + " " + r.body.dump();
    return std::nullopt;
  }
  return r.body.value("id", name);
}

std::optional<created_room> admin_client::create_room(const std::string& name,
                                                      const std::string& category,
                                                      const std::string& description) {
  // Open rooms, as Lync's ChatStress created its stress rooms (lync-persistent-chat.md §5.3):
  // every user may join without a membership list. Servers before the room model ignore it.
  nlohmann::json b{
      {"name", name}, {"category", category}, {"description", description}, {"privacy", "open"}};
  auto r = request("POST", "/api/v1/rooms", b.dump());
  if ((r.status != 201 && r.status != 200) || !r.body.is_object() || !r.body.contains("uri")) {
    if (r.status)
      error_ = "POST /api/v1/rooms: HTTP " + std::to_string(r.status) + " " + r.body.dump();
    return std::nullopt;
  }
  return created_room{r.body.value("id", ""), r.body.value("uri", ""), name};
}

int admin_client::delete_room(const std::string& id) {
  return request("DELETE", "/api/v1/rooms/" + id).status;
}

bool admin_client::ensure_users(const std::vector<std::string>& users,
                                const std::string& password) {
  // POST /api/v1/users/batch: made if absent, in one synced write per chunk (a body stays
  // well under the admin API's 1 MiB).
  constexpr size_t kChunk = 5000;
  for (size_t at = 0; at < users.size(); at += kChunk) {
    nlohmann::json b = nlohmann::json::array();
    for (size_t i = at; i < std::min(users.size(), at + kChunk); ++i) {
      nlohmann::json u{{"uri", users[i]}};
      if (!password.empty()) u["password"] = password;
      b.push_back(std::move(u));
    }
    auto r = request("POST", "/api/v1/users/batch", b.dump());
    if (r.status != 200) {
      error_ = "POST /api/v1/users/batch: HTTP " + std::to_string(r.status) + " " + r.body.dump();
      return false;
    }
  }
  return true;
}

}  // namespace pchat::bench
