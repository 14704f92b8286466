// The simulated population: users (chat_clients on one client_loop), the rooms they belong
// to, and the operations profiles drive — sign-in ramp, joins with back-chat, posts at a
// rate, part-and-rejoin churn — with every outcome recorded in a delivery_ledger and
// counters.
//
// Routes (how users reach the server, --route):
//   direct    one TCP connection per user, bound round-robin to 127.0.0.2 ..
//             127.0.0.(1+source_addresses) for ephemeral-port space (SIPE over TCP);
//   frontend  `trunks` TCP connections shared by all users, as Lync front-end servers
//             route many users' dialogs to the chat pool;
//   udp       one UDP socket per user (SIPE over UDP), bound like direct.
//   web       a browser per user: a WebSocket to pchatd's HTTP port (bench/web_clients.h),
//             signed in with the user's password, bound like direct.
// Mixed rooms: with a SIP route and web_share > 0, that share of the users (spread evenly
// over the user indices) are browsers, the others SIP clients of the route; rooms hold both
// and every post is owed to every joined member, whichever kind.
//
// A user's life: idle ─sign_in_all─> signing in ─ready─> (join_on_signin) bjoin of all its
// rooms, then one bccontext per joined room ─> ready. A browser sends one join per room
// (with back-chat: joined carries it) instead. Join latency is measured from the
// bjoin (or join) send to the last back-chat reply. A room member counts as joined from the
// join reply until it sends a part.
//
// Bounded: every blocking run_* takes a deadline; posting keeps at most `post_window`
// unacknowledged posts per user and counts what it could not send as deferred.
//
// Threading: everything runs on the caller's thread through one client_loop; browsers' I/O
// has its own thread, whose events reach the loop through an eventfd.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/delivery_ledger.h"
#include "bench/latency_histogram.h"
#include "bench/web_clients.h"
#include "tools/client/xccos_client.h"

namespace pchat::bench {

// tls: a TLS connection per user (the server's sip-tls-port, its certificate verified).
enum class route_kind { direct, frontend, udp, tls, web };
const char* to_string(route_kind r);

struct driver_config {
  route_kind route = route_kind::direct;
  std::string server_host = "127.0.0.1";
  uint16_t server_port = 0;
  std::string tls_ca_file;  // route tls: the server's certificate (PEM) to verify it with
  // A pool (direct and tls routes): user u signs in on the node whose SIP port is
  // server_ports[u % size]; empty: every user on server_port.
  std::vector<uint16_t> server_ports;
  int trunks = 8;
  int source_addresses = 8;  // 127.0.0.2 .. 127.0.0.(1+N)
  std::string domain = "example.com";
  std::string user_prefix = "bench";  // users are <prefix><index>@<domain>
  // Every user's password (SIP Digest when challenged; the browsers' sign-in).
  std::string password;
  // Browsers: pchatd's HTTP port, and the share of users that are browsers on a SIP route
  // (route web: all of them).
  uint16_t http_port = 0;
  double web_share = 0;
  std::string pool_uri_override;
  size_t post_bytes = 100;
  int post_window = 8;         // unacknowledged posts per user
  bool join_on_signin = true;  // bjoin the user's rooms once signed in
  bool backchat_on_join = true;
  int backchat_count = 25;  // SIPE asks for 25
  uint32_t seed = 1;
};

struct driver_counters {
  uint64_t signed_in = 0;
  uint64_t signin_failed = 0;
  uint64_t disconnected = 0;      // sessions lost without sign-out
  uint64_t joins_ok = 0;          // rooms opened by join/bjoin replies
  uint64_t joins_failed = 0;      // rooms refused in join/bjoin replies
  uint64_t commands_503 = 0;      // non-post commands answered 503
  uint64_t commands_failed = 0;   // non-post commands: other SIP failures, timeouts
  uint64_t xccos_errors = 0;      // non-post commands answered with resp code != 200
  uint64_t foreign_messages = 0;  // grpchat pushes that are not bench posts
  uint64_t parts = 0;
  std::vector<std::string> first_errors;  // a few texts, for the report
};

struct bench_room {
  std::string id;
  std::string uri;
  std::string name;
  std::vector<uint32_t> members;  // user indices; position = index in this vector
  uint32_t presenters = 0;        // auditorium: only members[0..presenters) post; 0 = all
  int room_class = 0;             // profile-defined (small/medium/large)
};

class load_driver {
 public:
  load_driver(client::client_loop& loop, driver_config cfg);
  ~load_driver();
  load_driver(const load_driver&) = delete;
  load_driver& operator=(const load_driver&) = delete;

  // ---- Population (before sign-in).
  uint32_t add_room(bench_room r);  // members must be added through add_member
  uint32_t add_users(uint32_t n);   // returns the first new index
  void add_member(uint32_t user, uint32_t room);
  std::string user_name(uint32_t u) const;
  bool is_web(uint32_t u) const { return users_[u].web; }
  size_t web_users() const;
  size_t user_count() const { return users_.size(); }
  const std::vector<bench_room>& rooms() const { return rooms_; }

  // ---- Phases. Each runs the loop until done or the deadline, and returns whether done.
  // Starts users [first, last) at `per_second`, at most `max_pending` sign-ins in flight;
  // returns when every one is ready (joined, if join_on_signin) or failed.
  bool sign_in(uint32_t first, uint32_t last, double per_second, size_t max_pending,
               std::chrono::steady_clock::time_point deadline);
  // Every ready user joins all its rooms not yet joined (bjoin + back-chat). Returns when all
  // have answered.
  bool join_all(std::chrono::steady_clock::time_point deadline);
  // Runs the loop until every sent post is answered and delivered, or the deadline.
  bool drain(std::chrono::steady_clock::time_point deadline);
  // Runs the loop for `d`, firing each stream `rate` times per second (spread evenly). A
  // stream's function returns false when it could not act (the action is dropped, so a
  // saturated stream does not build a backlog).
  struct stream {
    double per_second = 0;
    std::function<bool()> fire;
  };
  void run_streams(std::chrono::steady_clock::duration d, std::vector<stream>& streams);
  void run_for(std::chrono::steady_clock::duration d);

