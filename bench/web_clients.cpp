#include "bench/web_clients.h"

#include <sys/eventfd.h>
#include <unistd.h>

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "bench/delivery_ledger.h"
#include "bench/load_driver.h"

namespace pchat::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {
constexpr size_t kMaxRead = 1 << 20;

// "p<N>" (the bench's post ids) -> N; false for any other id.
bool parse_post_id(const std::string& id, uint32_t& out) {
  if (id.size() < 2 || id[0] != 'p') return false;
  uint64_t v = 0;
  for (size_t i = 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9' || v > UINT32_MAX) return false;
    v = v * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  out = static_cast<uint32_t>(v);
  return v <= UINT32_MAX;
}
}  // namespace

struct web_clients::io {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::unordered_map<uint32_t, std::shared_ptr<conn>> conns;  // I/O thread only
};

// One browser, from connect to close; every member runs on the I/O thread.
struct web_clients::conn : std::enable_shared_from_this<conn> {
  web_clients& owner;
  uint32_t user;
  std::string address, password, source;
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
  std::string cookie;
  std::deque<std::string> out;
  bool writing = false;
  bool open = false;        // handshake done, not closed
  bool said_hello = false;  // signed_in sent (ok)
  bool over = false;        // failed or closed: no more events
  std::string close_reason;

  conn(web_clients& o, uint32_t u, asio::io_context& ioc) : owner(o), user(u), ws(ioc) {}

  std::string host_port() const { return owner.cfg_.host + ":" + std::to_string(owner.cfg_.port); }
  beast::tcp_stream& stream() { return ws.next_layer(); }

  void event(web_event e) {
    e.user = user;
    if (!e.at_ns) e.at_ns = load_driver::now_ns();
    owner.push(std::move(e));
  }

  // Before hello: the sign-in failed; after: the socket closed.
  void finish(const std::string& why) {
    if (over) return;
    over = true;
    if (open) {
      open = false;
      --owner.open_;
    }
    beast::error_code ignored;
    stream().socket().close(ignored);
    if (!owner.closing_) {
      web_event e;
      e.what = said_hello ? web_event::kind::closed : web_event::kind::signed_in;
      e.ok = false;
      e.text = close_reason.empty() ? why : close_reason + " (" + why + ")";
      event(std::move(e));
    }
    auto& conns = owner.io_->conns;
    auto it = conns.find(user);
    if (it != conns.end() && it->second.get() == this) conns.erase(it);
  }

  void connect(std::function<void()> then) {
    auto& sock = stream().socket();
    beast::error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec && !source.empty()) sock.bind(tcp::endpoint(asio::ip::make_address(source, ec), 0), ec);
    if (ec) return finish("socket: " + ec.message());
    tcp::endpoint server(asio::ip::make_address(owner.cfg_.host, ec), owner.cfg_.port);
    if (ec) return finish("server address: " + ec.message());
    stream().expires_after(owner.cfg_.signin_timeout);
    stream().async_connect(
        server, [self = shared_from_this(), then = std::move(then)](beast::error_code ec) {
          if (ec) return self->finish("connect: " + ec.message());
          then();
        });
  }

  void start() {
    connect([this] { send_sign_in(); });
  }

  void send_sign_in() {
    req = {http::verb::post, "/api/web/session", 11};
    req.set(http::field::host, host_port());
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "pchat-bench (web route)");
    req.body() = nlohmann::json{{"address", address}, {"password", password}}.dump();
    req.prepare_payload();
    http::async_write(stream(), req, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->finish("sign-in request: " + ec.message());
      self->res = {};
      http::async_read(self->stream(), self->buf, self->res,
                       [self](beast::error_code ec, size_t) { self->on_sign_in_answer(ec); });
    });
  }

  void on_sign_in_answer(beast::error_code ec) {
    if (ec) return finish("sign-in answer: " + ec.message());
    if (res.result_int() != 200) {
      std::string body = res.body().substr(0, 200);
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
      return finish("sign-in: HTTP " + std::to_string(res.result_int()) + " " + body);
    }
    auto [from, to] = res.base().equal_range(http::field::set_cookie);
    for (auto it = from; it != to; ++it) {
      std::string_view v(it->value().data(), it->value().size());
      if (v.rfind("pchat_session=", 0) == 0) cookie = std::string(v.substr(0, v.find(';')));
    }
    if (cookie.empty()) return finish("sign-in: 200 without the pchat_session cookie");
    if (res.keep_alive()) return handshake();
    // The server closes after the answer: the socket opens on a new connection.
    beast::error_code ignored;
    stream().socket().close(ignored);
    connect([this] { handshake(); });
  }

  void handshake() {
    stream().expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = owner.cfg_.signin_timeout;
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;  // the server pings; Beast answers while a read is pending
    ws.set_option(t);
    ws.read_message_max(kMaxRead);
    std::string origin = "http://" + host_port();
    ws.set_option(
        websocket::stream_base::decorator([c = cookie, origin](websocket::request_type& r) {
          r.set(http::field::cookie, c);
          r.set(http::field::origin, origin);
          r.set(http::field::user_agent, "pchat-bench (web route)");
        }));
    buf.consume(buf.size());
    ws.async_handshake(host_port(), "/ws", [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->finish("WebSocket handshake: " + ec.message());
      self->open = true;
      ++self->owner.open_;
      self->ws.text(true);
      self->read();
    });
  }

  void read() {
    ws.async_read(buf, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec)
        return self->finish(ec == websocket::error::closed ? "closed by the server" : ec.message());
      int64_t at = load_driver::now_ns();
      auto data = self->buf.data();
      std::string_view text(static_cast<const char*>(data.data()), data.size());
      auto j = nlohmann::json::parse(text, nullptr, false);
      self->buf.consume(self->buf.size());
      if (!self->over) self->dispatch(j, at);
      if (!self->over) self->read();
    });
  }

  void dispatch(const nlohmann::json& j, int64_t at) {
    web_event e;
    e.at_ns = at;
    if (!j.is_object()) {
      e.what = web_event::kind::error;
      e.text = "the server sent something that is not a JSON object";
      return event(std::move(e));
    }
    auto str = [&](const char* k) {
      auto it = j.find(k);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
    };
    std::string type = str("type");
    e.room = str("room");
    if (type == "message") {
      e.what = web_event::kind::message;
      e.ours = delivery_ledger::parse_post_text(str("text"), e.post, e.send_ns);
    } else if (type == "ack" || type == "failed" ||
               (type == "error" && parse_post_id(str("id"), e.post))) {
      if (!parse_post_id(str("id"), e.post)) return;  // not one of ours
      e.what = web_event::kind::ack;
      e.ok = type == "ack";
      e.text = str("error");
    } else if (type == "hello") {
      if (said_hello) return;
      said_hello = true;
      e.what = web_event::kind::signed_in;
    } else if (type == "joined") {
      e.what = web_event::kind::joined;
    } else if (type == "parted") {
      e.what = web_event::kind::parted;
    } else if (type == "removed") {
      e.what = web_event::kind::removed;
      e.text = str("reason");
    } else if (type == "closed") {
      close_reason = "closed: " + str("reason");  // the socket closes next
      return;
    } else if (type == "error") {
      e.what = web_event::kind::error;
      e.text = str("error");
    } else {
      return;  // rooms and anything newer: not the bench's business
    }
    event(std::move(e));
  }

  void send(std::string message) {
    if (!open) return;
    out.push_back(std::move(message));
    if (!writing) write_next();
  }

  void write_next() {
    writing = true;
    ws.async_write(asio::buffer(out.front()),
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     self->writing = false;
                     self->out.pop_front();
                     if (ec) return;  // the pending read reports the close
                     if (!self->out.empty() && self->open) self->write_next();
                   });
  }
};

