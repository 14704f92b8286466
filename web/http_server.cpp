#include "web/http_server.h"

#include <unistd.h>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>

#include "log/log.h"
#include "tls/peer_policy.h"
#include "tls/server_tls.h"
#include "web/handler_pool.h"

namespace pchat::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

constexpr size_t kPiece = 64 * 1024;          // one body read, one file write
constexpr auto kLinger = std::chrono::seconds(2);  // reading what a refused client still sends
constexpr size_t kLingerBytes = 1 << 20;

const char* status_text(int code) {
  switch (code) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Status";
  }
}

// Status line and headers; the body (`length` bytes) follows.
std::string render_head(const http_response& resp, uint64_t length) {
  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + status_text(resp.status) +
                    "\r\nContent-Type: " + resp.content_type +
                    "\r\nContent-Length: " + std::to_string(length);
  for (const auto& h : resp.extra_headers) {
    // A header with a line break would let a value inject headers: dropped.
    if (h.find_first_of("\r\n") == std::string::npos) out += "\r\n" + h;
  }
  return out + "\r\n\r\n";
}

http_response json_error(int status, std::string_view message) {
  return {status, "application/json", "{\"error\":\"" + std::string(message) + "\"}\n", {}, nullptr};
}

// Warnings that a flood would repeat: at most one per 10 s per kind.
bool log_allowed(std::atomic<int64_t>& last) {
  int64_t now = std::chrono::duration_cast<milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t prev = last.load();
  return now - prev >= 10'000 && last.compare_exchange_strong(prev, now);
}

}  // namespace

file_source::~file_source() {
  if (fd_ >= 0) ::close(fd_);
}

