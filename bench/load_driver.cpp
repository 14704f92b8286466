#include "bench/load_driver.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cmath>

namespace pchat::bench {

using client::chat_client;
using client::client_config;
using client::command_result;
using client::connection_config;
using client::sip_connection;
using client::transport_kind;
using steady = std::chrono::steady_clock;

namespace {
constexpr size_t kMaxErrorSamples = 8;
uint64_t command_key(uint32_t user, uint64_t command) {
  return (static_cast<uint64_t>(user) << 32) | (command & 0xffffffffu);
}
}  // namespace

const char* to_string(route_kind r) {
  switch (r) {
    case route_kind::direct:
      return "direct";
    case route_kind::frontend:
      return "frontend";
    case route_kind::udp:
      return "udp";
    case route_kind::tls:
      return "tls";
    case route_kind::web:
      return "web";
  }
  return "?";
}

int64_t load_driver::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

struct load_driver::web_wakeup final : client::client_loop::io_handler {
  load_driver* driver = nullptr;
  void on_io(uint32_t) override { driver->on_web_events(); }
};

load_driver::load_driver(client::client_loop& loop, driver_config cfg)
    : loop_(loop), cfg_(std::move(cfg)), rng_(cfg_.seed) {}

load_driver::~load_driver() {
  close_all();
}

uint32_t load_driver::add_room(bench_room r) {
  uint32_t idx = static_cast<uint32_t>(rooms_.size());
  room_by_uri_[r.uri] = idx;
  r.members.clear();
  rooms_.push_back(std::move(r));
  joined_at_.emplace_back();
  return idx;
}

uint32_t load_driver::add_users(uint32_t n) {
  uint32_t first = static_cast<uint32_t>(users_.size());
  users_.resize(users_.size() + n);
  // Browsers spread evenly: user u is one when floor((u + 1) * share) passes an integer.
  double share = cfg_.route == route_kind::web ? 1.0 : std::clamp(cfg_.web_share, 0.0, 1.0);
  for (uint32_t u = first; u < users_.size(); ++u)
    users_[u].web = std::floor((u + 1) * share) > std::floor(u * share);
  return first;
}

size_t load_driver::web_users() const {
  size_t n = 0;
  for (auto& us : users_) n += us.web;
  return n;
}

bool load_driver::ensure_web() {
  if (web_) return web_registration_ != 0;
  web_clients_config wc;
  wc.host = cfg_.server_host;
  wc.port = cfg_.http_port;
  web_ = std::make_unique<web_clients>(wc);
  if (!web_->ok()) {
    note_error("browsers: " + web_->error());
    return false;
  }
  web_wakeup_ = std::make_unique<web_wakeup>();
  web_wakeup_->driver = this;
  web_registration_ = loop_.add_fd(web_->notify_fd(), EPOLLIN, web_wakeup_.get());
  if (web_registration_ == 0) note_error("browsers: cannot watch their event descriptor");
  return web_registration_ != 0;
}

void load_driver::add_member(uint32_t user, uint32_t room) {
  auto& r = rooms_[room];
  users_[user].rooms.emplace_back(room, static_cast<uint32_t>(r.members.size()));
  r.members.push_back(user);
  joined_at_[room].push_back(0);
}

std::string load_driver::user_name(uint32_t u) const {
  return cfg_.user_prefix + std::to_string(u) + "@" + cfg_.domain;
}

std::string load_driver::source_address(uint32_t u) const {
  int n = std::max(1, cfg_.source_addresses);
  return "127.0.0." + std::to_string(2 + static_cast<int>(u % static_cast<uint32_t>(n)));
}

std::shared_ptr<sip_connection> load_driver::trunk_for(uint32_t u) {
  size_t k = static_cast<size_t>(std::max(1, cfg_.trunks));
  if (trunks_.empty()) trunks_.resize(k);
  auto& t = trunks_[u % k];
  if (!t || t->is_closed()) {
    connection_config cc;
    cc.server_host = cfg_.server_host;
    cc.server_port = cfg_.server_ports.empty() ? cfg_.server_port
                                               : cfg_.server_ports[u % cfg_.server_ports.size()];
    cc.local_address = source_address(static_cast<uint32_t>(u % k));
    // A front end's connection carries thousands of users: give its queue room.
    cc.max_output_bytes = 64 * 1024 * 1024;
    t = sip_connection::open(loop_, cc);
  }
  return t;
}

void load_driver::make_client(uint32_t u) {
  client_config cfg;
  cfg.user = user_name(u);
  cfg.password = cfg_.password;
  cfg.pool_uri_override = cfg_.pool_uri_override;
  cfg.getinv_on_connect = true;
  cfg.backchat_count = cfg_.backchat_count;
  // The bench keeps its own books: no per-client message, roster or command storage.
  cfg.max_stored_messages = 0;
  cfg.max_stored_roster = 0;
  cfg.max_command_history = 0;
  cfg.max_unsolicited = 0;
  cfg.track_members = false;
  cfg.max_faults = 4;
  auto& us = users_[u];
  if (cfg_.route == route_kind::frontend) {
    us.client = std::make_unique<chat_client>(loop_, trunk_for(u), cfg);
  } else {
    connection_config cc;
    cc.transport = cfg_.route == route_kind::udp   ? transport_kind::udp
                   : cfg_.route == route_kind::tls ? transport_kind::tls
                                                   : transport_kind::tcp;
    cc.tls_ca_file = cfg_.tls_ca_file;
    cc.server_host = cfg_.server_host;
    cc.server_port = cfg_.server_ports.empty() ? cfg_.server_port
                                               : cfg_.server_ports[u % cfg_.server_ports.size()];
    cc.local_address = source_address(u);
    us.client = std::make_unique<chat_client>(loop_, cc, cfg);
  }
  auto& cb = us.client->callbacks();
  cb.on_signed_in = [this, u](chat_client& c, bool ok) {
    on_signed_in(u, ok, ok ? "" : c.failure_reason());
  };
  cb.on_command_complete = [this, u](chat_client&, const command_result& r) { on_command(u, r); };
  cb.on_message = [this, u](chat_client&, const client::chat_post& p) { on_message(u, p); };
  cb.on_disconnected = [this, u](chat_client&, const std::string& why) { lose_session(u, why); };
}

void load_driver::lose_session(uint32_t u, const std::string& why) {
  auto& s = users_[u];
  s.web_open = false;
  if (closing_ || s.phase == user_phase::gone) return;
  ++counters_.disconnected;
  note_error("session of " + user_name(u) + " lost: " + why);
  if (s.phase == user_phase::signing_in || s.phase == user_phase::joining) --signing_in_;
  s.phase = user_phase::gone;
}

void load_driver::note_error(const std::string& what) {
  if (counters_.first_errors.size() < kMaxErrorSamples) counters_.first_errors.push_back(what);
}

uint32_t load_driver::random_below(uint32_t n) {
  return n == 0 ? 0 : std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_);
}

