#include "bench/bad_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace pchat::bench {

using steady = std::chrono::steady_clock;

bad_clients::bad_clients(client::client_loop& loop, bad_clients_config cfg)
    : loop_(loop), cfg_(std::move(cfg)) {}

bad_clients::~bad_clients() {
  if (trickle_timer_) loop_.cancel_timer(trickle_timer_);
  for (auto& h : held_)
    if (h.fd >= 0) ::close(h.fd);
}

bool bad_clients::start(steady::time_point deadline) {
  client::connection_config cc;
  cc.server_host = cfg_.host;
  cc.server_port = cfg_.sip_port;
  client::client_config fc;
  fc.user = cfg_.user_prefix + "flood@" + cfg_.domain;
  fc.max_command_history = 0;
  fc.max_stored_messages = 0;
  fc.max_faults = 10;  // its 503s are expected faults
  flooder_ = std::make_unique<client::chat_client>(loop_, cc, fc);
  client::connection_config sc = cc;
  sc.receive_buffer_bytes = 4096;  // little for the kernel to absorb once it stops reading
  sc.max_output_bytes = 1u << 20;
  client::client_config slow_cfg;
  slow_cfg.user = cfg_.user_prefix + "slow@" + cfg_.domain;
  slow_cfg.max_stored_messages = 0;
  slow_cfg.max_command_history = 16;
  slow_ = std::make_unique<client::chat_client>(loop_, sc, slow_cfg);
  flooder_->callbacks().on_command_complete = [this](client::chat_client&, const client::command_result& r) {
    if (r.command != "grpchat") return;
    if (r.sip_status >= 200 && r.sip_status < 300) ++counts_.flood_ok;
    else if (r.sip_status == 503) ++counts_.flood_503;
    else ++counts_.flood_failed;
    if (flooding_) flood_one();
  };
  if (!flooder_->start() || !slow_->start()) {
    error_ = "cannot start the flooder or the slow reader";
    return false;
  }
  if (!loop_.run_until([&] { return flooder_->is_ready() && slow_->is_ready(); }, deadline)) {
    error_ = "bad clients did not sign in: " + flooder_->failure_reason() + " " + slow_->failure_reason();
    return false;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  for (auto* c : {flooder_.get(), slow_.get()}) {
    auto j = c->join_and_wait(cfg_.room_uri, left);
    if (!j || !j->ok()) {
      error_ = "bad client " + c->self_uri() + " could not join " + cfg_.room_uri;
      return false;
    }
  }
  for (auto& uri : cfg_.slow_reader_rooms) {
    left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    auto j = slow_->join_and_wait(uri, left);
    if (!j || !j->ok()) {
      error_ = "the slow reader could not join " + uri;
      return false;
    }
  }
  return true;
}

void bad_clients::begin() {
  filler_.assign(cfg_.flood_post_bytes, 'f');
  slow_->connection().set_reading(false);
  flooding_ = true;
  for (int i = 0; i < cfg_.flood_inflight; ++i) flood_one();
  open_slowloris(false, cfg_.slowloris);
  if (cfg_.http_port) open_slowloris(true, cfg_.http_slowloris);
  trickle_timer_ = loop_.add_timer(std::chrono::seconds(1), [this] { trickle(); });
}

void bad_clients::flood_one() {
  if (flooder_->post(cfg_.room_uri, "flood " + std::to_string(counts_.flood_sent) + " " + filler_) != 0)
    ++counts_.flood_sent;
}

void bad_clients::open_slowloris(bool http, int n) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(http ? cfg_.http_port : cfg_.sip_port);
  inet_pton(AF_INET, cfg_.host.c_str(), &a.sin_addr);
  std::string head = http ? "GET /api/v1/status HTTP/1.1\r\nHost: " + cfg_.host + "\r\nX-Slow: "
                          : "OPTIONS sip:chat@" + cfg_.domain + " SIP/2.0\r\nVia: SIP/2.0/TCP " + cfg_.host +
                                ":9\r\nX-Slow: ";
  for (int i = 0; i < n; ++i) {
    held_socket h;
    h.http = http;
    h.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h.fd < 0) continue;
    // Non-blocking connect on loopback completes at once or soon; the head goes out at the
    // first trickle if it cannot now.
    if (::connect(h.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
      ::close(h.fd);
      continue;
    }
    ::send(h.fd, head.data(), head.size(), MSG_NOSIGNAL);
    held_.push_back(h);
  }
}

void bad_clients::trickle() {
  trickle_timer_ = 0;
  char buf[4096];
  for (auto& h : held_) {
    if (h.closed) continue;
    ssize_t n = ::recv(h.fd, buf, sizeof buf, MSG_DONTWAIT);
    bool gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    if (!gone && ::send(h.fd, "x", 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN) gone = true;
    if (gone) h.closed = true;
  }
  trickle_timer_ = loop_.add_timer(std::chrono::seconds(1), [this] { trickle(); });
}

bad_clients_counts bad_clients::stop(steady::time_point deadline) {
  flooding_ = false;
  if (trickle_timer_) {
    loop_.cancel_timer(trickle_timer_);
    trickle_timer_ = 0;
  }
  trickle();  // a last look at which sockets the server closed
  loop_.cancel_timer(trickle_timer_);
  trickle_timer_ = 0;
  for (auto& h : held_) {
    (h.http ? (h.closed ? counts_.http_slowloris_closed : counts_.http_slowloris_open)
            : (h.closed ? counts_.slowloris_closed : counts_.slowloris_open))++;
    ::close(h.fd);
    h.fd = -1;
  }
  held_.clear();
  if (slow_) {
    slow_->connection().set_reading(true);
    counts_.slow_reader_closed =
        loop_.run_until([&] { return slow_->connection().is_closed(); }, std::min(deadline, steady::now() + std::chrono::seconds(5)));
  }
  if (flooder_) {
    // Whatever it still has in flight is answered or refused; the count is final after.
    loop_.run_until([&] { return flooder_->commands_in_flight() == 0; },
                    std::min(deadline, steady::now() + std::chrono::seconds(10)));
    flooder_->connection().close("bench over");
  }
  if (slow_) slow_->connection().close("bench over");
  return counts_;
}

}  // namespace pchat::bench