struct http_server::impl {
  http_handler handler;
  http_head_check head_check;
  http_limits limits;
  std::atomic<size_t> connections{0};
  // Responses sent by status (100..599; anything else counts as 0).
  std::array<std::atomic<uint64_t>, 600> responses{};
  void count(int status) {
    responses[status >= 100 && status < 600 ? status : 0].fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> last_cap_log{-100'000}, last_accept_log{-100'000};
  std::shared_ptr<tls::server_tls> tls;  // null: plain HTTP only (and from anyone)
  tls::peer_policy peers;
  std::atomic<int64_t> last_plain_log{-100'000};
  std::string ws_path;  // empty: no WebSocket
  ws_upgrade_check ws_check;
  ws_limits ws;
  std::unique_ptr<handler_pool> pool;
  std::unique_ptr<asio::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_backoff;
  std::vector<std::thread> io_threads;

  void accept();
};

namespace {

// Counts a connection from its accept to its close, whichever object holds it.
struct connection_slot {
  explicit connection_slot(http_server::impl* s) : srv(s) { ++srv->connections; }
  ~connection_slot() { --srv->connections; }
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  http_server::impl* srv;
};

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// One WebSocket, after its HTTP upgrade request (web/websocket.h). Owned by its pending
// operations and by the handler's shared_ptr<ws_connection>; every step on the
// connection's strand. At most one write (message or close) is in flight.
template <class Stream>
class ws_session : public ws_connection, public std::enable_shared_from_this<ws_session<Stream>> {
 public:
  ws_session(Stream&& stream, std::shared_ptr<asio::ssl::context> tls_ctx, std::unique_ptr<connection_slot> slot,
             http_server::impl* srv, ws_opener opener)
      : tls_ctx_(std::move(tls_ctx)), ws_(std::move(stream)), srv_(srv), slot_(std::move(slot)),
        opener_(std::move(opener)) {}

  ~ws_session() override {
    // The server stopping destroys sessions without running their handlers.
    if (handler_ && !closed_) handler_->on_closed();
  }

  void accept(bhttp::request<bhttp::buffer_body> req) {
    req_ = std::move(req);
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts rule now
    websocket::stream_base::timeout t;
    t.handshake_timeout = srv_->ws.handshake_timeout;
    t.idle_timeout = srv_->ws.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(srv_->ws.max_message);
    ws_.auto_fragment(false);
    ws_.async_accept(req_, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) {
        PCHAT_LOG(debug, "http", "WebSocket handshake failed", "error=" + log::quote(ec.message()));
        return self->finish();
      }
      self->srv_->count(101);
      try {
        self->handler_ = self->opener_(self);
      } catch (const std::exception& e) {
        PCHAT_LOG(error, "http", "WebSocket opener failed", "error=" + log::quote(e.what()));
      }
      self->opener_ = nullptr;
      if (!self->handler_) return self->start_close(1011, "not available");
      self->read();
    });
  }

  void send_text(std::string message) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), m = std::move(message)]() mutable {
      self->enqueue(std::move(m));
    });
  }

  void close(int code, std::string reason) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, r = std::move(reason)]() mutable {
      self->start_close(code, std::move(r));
    });
  }

 private:
  void read() {
    ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (ec == websocket::error::message_too_big)
          PCHAT_LOG(info, "http", "WebSocket message over the limit, connection closed",
                    "max_message=" + std::to_string(self->srv_->ws.max_message));
        return self->finish();
      }
      if (!self->ws_.got_text()) {
        self->in_.consume(self->in_.size());
        return self->start_close(1003, "text messages only");
      }
      std::string msg = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      if (self->handler_ && !self->closed_) self->handler_->on_text(std::move(msg));
      self->read();
    });
  }

  void enqueue(std::string m) {
    if (closed_ || close_wanted_) return;
    queued_bytes_ += m.size();
    if (queued_bytes_ > srv_->ws.max_queued) {
      PCHAT_LOG(info, "http", "WebSocket peer does not read its messages, connection closed",
                "max_queued=" + std::to_string(srv_->ws.max_queued));
      out_.clear();
      queued_bytes_ = 0;
      if (!writing_) return start_close(1008, "too slow");
      close_wanted_ = true;
      close_code_ = 1008;
      close_reason_ = "too slow";
      return;
    }
    out_.push_back(std::move(m));
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_) return;
    if (out_.empty()) {
      if (close_wanted_) do_close();
      return;
    }
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(out_.front()), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return self->finish();
      if (!self->out_.empty()) {
        self->queued_bytes_ -= std::min(self->queued_bytes_, self->out_.front().size());
        self->out_.pop_front();
      }
      self->write_next();
    });
  }

  void start_close(int code, std::string reason) {
    if (closed_ || close_sent_) return;
    close_wanted_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (!writing_) write_next();
  }

  void do_close() {
    if (close_sent_ || closed_) return;
    close_sent_ = true;
    if (close_reason_.size() > 120) close_reason_.resize(120);  // a control frame holds 125 bytes
    websocket::close_reason cr;
    cr.code = static_cast<std::uint16_t>(close_code_);
    cr.reason = close_reason_;
    writing_ = true;
    ws_.async_close(cr, [self = this->shared_from_this()](beast::error_code) {
      self->writing_ = false;
      self->finish();
    });
  }

  // The connection is over: the handler hears it once; the socket closes.
  void finish() {
    if (closed_) return;
    closed_ = true;
    out_.clear();
    if (handler_) handler_->on_closed();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

  std::shared_ptr<asio::ssl::context> tls_ctx_;  // before ws_: a TLS stream refers to it
  websocket::stream<Stream> ws_;
  http_server::impl* srv_;
  std::unique_ptr<connection_slot> slot_;
  ws_opener opener_;
  std::shared_ptr<ws_handler> handler_;
  bhttp::request<bhttp::buffer_body> req_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  size_t queued_bytes_ = 0;
  bool writing_ = false, close_wanted_ = false, close_sent_ = false, closed_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
};