bool load_driver::sign_in(uint32_t first, uint32_t last, double per_second, size_t max_pending,
                          steady::time_point deadline) {
  auto t0 = steady::now();
  uint32_t next = first;
  auto finished = [&] {
    if (next < last) return false;
    for (uint32_t u = first; u < last; ++u) {
      auto ph = users_[u].phase;
      if (ph == user_phase::signing_in || ph == user_phase::joining) return false;
    }
    return true;
  };
  while (steady::now() < deadline) {
    double elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    uint64_t allowed = per_second > 0 ? static_cast<uint64_t>(elapsed * per_second) + 1 : last;
    while (next < last && next - first < allowed && signing_in_ < max_pending) {
      auto& us = users_[next];
      if (us.web) {
        us.phase = user_phase::signing_in;
        us.started_ns = now_ns();
        ++signing_in_;
        if (ensure_web())
          web_->sign_in(next, user_name(next), cfg_.password, source_address(next));
        else
          on_signed_in(next, false, "no browser I/O thread");
        ++next;
        continue;
      }
      make_client(next);
      us.phase = user_phase::signing_in;
      us.started_ns = now_ns();
      ++signing_in_;
      if (!us.client->start()) {
        // start() already reported the failure through on_signed_in if it could.
        if (us.phase == user_phase::signing_in) {
          us.phase = user_phase::failed;
          --signing_in_;
          ++counters_.signin_failed;
          note_error("sign-in of " + user_name(next) +
                     " could not start: " + us.client->failure_reason());
        }
      }
      ++next;
    }
    if (next >= last && signing_in_ == 0 && finished()) return true;
    loop_.run_once(next < last ? 2 : 20);
  }
  return finished();
}