  // ---- Actions.
  // A post from member position `pos` of `room`. False if that member cannot post now
  // (not joined, window full, not signed in).
  bool post(uint32_t room, uint32_t pos);
  // A post in `room` by a random eligible member (presenters in an auditorium); tries a few
  // members, records a deferred post if none could.
  bool post_random(uint32_t room);
  // Closed-loop posting: after each acknowledged post, the author posts again in the same
  // room while enabled (the durable-throughput measure).
  void set_closed_loop(bool on) { closed_loop_ = on; }
  // Part-and-rejoin churn for a random (user, room) membership: part, then join and
  // back-chat; the join latency goes to churn_join(). False if no candidate was found.
  bool churn_random();

  // ---- Results.
  delivery_ledger& ledger() { return ledger_; }
  const driver_counters& counters() const { return counters_; }
  const latency_histogram& signin_latency() const { return signin_; }    // start → ready
  const latency_histogram& signin_join() const { return signin_join_; }  // bjoin+back-chat
  const latency_histogram& churn_join() const { return churn_join_; }    // join+back-chat
  size_t ready_users() const;
  size_t connections() const;
  // Pool profile: post->delivery latency per class of (room, receiving user), e.g. 0 = the
  // receiver's node owns the room, 1 = another node. Deliveries are recorded from the call on.
  void set_delivery_class(std::function<int(uint32_t room, uint32_t user)> f) {
    delivery_class_ = std::move(f);
  }
  const latency_histogram& class_latency(int c) const { return class_latency_[c & 1]; }
  void clear_class_latency() { class_latency_[0].clear(), class_latency_[1].clear(); }
  // Client faults (server behaviour a SIPE client would choke on): total and a few texts.
  uint64_t fault_count() const;
  std::vector<std::string> fault_samples(size_t max) const;
  // Closes every connection (SIPE's usual sign-out) and destroys the clients.
  void close_all();

  static int64_t now_ns();

 private:
  enum class user_phase : uint8_t { idle, signing_in, joining, ready, failed, gone };
  struct user_state {
    std::unique_ptr<client::chat_client> client;
    std::vector<std::pair<uint32_t, uint32_t>> rooms;  // (room, position)
    user_phase phase = user_phase::idle;
    uint16_t inflight_posts = 0;
    uint16_t pending_backchats = 0;
    bool churning = false;       // a part/join cycle is under way
    bool churn_measure = false;  // the running join is a churn join
    int64_t started_ns = 0;      // sign-in start
    int64_t join_started_ns = 0;
    bool web = false;       // a browser (web_clients), no chat_client
    bool web_open = false;  // its socket said hello and has not closed
  };

  void make_client(uint32_t u);
  std::shared_ptr<client::sip_connection> trunk_for(uint32_t u);
  std::string source_address(uint32_t u) const;
  void on_signed_in(uint32_t u, bool ok, const std::string& why);
  void on_command(uint32_t u, const client::command_result& r);
  void on_message(uint32_t u, const client::chat_post& p);
  // A message in `room` read at `at_ns`: post `id` sent at `sent` if `ours`.
  void on_delivery(uint32_t u, const std::string& room, bool ours, uint32_t id, int64_t sent,
                   int64_t at_ns);
  // Browsers: their events, from the web_clients' notification descriptor.
  struct web_wakeup;
  void on_web_events();
  void on_web_event(const web_event& e);
  void on_post_answer(uint32_t u, uint32_t id, int status, bool ok, int64_t at_ns);
  void lose_session(uint32_t u, const std::string& why);
  bool ensure_web();
  void on_joined(uint32_t u, const std::vector<std::string>& room_uris);
  void finish_join(uint32_t u);
  void start_join(uint32_t u, const std::vector<uint32_t>& rooms, bool churn);
  int position_in(uint32_t u, uint32_t room) const;
  bool member_joined(uint32_t room, uint32_t pos) const;
  void note_error(const std::string& what);
  uint32_t random_below(uint32_t n);

  client::client_loop& loop_;
  driver_config cfg_;
  std::vector<user_state> users_;
  std::vector<bench_room> rooms_;
  std::vector<std::vector<int64_t>> joined_at_;  // per room, per position; 0 = not joined
  std::unordered_map<std::string, uint32_t> room_by_uri_;
  std::unordered_map<uint64_t, uint32_t> post_by_command_;  // (user << 32 | command) → post
  std::vector<std::shared_ptr<client::sip_connection>> trunks_;
  delivery_ledger ledger_;
  driver_counters counters_;
  latency_histogram signin_, signin_join_, churn_join_;
  std::function<int(uint32_t, uint32_t)> delivery_class_;
  latency_histogram class_latency_[2];
  bool closed_loop_ = false;
  bool closing_ = false;   // close_all() under way: callbacks are ignored
  size_t signing_in_ = 0;  // sign-ins (including their joins) in flight
  std::mt19937 rng_;
  std::unique_ptr<web_clients> web_;  // made when the first browser signs in
  std::unique_ptr<web_wakeup> web_wakeup_;
  uint64_t web_registration_ = 0;
  std::vector<web_event> web_events_;
};

}  // namespace pchat::bench