// One connection: a chain of asynchronous steps on its own strand, so it never needs a
// lock and never holds an I/O thread while it waits. Owned by its pending operation (or
// its handler job); gone, with its socket, when neither is left. `Stream` is the plain TCP
// stream or TLS over it (detected on the connection's first bytes: class detector).
template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
 public:
  using tcp_executor = beast::tcp_stream::executor_type;
  static constexpr bool kTls = std::is_same_v<Stream, tls_stream>;
  // `buffer`: bytes already read (the detector's); `tls_ctx`: the TLS context (TLS only).
  session(beast::tcp_stream&& stream, http_server::impl* srv, std::unique_ptr<connection_slot> slot,
          beast::flat_buffer&& buffer, std::shared_ptr<asio::ssl::context> tls_ctx = nullptr)
      : tls_ctx_(std::move(tls_ctx)),
        stream_(make_stream(std::move(stream), tls_ctx_.get())),
        srv_(srv),
        slot_(std::move(slot)),
        buffer_(std::move(buffer)),
        piece_(kPiece) {
    beast::error_code ec;
    auto remote = lowest().socket().remote_endpoint(ec);
    if (!ec) {
      peer_ = remote.address().to_string();
      peer_loopback_ = remote.address().is_loopback();
    }
  }

  tcp_executor executor() { return stream_.get_executor(); }

  void start() {
    if (srv_->connections > srv_->limits.max_connections) {
      if (log_allowed(srv_->last_cap_log))
        PCHAT_LOG(warn, "http", "connection limit reached, refusing with 503",
                  "max_connections=" + std::to_string(srv_->limits.max_connections) +
                      " action=" + log::quote("raise --http-max-connections if these clients are legitimate"));
      auto busy = json_error(503, "too many connections, try again later");
      busy.extra_headers.push_back("Connection: close");
      srv_->count(503);
      return send_then_close(render_head(busy, busy.body.size()) + busy.body);
    }
    if constexpr (kTls) {
      // The handshake is part of the head's budget: a client that stalls in it is cut off.
      lowest().expires_after(limits().head_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, buffer_.data(),
                              [self = this->shared_from_this()](beast::error_code ec, size_t used) {
                                if (ec) {
                                  PCHAT_LOG(debug, "http", "TLS handshake failed",
                                            "peer=" + self->peer_ + " error=" + log::quote(ec.message()));
                                  return self->close();
                                }
                                self->buffer_.consume(used);
                                self->read_idle();
                              });
    } else {
      read_idle();
    }
  }

  // Answers a plain request that --plain does not allow from this peer, then closes.
  void refuse_plain() {
    http_response r = json_error(403, "unencrypted HTTP is not accepted from this address: use https://");
    srv_->count(403);
    r.extra_headers.push_back("Connection: close");
    send_then_close(render_head(r, r.body.size()) + r.body);
  }

 private:
  const http_limits& limits() const { return srv_->limits; }
  auto& lowest() { return beast::get_lowest_layer(stream_); }
  static Stream make_stream(beast::tcp_stream&& s, asio::ssl::context* ctx) {
    if constexpr (kTls) return Stream(std::move(s), *ctx);
    else return std::move(s);
  }

  // Keep-alive: wait for the first byte of the next request (idle_timeout).
  void read_idle() {
    if (buffer_.size() > 0) return read_head();  // pipelined bytes already here
    lowest().expires_after(limits().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_head();
                            });
  }

  void read_head() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits().max_head));
    // The head check sets the real limit. (Not boost::none: Beast 1.74 then refuses every
    // Content-Length, its check compares the length with an empty optional.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    req_ = http_request{};
    lowest().expires_after(limits().head_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_head(ec); });
  }

  void on_head(beast::error_code ec) {
    // The head is complete and body bytes came with it: the parser wants a body buffer.
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == bhttp::error::header_limit)
      return srv_->count(431), send_then_close("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if (ec == beast::error::timeout) {
      PCHAT_LOG(info, "http", "request head too slow, connection closed", "");
      return close();
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) return close();
    if (ec) {
      PCHAT_LOG(debug, "http", "bad request head", "error=" + log::quote(ec.message()));
      srv_->count(400);
      return send_then_close("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    auto& head = parser_->get();
    req_.method = std::string(head.method_string());
    req_.peer = peer_;
    req_.peer_loopback = peer_loopback_;
    req_.tls = kTls;
    parse_target(std::string_view(head.target().data(), head.target().size()), &req_.path, &req_.query);
    for (const auto& field : head) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req_.headers[name] = std::string(field.value());
    }
    if (srv_->ws_check && req_.path == srv_->ws_path && websocket::is_upgrade(head)) return upgrade();
    decision_ = head_decision{limits().max_body, nullptr};
    if (srv_->head_check) {
      std::optional<http_response> refused;
      try {
        refused = srv_->head_check(req_, &decision_);
      } catch (const std::exception& e) {
        PCHAT_LOG(error, "http", "head check failed", "path=" + log::quote(req_.path) + " error=" + log::quote(e.what()));
        refused = json_error(500, "internal error");
      }
      if (refused) return refuse(std::move(*refused));
    }
    if (auto length = parser_->content_length(); length && *length > decision_.max_body)
      return refuse(json_error(413, "request body exceeds the limit"));
    parser_->body_limit(decision_.max_body);
    body_start_ = std::chrono::steady_clock::now();
    // curl and other clients wait for this before sending a large body (file uploads).
    auto expect = req_.headers.find("expect");
    if (!parser_->is_done() && expect != req_.headers.end() && beast::iequals(expect->second, "100-continue")) {
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      lowest().expires_after(limits().write_timeout);
      return asio::async_write(stream_, asio::buffer(out_),
                               [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->close();
                                 self->read_body();
                               });
    }
    read_body();
  }

  // A WebSocket upgrade: refused as HTTP, or the stream leaves this session for a ws_session.
  void upgrade() {
    std::variant<http_response, ws_opener> decided;
    try {
      decided = srv_->ws_check(req_);
    } catch (const std::exception& e) {
      PCHAT_LOG(error, "http", "WebSocket upgrade check failed", "error=" + log::quote(e.what()));
      decided = json_error(500, "internal error");
    }
    if (auto* refused = std::get_if<http_response>(&decided)) return refuse(std::move(*refused));
    // A client that sends before the handshake's answer breaks the protocol.
    if (buffer_.size() > 0 || !parser_->is_done()) return refuse(json_error(400, "data before the WebSocket handshake"));
    auto ws = std::make_shared<ws_session<Stream>>(std::move(stream_), std::move(tls_ctx_), std::move(slot_), srv_,
                                                  std::get<ws_opener>(std::move(decided)));
    ws->accept(parser_->release());
  }

  // The body arrives in pieces; its deadline grows with what has arrived (a minimum rate).
  void read_body() {
    if (parser_->is_done()) return dispatch();
    auto& body = parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    body.more = true;
    auto allowance = limits().body_timeout +
                     milliseconds(req_.body_size * 1000 / std::max<size_t>(limits().body_min_rate, 1));
    lowest().expires_at(body_start_ + allowance);
    bhttp::async_read_some(stream_, buffer_, *parser_,
                           [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t n = piece_.size() - parser_->get().body().size;
    if (n > 0) {
      req_.body_size += n;
      if (req_.body_size > decision_.max_body) return refuse(json_error(413, "request body exceeds the limit"));
      if (decision_.sink) {
        if (std::string why = decision_.sink->write({piece_.data(), n}); !why.empty())
          return refuse(json_error(503, why));
      } else {
        req_.body.append(piece_.data(), n);
      }
    }
    if (ec == bhttp::error::body_limit) return refuse(json_error(413, "request body exceeds the limit"));
    if (ec == beast::error::timeout) {
      PCHAT_LOG(info, "http", "request body too slow, connection closed",
                "path=" + log::quote(req_.path) + " received=" + std::to_string(req_.body_size));
      return close();
    }
    if (ec) return close();
    read_body();
  }

  // The handler runs on a handler thread; its response comes back to this strand.
  void dispatch() {
    keep_alive_ = parser_->get().keep_alive();
    auto range = req_.headers.find("range");
    range_ = req_.method == "GET" && range != req_.headers.end() && !req_.headers.count("if-range")
                 ? range->second : std::string{};
    req_.sink = std::move(decision_.sink);
    auto job = [self = this->shared_from_this(), req = std::move(req_), queued = std::chrono::steady_clock::now()]() {
      http_response resp;
      try {
        // Its client has waited long enough: answering now beats an answer it gave up on.
        if (std::chrono::steady_clock::now() - queued > self->srv_->limits.queue_timeout)
          resp = json_error(503, "server busy, try again later");
        else
          resp = self->srv_->handler(req);
      } catch (const std::exception& e) {
        PCHAT_LOG(error, "http", "handler failed", "path=" + log::quote(req.path) + " error=" + log::quote(e.what()));
        resp = json_error(500, "internal error");
      }
      asio::post(self->stream_.get_executor(),
                 [self, resp = std::move(resp)]() mutable { self->respond(std::move(resp)); });
    };
    if (!srv_->pool->try_run(std::move(job))) {
      keep_alive_ = false;
      respond(json_error(503, "server busy, try again later"));
    }
  }

  void respond(http_response resp) {
    // Counted as sent: a 200 file answer that turns 206 or 416 below is counted as that.
    struct count_at_exit {
      http_server::impl* srv;
      const int* status;
      ~count_at_exit() { srv->count(*status); }
    } counted{srv_, &resp.status};
    if (!keep_alive_ || srv_->stopping) {
      keep_alive_ = false;
      resp.extra_headers.push_back("Connection: close");
    }
    file_.reset();
    if (resp.file && resp.status == 200) {
      uint64_t size = resp.file->size();
      file_pos_ = 0;
      file_end_ = size;
      resp.extra_headers.push_back("Accept-Ranges: bytes");
      if (auto r = range_.empty() ? std::nullopt : parse_byte_range(range_, size)) {
        if (r->first > r->second) {
          resp.status = 416;
          resp.content_type = "application/json";
          resp.body = "{\"error\":\"the range is outside the file's " + std::to_string(size) + " bytes\"}\n";
          resp.extra_headers.push_back("Content-Range: bytes */" + std::to_string(size));
          resp.file.reset();
        } else {
          resp.status = 206;
          file_pos_ = r->first;
          file_end_ = r->second + 1;
          resp.extra_headers.push_back("Content-Range: bytes " + std::to_string(r->first) + "-" +
                                       std::to_string(r->second) + "/" + std::to_string(size));
        }
      }
      if (resp.file) {
        file_ = std::move(resp.file);
        out_ = render_head(resp, file_end_ - file_pos_);
        return write_out();
      }
    }
    out_ = render_head(resp, resp.body.size()) + resp.body;
    write_out();
  }

  // Writes out_, then the file's next piece if one is being sent.
  void write_out() {
    lowest().expires_after(limits().write_timeout);
    asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec == beast::error::timeout)
        PCHAT_LOG(info, "http", "client does not read its response, connection closed", "");
      if (ec) return self->close();
      if (self->file_ && self->file_pos_ < self->file_end_) return self->next_file_piece();
      self->file_.reset();
      if (!self->keep_alive_) return self->close();
      self->read_idle();
    });
  }

  void next_file_piece() {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kPiece, file_end_ - file_pos_));
    out_.resize(want);
    ssize_t n;
    do n = ::pread(file_->fd(), out_.data(), want, static_cast<off_t>(file_pos_));
    while (n < 0 && errno == EINTR);
    if (n <= 0) {  // the head promised more bytes: the only honest end is to close
      PCHAT_LOG(error, "http", "cannot read a file being sent, connection closed",
                "offset=" + std::to_string(file_pos_) + " error=" + log::quote(n < 0 ? std::strerror(errno) : "end of file"));
      return close();
    }
    out_.resize(static_cast<size_t>(n));
    file_pos_ += static_cast<uint64_t>(n);
    write_out();
  }

  // Answers and closes without reading the request's body.
  void refuse(http_response resp) {
    srv_->count(resp.status);
    resp.extra_headers.push_back("Connection: close");
    send_then_close(render_head(resp, resp.body.size()) + resp.body);
  }

  // Closing with unread input makes the kernel send a reset, which can destroy the answer
  // before the client reads it: shut our side, then read (and drop) a bounded amount.
  void send_then_close(std::string bytes) {
    out_ = std::move(bytes);
    lowest().expires_after(limits().write_timeout);
    asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      beast::error_code ignored;
      self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->lingered_ = 0;
      self->lowest().expires_after(kLinger);
      self->drain();
    });
  }

  void drain() {
    stream_.async_read_some(asio::buffer(piece_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  std::shared_ptr<asio::ssl::context> tls_ctx_;  // before stream_: the stream refers to it
  Stream stream_;
  http_server::impl* srv_;
  std::unique_ptr<connection_slot> slot_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  http_request req_;
  head_decision decision_{0, nullptr};
  std::chrono::steady_clock::time_point body_start_;
  std::vector<char> piece_;
  bool keep_alive_ = false;
  std::string range_;
  std::string out_;
  std::shared_ptr<const file_source> file_;
  uint64_t file_pos_ = 0, file_end_ = 0;
  size_t lingered_ = 0;
  std::string peer_;
  bool peer_loopback_ = false;
};

// A new connection until its first bytes say whether it speaks TLS (a handshake record)
// or plain HTTP; then it becomes the session of that kind, taking the bytes read so far.
// Without a TLS identity every connection is plain. Plain connections that --plain does not
// allow from the peer's address get a 403 naming https.
class detector : public std::enable_shared_from_this<detector> {
 public:
  detector(tcp::socket socket, http_server::impl* srv)
      : stream_(std::move(socket)), srv_(srv), slot_(std::make_unique<connection_slot>(srv)) {}

  void start() {
    // Over the connection cap, or without TLS: plain at once (the cap's 503 is sent unread).
    if (!srv_->tls || srv_->connections > srv_->limits.max_connections) return become_plain();
    stream_.expires_after(srv_->limits.idle_timeout);
    beast::async_detect_ssl(stream_, buffer_, [self = shared_from_this()](beast::error_code ec, bool is_tls) {
      if (ec) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return self->stream_.close();
      }
      if (is_tls) return self->become_tls();
      self->become_plain();
    });
  }

 private:
  void become_plain() {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    bool allowed = !srv_->tls || (!ec && srv_->peers.plain_allowed(remote.address().to_string()));
    if (!allowed && log_allowed(srv_->last_plain_log))
      PCHAT_LOG(info, "http", "unencrypted connection refused",
                "peer=" + (ec ? std::string("?") : remote.address().to_string()) +
                    " plain=" + tls::to_string(srv_->peers.plain));
    auto s = std::make_shared<session<plain_stream>>(std::move(stream_), srv_, std::move(slot_), std::move(buffer_));
    if (allowed) s->start();
    else s->refuse_plain();
  }
  void become_tls() {
    std::shared_ptr<SSL_CTX> native = srv_->tls->context();
    SSL_CTX_up_ref(native.get());  // the asio context takes one reference of its own
    auto ctx = std::make_shared<asio::ssl::context>(native.get());
    auto s = std::make_shared<session<tls_stream>>(std::move(stream_), srv_, std::move(slot_), std::move(buffer_),
                                                   std::move(ctx));
    s->start();
  }

  beast::tcp_stream stream_;
  http_server::impl* srv_;
  std::unique_ptr<connection_slot> slot_;
  beast::flat_buffer buffer_;

 public:
  beast::tcp_stream::executor_type executor() { return stream_.get_executor(); }
};

}  // namespace