void load_driver::on_signed_in(uint32_t u, bool ok, const std::string& why) {
  auto& us = users_[u];
  if (us.phase != user_phase::signing_in) return;
  if (!ok) {
    us.phase = user_phase::failed;
    --signing_in_;
    ++counters_.signin_failed;
    note_error("sign-in of " + user_name(u) + " failed: " + why);
    return;
  }
  us.web_open = us.web;
  ++counters_.signed_in;
  signin_.record(std::chrono::nanoseconds(now_ns() - us.started_ns));
  if (cfg_.join_on_signin && !us.rooms.empty()) {
    std::vector<uint32_t> rooms;
    for (auto& [room, pos] : us.rooms) rooms.push_back(room);
    us.phase = user_phase::joining;
    start_join(u, rooms, false);
  } else {
    us.phase = user_phase::ready;
    --signing_in_;
  }
}

void load_driver::start_join(uint32_t u, const std::vector<uint32_t>& rooms, bool churn) {
  auto& us = users_[u];
  us.join_started_ns = now_ns();
  us.churn_measure = churn;
  if (us.web) {
    // One join per room; its joined answer carries the back-chat.
    us.pending_backchats = 0;
    for (uint32_t r : rooms) {
      web_->join(u, rooms_[r].uri, cfg_.backchat_on_join ? cfg_.backchat_count : 0);
      ++us.pending_backchats;
    }
    if (us.pending_backchats == 0) finish_join(u);
    return;
  }
  uint64_t id = 0;
  if (rooms.size() == 1 && churn) {
    id = us.client->join(rooms_[rooms[0]].uri);
  } else {
    std::vector<std::string> uris;
    for (uint32_t r : rooms) uris.push_back(rooms_[r].uri);
    id = us.client->bjoin(uris);
  }
  if (id == 0) {
    ++counters_.commands_failed;
    note_error("could not send join for " + user_name(u));
    finish_join(u);
  }
}

void load_driver::finish_join(uint32_t u) {
  auto& us = users_[u];
  auto took = std::chrono::nanoseconds(now_ns() - us.join_started_ns);
  (us.churn_measure ? churn_join_ : signin_join_).record(took);
  us.churn_measure = false;
  us.churning = false;
  if (us.phase == user_phase::joining) {
    us.phase = user_phase::ready;
    --signing_in_;
  }
}

int load_driver::position_in(uint32_t u, uint32_t room) const {
  for (auto& [r, pos] : users_[u].rooms)
    if (r == room) return static_cast<int>(pos);
  return -1;
}

bool load_driver::member_joined(uint32_t room, uint32_t pos) const {
  return joined_at_[room][pos] != 0;
}

void load_driver::on_joined(uint32_t u, const std::vector<std::string>& room_uris) {
  auto& us = users_[u];
  int64_t now = now_ns();
  std::vector<uint32_t> opened;
  for (auto& uri : room_uris) {
    auto it = room_by_uri_.find(uri);
    if (it == room_by_uri_.end()) continue;
    int pos = position_in(u, it->second);
    if (pos < 0) continue;
    joined_at_[it->second][static_cast<uint32_t>(pos)] = now;
    opened.push_back(it->second);
    ++counters_.joins_ok;
  }
  us.pending_backchats = 0;
  if (cfg_.backchat_on_join) {
    for (uint32_t r : opened) {
      if (us.client->bccontext(rooms_[r].uri, cfg_.backchat_count) != 0)
        ++us.pending_backchats;
      else
        ++counters_.commands_failed;
    }
  }
  if (us.pending_backchats == 0) finish_join(u);
}