web_clients::web_clients(web_clients_config cfg)
    : cfg_(std::move(cfg)), io_(std::make_unique<io>()) {
  notify_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (notify_fd_ < 0) {
    error_ = "eventfd failed";
    return;
  }
  thread_ = std::thread([this] { io_->ioc.run(); });
}

web_clients::~web_clients() {
  close_all();
  if (notify_fd_ >= 0) ::close(notify_fd_);
}

void web_clients::push(web_event e) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = events_.empty();
    events_.push_back(std::move(e));
  }
  if (was_empty) {
    uint64_t one = 1;
    ssize_t n = ::write(notify_fd_, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the reader wakes anyway
  }
}

void web_clients::take_events(std::vector<web_event>& out) {
  uint64_t count;
  ssize_t n = ::read(notify_fd_, &count, sizeof count);
  (void)n;
  std::lock_guard<std::mutex> lock(mu_);
  if (out.empty()) {
    out.swap(events_);
  } else {
    for (auto& e : events_) out.push_back(std::move(e));
    events_.clear();
  }
}

void web_clients::sign_in(uint32_t user, std::string address, std::string password,
                          std::string source) {
  asio::post(io_->ioc, [this, user, address = std::move(address), password = std::move(password),
                        source = std::move(source)]() mutable {
    if (closing_) return;
    auto c = std::make_shared<conn>(*this, user, io_->ioc);
    c->address = std::move(address);
    c->password = std::move(password);
    c->source = std::move(source);
    if (auto old = io_->conns.find(user); old != io_->conns.end()) {
      auto keep = old->second;  // finish() drops the map's reference
      keep->finish("signed in again");
    }
    io_->conns[user] = c;
    c->start();
  });
}

void web_clients::join(uint32_t user, std::string room, int history) {
  std::string m = nlohmann::json{{"type", "join"}, {"room", room}, {"history", history}}.dump();
  asio::post(io_->ioc, [this, user, m = std::move(m)]() mutable {
    if (auto it = io_->conns.find(user); it != io_->conns.end()) it->second->send(std::move(m));
  });
}

void web_clients::part(uint32_t user, std::string room) {
  std::string m = nlohmann::json{{"type", "part"}, {"room", room}}.dump();
  asio::post(io_->ioc, [this, user, m = std::move(m)]() mutable {
    if (auto it = io_->conns.find(user); it != io_->conns.end()) it->second->send(std::move(m));
  });
}

void web_clients::post(uint32_t user, std::string room, uint32_t post, std::string text) {
  std::string m = nlohmann::json{
      {"type", "post"},
      {"room", room},
      {"id", "p" + std::to_string(post)},
      {"text", text}}.dump();
  asio::post(io_->ioc, [this, user, m = std::move(m)]() mutable {
    if (auto it = io_->conns.find(user); it != io_->conns.end()) it->second->send(std::move(m));
  });
}

void web_clients::close_all() {
  if (closing_.exchange(true) || !thread_.joinable()) return;
  asio::post(io_->ioc, [this] {
    // finish() erases from the map: close from a copy.
    std::vector<std::shared_ptr<conn>> all;
    for (auto& [u, c] : io_->conns) all.push_back(c);
    for (auto& c : all) c->finish("bench finished");
    io_->conns.clear();
    io_->work.reset();
  });
  thread_.join();
  open_ = 0;
}

}  // namespace pchat::bench