void http_server::impl::accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors (EMFILE/ENFILE) or memory: accept would fail again at once, so
      // wait instead of spinning; connections wait in the backlog meanwhile.
      if (log_allowed(last_accept_log))
        PCHAT_LOG(warn, "http", "accept failed, pausing 100 ms",
                  "error=" + log::quote(ec.message()) +
                      " action=" + log::quote("raise the open-files limit (ulimit -n) or lower --http-max-connections"));
      accept_backoff->expires_after(milliseconds(100));
      accept_backoff->async_wait([this](beast::error_code wec) {
        if (!wec && !stopping) accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Onto the connection's strand: from there on, all its steps run there, one at a time.
    auto d = std::make_shared<detector>(std::move(socket), this);
    auto executor = d->executor();
    asio::dispatch(executor, [d] { d->start(); });
    accept();
  });
}

void http_server::set_tls(std::shared_ptr<tls::server_tls> identity, tls::peer_policy peers) {
  impl_->tls = std::move(identity);
  impl_->peers = std::move(peers);
}

http_server::http_server(std::string host, uint16_t port, http_handler handler, http_limits limits)
    : host_(std::move(host)), port_(port), impl_(std::make_unique<impl>()) {
  impl_->handler = std::move(handler);
  impl_->limits = limits;
}