void load_driver::on_command(uint32_t u, const command_result& r) {
  if (closing_) return;
  auto& us = users_[u];
  if (r.command == "grpchat") {
    auto it = post_by_command_.find(command_key(u, r.id));
    if (it == post_by_command_.end()) return;
    uint32_t id = it->second;
    post_by_command_.erase(it);
    on_post_answer(u, id, r.sip_status, !(r.replied && r.reply.code != 200), now_ns());
    return;
  }
  bool sip_ok = r.sip_ok();
  if (!sip_ok) {
    if (r.sip_status == 503)
      ++counters_.commands_503;
    else
      ++counters_.commands_failed;
    note_error(r.command + " of " + user_name(u) + ": SIP " + std::to_string(r.sip_status) + " " +
               r.sip_reason + (r.timed_out ? " (timed out)" : ""));
  } else if (r.expects_reply && (!r.replied || r.reply.code != 200)) {
    ++counters_.xccos_errors;
    note_error(r.command + " of " + user_name(u) + ": XCCOS " +
               (r.replied ? std::to_string(r.reply.code) + " " + r.reply.text : "no reply"));
  }
  if (r.command == "cmd:bjoin" || r.command == "cmd:join") {
    std::vector<std::string> uris;
    if (r.replied) {
      for (auto& j : r.reply.joined) uris.push_back(j.uri);
      counters_.joins_failed += r.reply.failed.size();
      if (!r.reply.failed.empty())
        note_error(r.command + " of " + user_name(u) + " refused " + r.reply.failed.front().uri +
                   ": " + r.reply.failed.front().key);
    }
    on_joined(u, uris);
  } else if (r.command == "cmd:bccontext") {
    if (us.pending_backchats && --us.pending_backchats == 0) finish_join(u);
  } else if (r.command == "cmd:part") {
    ++counters_.parts;
    auto it = room_by_uri_.find(r.room);
    if (sip_ok && it != room_by_uri_.end() && us.phase == user_phase::ready) {
      start_join(u, {it->second}, true);
    } else {
      us.churning = false;
    }
  }
}

void load_driver::on_post_answer(uint32_t u, uint32_t id, int status, bool ok, int64_t at_ns) {
  auto& us = users_[u];
  if (us.inflight_posts) --us.inflight_posts;
  if (id >= ledger_.post_count()) return;
  uint32_t room = ledger_.room_of(id);
  int64_t sent = ledger_.send_ns_of(id);
  ledger_.record_ack(id, status, ok, at_ns, [&](uint32_t pos) {
    int64_t j = joined_at_[room][pos];
    return j != 0 && j < sent;
  });
  if (closed_loop_ && ok && status / 100 == 2) {
    int pos = position_in(u, room);
    if (pos >= 0) post(room, static_cast<uint32_t>(pos));
  }
}

void load_driver::on_web_events() {
  if (!web_) return;
  web_->take_events(web_events_);
  for (auto& e : web_events_)
    if (!closing_) on_web_event(e);
  web_events_.clear();
}

void load_driver::on_web_event(const web_event& e) {
  uint32_t u = e.user;
  if (u >= users_.size() || !users_[u].web) return;
  auto& us = users_[u];
  auto room_at = [&](const std::string& uri) -> std::pair<int64_t, int> {
    auto it = room_by_uri_.find(uri);
    if (it == room_by_uri_.end()) return {-1, -1};
    return {it->second, position_in(u, it->second)};
  };
  switch (e.what) {
    case web_event::kind::signed_in:
      on_signed_in(u, e.ok, e.text);
      return;
    case web_event::kind::closed:
      lose_session(u, e.text);
      return;
    case web_event::kind::message:
      on_delivery(u, e.room, e.ours, e.post, e.send_ns, e.at_ns);
      return;
    case web_event::kind::ack:
      if (!e.ok) note_error("post of " + user_name(u) + " failed: " + e.text);
      // A failed post is counted as a failed command (sip_status 500: not a 503).
      on_post_answer(u, e.post, e.ok ? 200 : 500, e.ok, e.at_ns);
      return;
    case web_event::kind::joined: {
      auto [room, pos] = room_at(e.room);
      if (room >= 0 && pos >= 0) {
        joined_at_[static_cast<uint32_t>(room)][static_cast<uint32_t>(pos)] = e.at_ns;
        ++counters_.joins_ok;
      }
      if (us.pending_backchats && --us.pending_backchats == 0) finish_join(u);
      return;
    }
    case web_event::kind::parted: {
      ++counters_.parts;
      auto [room, pos] = room_at(e.room);
      if (room >= 0 && us.phase == user_phase::ready && us.churning)
        start_join(u, {static_cast<uint32_t>(room)}, true);
      else
        us.churning = false;
      return;
    }
    case web_event::kind::removed: {
      auto [room, pos] = room_at(e.room);
      if (room >= 0 && pos >= 0)
        joined_at_[static_cast<uint32_t>(room)][static_cast<uint32_t>(pos)] = 0;
      ++counters_.xccos_errors;
      note_error("browser " + user_name(u) + " removed from " + e.room + ": " + e.text);
      return;
    }
    case web_event::kind::error:
      // A join refused names its room: that join is answered.
      if (!e.room.empty() && us.pending_backchats) {
        ++counters_.joins_failed;
        note_error("join of " + user_name(u) + " refused " + e.room + ": " + e.text);
        if (--us.pending_backchats == 0) finish_join(u);
        return;
      }
      ++counters_.xccos_errors;
      note_error("browser " + user_name(u) + " got an error: " + e.text);
      return;
  }
}