http_server::~http_server() { stop(); }

http_stats http_server::stats() const {
  http_stats s;
  s.connections = impl_->connections.load(std::memory_order_relaxed);
  for (int code = 0; code < 600; ++code)
    if (uint64_t n = impl_->responses[static_cast<size_t>(code)].load(std::memory_order_relaxed))
      s.responses.emplace_back(code, n);
  return s;
}

void http_server::set_head_check(http_head_check check) { impl_->head_check = std::move(check); }

void http_server::set_websocket(std::string path, ws_upgrade_check check, ws_limits limits) {
  impl_->ws_path = std::move(path);
  impl_->ws_check = std::move(check);
  impl_->ws = limits;
}

std::string http_server::start() {
  auto& s = *impl_;
  beast::error_code ec;
  auto address = asio::ip::make_address(host_, ec);
  if (ec) return "invalid HTTP bind address " + host_;
  s.ioc = std::make_unique<asio::io_context>(static_cast<int>(std::max<size_t>(s.limits.io_threads, 1)));
  s.acceptor.emplace(*s.ioc);
  s.accept_backoff.emplace(*s.ioc);
  tcp::endpoint endpoint(address, port_);
  std::string where = host_ + ":" + std::to_string(port_) + "/http: ";
  if (s.acceptor->open(endpoint.protocol(), ec); ec) return "socket " + where + ec.message();
  if (s.acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec) return "setsockopt " + where + ec.message();
  if (s.acceptor->bind(endpoint, ec); ec) return "bind " + where + ec.message();
  if (s.acceptor->listen(1024, ec); ec) return "listen " + where + ec.message();
  port_ = s.acceptor->local_endpoint().port();
  s.pool = std::make_unique<handler_pool>(s.limits.handler_threads, s.limits.handler_queue);
  s.accept();
  for (size_t i = 0; i < std::max<size_t>(s.limits.io_threads, 1); ++i)
    s.io_threads.emplace_back([&s] { s.ioc->run(); });
  return {};
}