void load_driver::on_message(uint32_t u, const client::chat_post& p) {
  if (closing_) return;
  uint32_t id = 0;
  int64_t sent = 0;
  bool ours = delivery_ledger::parse_post_text(p.text, id, sent);
  on_delivery(u, p.room, ours, id, sent, now_ns());
}

void load_driver::on_delivery(uint32_t u, const std::string& room_uri, bool ours, uint32_t id,
                              int64_t sent, int64_t now) {
  if (!ours || id >= ledger_.post_count()) {
    ++counters_.foreign_messages;
    return;
  }
  uint32_t room = ledger_.room_of(id);
  int pos = rooms_[room].uri == room_uri ? position_in(u, room) : -1;
  if (pos < 0) {
    ledger_.record_delivery(id, UINT32_MAX, 0, sent, now);  // counted as misrouted
    return;
  }
  if (ledger_.record_delivery(id, room, static_cast<uint32_t>(pos), sent, now) && delivery_class_)
    class_latency_[delivery_class_(room, u) & 1].record(std::chrono::nanoseconds(now - sent));
}

bool load_driver::post(uint32_t room, uint32_t pos) {
  auto& r = rooms_[room];
  uint32_t u = r.members[pos];
  auto& us = users_[u];
  if (us.phase != user_phase::ready || !member_joined(room, pos) ||
      us.inflight_posts >= cfg_.post_window)
    return false;
  if (us.web) {
    if (!us.web_open) return false;
    int64_t sent = now_ns();
    uint32_t id = ledger_.record_send(room, static_cast<uint32_t>(r.members.size()), sent);
    web_->post(u, r.uri, id, delivery_ledger::post_text(id, sent, cfg_.post_bytes));
    ++us.inflight_posts;
    return true;
  }
  if (!us.client || !us.client->is_ready()) return false;
  int64_t sent = now_ns();
  uint32_t id = ledger_.record_send(room, static_cast<uint32_t>(r.members.size()), sent);
  uint64_t cmd = us.client->post(r.uri, delivery_ledger::post_text(id, sent, cfg_.post_bytes));
  if (cmd == 0) {
    ledger_.record_ack(id, 0, false, now_ns(), [](uint32_t) { return false; });
    return true;
  }
  ++us.inflight_posts;
  post_by_command_[command_key(u, cmd)] = id;
  return true;
}

bool load_driver::post_random(uint32_t room) {
  auto& r = rooms_[room];
  uint32_t n = r.presenters
                   ? std::min<uint32_t>(r.presenters, static_cast<uint32_t>(r.members.size()))
                   : static_cast<uint32_t>(r.members.size());
  for (int attempt = 0; attempt < 8 && n > 0; ++attempt)
    if (post(room, random_below(n))) return true;
  ledger_.record_deferred();
  return false;
}