void http_server::stop() {
  auto& s = *impl_;
  if (!s.ioc || s.stopping.exchange(true)) return;
  // Order: no I/O thread runs any more, then no handler thread; only then are the sessions
  // (owned by pending operations and queued jobs) destroyed, closing their sockets.
  s.ioc->stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  s.pool->stop();
  s.accept_backoff.reset();
  s.acceptor.reset();
  s.ioc.reset();
  s.pool.reset();
}

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
              "token from " + hint + " (pchatctl: --data-dir, --token-file or PCHAT_ADMIN_TOKEN)\"}\n",
              {}, nullptr};
    return next(req);
  };
}

http_handler loopback_or_bearer_token(std::string token, std::string what, http_handler next) {
  return [token = std::move(token), what = std::move(what), next = std::move(next)](
             const http_request& req) -> http_response {
    if (req.peer_loopback) return next(req);
    if (auto it = req.headers.find("authorization"); !token.empty() && it != req.headers.end() &&
                                                     it->second.rfind("Bearer ", 0) == 0 &&
                                                     constant_time_equal(it->second.substr(7), token))
      return next(req);
    return {401, "application/json",
            "{\"error\": \"" + what + " is served to loopback clients, or with the admin token "
            "(Authorization: Bearer, <data-dir>/admin.token)\"}\n",
            {"WWW-Authenticate: Bearer"}, nullptr};
  };
}

http_handler local_clients_only(tls::peer_policy peers, std::string what, http_handler next) {
  return [peers = std::move(peers), what = std::move(what), next = std::move(next)](
             const http_request& req) -> http_response {
    if (peers.is_local(req.peer)) return next(req);
    return json_error(403, what + " answers loopback clients only (pchatd --admin-remote=true opens it)");
  };
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < b.size(); ++i) diff |= static_cast<unsigned>(b[i] ^ (i < a.size() ? a[i] : 0));
  return diff == 0;
}

}  // namespace pchat::web