bool load_driver::churn_random() {
  for (int attempt = 0; attempt < 16 && !users_.empty(); ++attempt) {
    uint32_t u = random_below(static_cast<uint32_t>(users_.size()));
    auto& us = users_[u];
    if (us.phase != user_phase::ready || us.churning || us.rooms.empty()) continue;
    auto [room, pos] = us.rooms[random_below(static_cast<uint32_t>(us.rooms.size()))];
    if (!member_joined(room, pos)) continue;
    if (us.web) {
      if (!us.web_open) continue;
      web_->part(u, rooms_[room].uri);
    } else if (us.client->part(rooms_[room].uri) == 0) {
      continue;
    }
    // From now on posts are not owed to this member (see delivery_ledger.h).
    joined_at_[room][pos] = 0;
    us.churning = true;
    return true;
  }
  return false;
}

bool load_driver::join_all(steady::time_point deadline) {
  for (uint32_t u = 0; u < users_.size(); ++u) {
    auto& us = users_[u];
    if (us.phase != user_phase::ready) continue;
    std::vector<uint32_t> rooms;
    for (auto& [room, pos] : us.rooms)
      if (!member_joined(room, pos)) rooms.push_back(room);
    if (rooms.empty()) continue;
    us.phase = user_phase::joining;
    ++signing_in_;
    start_join(u, rooms, false);
  }
  return loop_.run_until([this] { return signing_in_ == 0; }, deadline);
}

bool load_driver::drain(steady::time_point deadline) {
  return loop_.run_until([this] { return ledger_.settled(); }, deadline);
}

void load_driver::run_for(steady::duration d) {
  auto until = steady::now() + d;
  while (steady::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    loop_.run_once(static_cast<int>(std::clamp<int64_t>(left.count(), 0, 50)));
  }
}

void load_driver::run_streams(steady::duration d, std::vector<stream>& streams) {
  auto t0 = steady::now();
  auto until = t0 + d;
  std::vector<uint64_t> issued(streams.size(), 0);
  while (true) {
    auto now = steady::now();
    if (now >= until) break;
    double elapsed = std::chrono::duration<double>(now - t0).count();
    double next_due = 1e9;
    for (size_t i = 0; i < streams.size(); ++i) {
      double rate = streams[i].per_second;
      if (rate <= 0) continue;
      auto due = static_cast<uint64_t>(elapsed * rate);
      while (issued[i] < due) {
        streams[i].fire();
        ++issued[i];
      }
      next_due = std::min(next_due, (static_cast<double>(issued[i]) + 1) / rate - elapsed);
    }
    int wait_ms = static_cast<int>(std::clamp(next_due * 1000.0, 0.0, 5.0));
    loop_.run_once(wait_ms);
  }
}

size_t load_driver::ready_users() const {
  size_t n = 0;
  for (auto& us : users_) n += us.phase == user_phase::ready;
  return n;
}

size_t load_driver::connections() const {
  if (cfg_.route == route_kind::frontend) {
    size_t n = 0;
    for (auto& t : trunks_) n += t && t->is_open();
    for (auto& us : users_) n += us.web && us.web_open;
    return n;
  }
  size_t n = 0;
  for (auto& us : users_)
    n += us.web ? us.web_open : us.client && us.client->connection().is_open();
  return n;
}

uint64_t load_driver::fault_count() const {
  uint64_t n = 0;
  for (auto& us : users_)
    if (us.client) n += us.client->stats().faults;
  return n;
}

std::vector<std::string> load_driver::fault_samples(size_t max) const {
  std::vector<std::string> out;
  for (auto& us : users_) {
    if (!us.client) continue;
    for (auto& f : us.client->faults()) {
      if (out.size() >= max) return out;
      if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    }
  }
  return out;
}

void load_driver::close_all() {
  closing_ = true;
  if (web_registration_) {
    loop_.remove_fd(web_registration_, web_->notify_fd());
    web_registration_ = 0;
  }
  if (web_) web_->close_all();
  for (auto& us : users_) us.web_open = false;
  for (auto& t : trunks_)
    if (t) t->close("bench finished");
  for (auto& us : users_) {
    if (cfg_.route == route_kind::frontend && us.client) {
      // sip_connection::detach scans every route of the connection, so destroying the
      // users of a 10,000-user trunk one by one is quadratic (minutes at 80,000 users).
      // The trunks are closed and the loop is not run again: the clients are left for
      // process exit instead (they hold their trunk's last references).
      static_cast<void>(us.client.release());
    }
    us.client.reset();
    us.phase = user_phase::gone;
  }
  trunks_.clear();
}

}  // namespace pchat::bench
