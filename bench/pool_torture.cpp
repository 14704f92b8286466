// pchat-pool-torture: kill -9 / restart rounds against a local three-node pool under mixed
// load, with a model of acknowledged posts (issue 12; RocksDB's db_crashtest.py is the
// model). It starts a single-member etcd and N pchatd nodes on 127.0.0.1 (bench/local_pool.h,
// own ports and data folders under a temporary folder), signs in clients on every node, has
// them post into several rooms, and for each round kills a random node with SIGKILL, keeps
// the load running while the pool fails over, then restarts the node on its data folder and
// waits until every node sees every other live again. Clients of the killed node reconnect
// to a node that runs and join again.
//
// The model: every post has a unique text ("tt <user> <n>") and is
//   acknowledged  SIP 200 to its INFO and no XCCOS error reply for it (an error reply comes
//                 after the 200, so acknowledgements are judged at the end, when every
//                 client — also those whose connection died — has seen its replies);
//   refused       an XCCOS error or a SIP failure: the server said it did not take it;
//   unknown       no answer (the client's node died with the post in flight).
// At the end every room's history is read through back-chat on every node (the
// configuration's DefaultChatHistory is raised to 500 first; a room takes at most
// --max-posts-per-room posts) and checked: each acknowledged post present (else lost),
// no text more than once (duplicated, whatever its state), each author's acknowledged
// posts in the order they were sent (out of order), no post in a room it was not sent to
// (misplaced), every node answering the same history.
//
// Failover time of a round: for each room the killed node owned (rendezvous placement over
// the node names, pool/placement.h), the time from the kill until the first acknowledgement
// of a post to that room sent after the kill (by a client of a node that survived).
//
// Exit status: 0 all checks passed; 1 a check failed (lost, duplicated, out of order,
// misplaced, histories differ, or a room never served again); 2 bad arguments; 3 the pool
// or the load could not be set up. Bounded: --timeout (default 600 s) ends the run with a
// report and status 3. Loopback only. Every child (etcd, pchatd) is killed on any exit:
// the destructors on a normal end, a handler on SIGINT/SIGTERM/SIGHUP, and
// PR_SET_PDEATHSIG if this process is killed.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/admin_client.h"
#include "bench/local_pool.h"
#include "pool/placement.h"
#include "tools/client/client_loop.h"
#include "tools/client/xccos_client.h"

using namespace pchat::bench;
using pchat::client::chat_client;
using pchat::client::command_result;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

struct options {
  std::string pchatd;
  int rounds = 5;
  int nodes = 3;
  int rooms = 6;
  int clients_per_node = 3;
  double rate = 40;           // posts/s over all clients
  int window = 4;             // unanswered posts per client
  double up_seconds = 3;      // load with every node up before each kill
  double down_seconds = 2;    // at least this long with the node down
  double recover_limit = 15;  // a room not served again within this after the kill fails the run
  int max_posts_per_room = 450;
  uint32_t seed = 0;  // 0: from the clock
  double timeout = 600;
  bool json = false;
  bool keep_dir = false;
};

std::string usage() {
  return "usage: pchat-pool-torture [--pchatd=PATH] [--rounds=5] [--nodes=3] [--rooms=6]\n"
         "         [--clients-per-node=3] [--rate=40] [--window=4] [--up-seconds=3]\n"
         "         [--down-seconds=2] [--recover-limit=15] [--max-posts-per-room=450]\n"
         "         [--seed=N] [--timeout=600] [--json] [--keep-dir]\n"
         "Starts etcd and N pchatd on 127.0.0.1, runs kill -9 / restart rounds under load,\n"
         "checks every acknowledged post is in its room's history once and in order.\n"
         "Exit 0 ok, 1 a check failed, 2 bad arguments, 3 set-up failed or timed out.\n";
}

bool parse(int argc, char** argv, options& o, std::string& err) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    std::string k = a.substr(0, eq), v = eq == std::string::npos ? "" : a.substr(eq + 1);
    auto num = [&](double lo, double hi) -> double {
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || d < lo || d > hi) {
        err = k + " must be a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
        return lo;
      }
      return d;
    };
    if (k == "--help" || k == "-h") {
      err = "help";
      return false;
    } else if (k == "--pchatd")
      o.pchatd = v;
    else if (k == "--rounds")
      o.rounds = static_cast<int>(num(0, 1000));
    else if (k == "--nodes")
      o.nodes = static_cast<int>(num(2, 9));
    else if (k == "--rooms")
      o.rooms = static_cast<int>(num(1, 200));
    else if (k == "--clients-per-node")
      o.clients_per_node = static_cast<int>(num(1, 100));
    else if (k == "--rate")
      o.rate = num(1, 5000);
    else if (k == "--window")
      o.window = static_cast<int>(num(1, 64));
    else if (k == "--up-seconds")
      o.up_seconds = num(0.5, 600);
    else if (k == "--down-seconds")
      o.down_seconds = num(0.1, 600);
    else if (k == "--recover-limit")
      o.recover_limit = num(1, 600);
    else if (k == "--max-posts-per-room")
      o.max_posts_per_room = static_cast<int>(num(10, 500));
    else if (k == "--seed")
      o.seed = static_cast<uint32_t>(num(0, 4294967295.0));
    else if (k == "--timeout")
      o.timeout = num(10, 36000);
    else if (k == "--json")
      o.json = true;
    else if (k == "--keep-dir")
      o.keep_dir = true;
    else
      err = "unknown option " + k;
    if (!err.empty()) return false;
  }
  if (o.pchatd.empty()) {
    // Default: pchatd next to this binary (build/bin).
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    o.pchatd = (self.parent_path() / "pchatd").string();
  }
  return true;
}

// Everything a SIGINT/SIGTERM handler must kill: filled as children start.
volatile sig_atomic_t g_children_n = 0;
pid_t g_children[16];

void on_fatal_signal(int sig) {
  for (int i = 0; i < g_children_n; ++i)
    if (g_children[i] > 0) ::kill(g_children[i], SIGKILL);
  _exit(128 + sig);
}

void note_children(const local_pool& pool) {
  auto pids = pool.child_pids();
  int n = 0;
  for (pid_t p : pids)
    if (n < 16) g_children[n++] = p;
  g_children_n = n;
}

// answered_ok: SIP 2xx, no XCCOS error yet; refused: a SIP or XCCOS error; unanswered: no
// response (the connection died, or the client's transaction timed out).
enum class post_state : uint8_t { pending, answered_ok, refused, unanswered };

struct post_rec {
  uint32_t client = 0;
  uint32_t room = 0;
  uint32_t n = 0;  // the author's post number (send order)
  chat_client* via = nullptr;
  uint64_t command = 0;
  post_state state = post_state::pending;
  bool acknowledged = false;  // final verdict (after the late-reply check)
  steady::time_point sent{}, answered{};
};

struct torture_client {
  std::string user;
  size_t node = 0;  // node it is (or was last) signed in on
  std::unique_ptr<chat_client> c;
  std::vector<std::unique_ptr<chat_client>> old;  // dead sessions, kept for their replies
  enum class phase { idle, signing_in, joining, ready, down } ph = phase::idle;
  std::set<uint32_t> joined;  // rooms (indices)
  int inflight = 0;
  uint32_t next_n = 0;
  int reconnects = 0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * v.size()));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

class torture {
 public:
  torture(options o, std::string dir)
      : o_(std::move(o)),
        dir_(std::move(dir)),
        rng_(o_.seed),
        pool_(dir_, static_cast<size_t>(o_.nodes), o_.pchatd,
              {"--pool-name=torture", "--demo-content=false"}) {}

  int run() {
    deadline_ = steady::now() + milliseconds(static_cast<int64_t>(o_.timeout * 1000));
    say("starting etcd and %d pchatd nodes in %s", o_.nodes, dir_.c_str());
    if (!pool_.start()) return setup_failed("pool: " + pool_.error());
    note_children(pool_);
    if (!prepare()) return finish(3);
    if (!sign_in_all()) return finish(3);
    say("%zu clients signed in and joined %d rooms; %d rounds", clients_.size(), o_.rooms,
        o_.rounds);
    auto t0 = steady::now();
    for (int r = 0; r < o_.rounds && !out_of_time(); ++r) {
      // Back-chat shows at most 500 posts a room: stop before a room fills (a full room
      // takes no probe, so its failover could not be timed).
      if (history_nearly_full()) {
        stopped_by_cap_ = true;
        say("rooms nearly at --max-posts-per-room after %d rounds: stopping (use more --rooms or a "
            "lower --rate)",
            r);
        break;
      }
      if (!round(r)) break;
    }
    load_for(milliseconds(static_cast<int64_t>(o_.up_seconds * 1000)));
    posting_ = false;
    run_seconds_ = std::chrono::duration<double>(steady::now() - t0).count();
    say("load stopped; waiting for answers to every post");
    loop_.run_until([&] { return inflight_total() == 0; },
                    std::min(deadline_, steady::now() + seconds(30)));
    loop_.run_until([] { return false; }, milliseconds(300));  // late XCCOS replies
    judge_acknowledgements();
    if (!read_histories()) return finish(3);
    check();
    return finish(failures() ? 1 : 0);
  }

 private:
  template <class... A>
  void say(const char* fmt, A... a) {
    std::fprintf(stderr, "pchat-pool-torture: ");
    std::fprintf(stderr, fmt, a...);
    std::fprintf(stderr, "\n");
  }
  bool out_of_time() const { return steady::now() >= deadline_; }
  int setup_failed(const std::string& why) {
    fail_setup(why);
    return finish(3);
  }
  bool fail_setup(const std::string& why) {
    setup_error_ = why;
    say("set-up failed: %s", why.c_str());
    return false;
  }

  std::unique_ptr<admin_client> admin(size_t i) {
    auto a = std::make_unique<admin_client>("127.0.0.1:" + std::to_string(pool_.node(i).http_port));
    a->set_token(pool_.node(i).token);
    return a;
  }

  // Users, a category, the rooms, and DefaultChatHistory 500 in force on every node.
  bool prepare() {
    auto ap = admin(0);
    admin_client& a = *ap;
    auto st = a.status();
    if (!st) return fail_setup("status: " + a.last_error());
    domain_ = st->value("domain", "example.com");
    std::vector<std::string> users;
    for (int i = 0; i < o_.nodes * o_.clients_per_node; ++i)
      users.push_back("torture" + std::to_string(i) + "@" + domain_);
    users.push_back("torture-reader@" + domain_);
    if (!a.ensure_users(users)) return fail_setup("users: " + a.last_error());
    auto cat = a.create_category("torture", "pchat-pool-torture rooms");
    if (!cat) return fail_setup("category: " + a.last_error());
    for (int r = 0; r < o_.rooms; ++r) {
      auto made = a.create_room("torture-" + std::to_string(r), *cat, "pchat-pool-torture");
      if (!made) return fail_setup("room: " + a.last_error());
      rooms_.push_back(*made);
    }
    auto put =
        a.request("PUT", "/api/v1/config?identity=global", R"({"default_chat_history":500})");
    if (put.status != 200)
      return fail_setup("config set: HTTP " + std::to_string(put.status) + " " + put.body.dump());
    // Every node must list every room and have the setting in force (a node that took the
    // directory change but does not apply configuration live is told to reload: SIGHUP).
    auto until = steady::now() + seconds(20);
    bool hupped = false;
    for (size_t i = 0; i < pool_.size(); ++i) {
      for (;;) {
        auto aip = admin(i);
        admin_client& ai = *aip;
        auto c = ai.request("GET", "/api/v1/config");
        bool history =
            c.status == 200 && c.body.is_object() && c.body.value("default_chat_history", 0) == 500;
        bool listed = true;
        for (auto& r : rooms_)
          listed = listed && ai.request("GET", "/api/v1/rooms/" + r.id).status == 200;
        if (history && listed) break;
        if (steady::now() > until - seconds(15) && !history && !hupped) {
          for (size_t k = 0; k < pool_.size(); ++k) ::kill(pool_.node(k).proc.pid(), SIGHUP);
          hupped = true;
          sighup_needed_ = true;
        }
        if (steady::now() > until)
          return fail_setup(
              pool_.node(i).name +
              " does not list the rooms or have DefaultChatHistory 500: " + c.body.dump());
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
    return true;
  }

  void connect(uint32_t k) {
    auto& tc = clients_[k];
    if (tc.c) tc.old.push_back(std::move(tc.c));
    pchat::client::connection_config cc;
    cc.server_port = pool_.node(tc.node).sip_port;
    pchat::client::client_config cfg;
    cfg.user = tc.user;
    cfg.max_stored_messages = 0;
    cfg.max_stored_roster = 0;
    cfg.max_command_history = 1u << 20;  // every post's late reply stays findable
    cfg.track_members = false;
    cfg.reply_timeout = seconds(30);
    tc.c = std::make_unique<chat_client>(loop_, cc, cfg);
    tc.ph = torture_client::phase::signing_in;
    tc.joined.clear();
    tc.inflight = 0;
    auto& cb = tc.c->callbacks();
    chat_client* self = tc.c.get();
    cb.on_signed_in = [this, k, self](chat_client&, bool ok) {
      if (clients_[k].c.get() != self) return;
      if (ok) {
        join_missing(k);
      } else {
        clients_[k].ph = torture_client::phase::down;
        schedule_reconnect(k);
      }
    };
    cb.on_command_complete = [this, k, self](chat_client&, const command_result& r) {
      on_command(k, self, r);
    };
    cb.on_disconnected = [this, k, self](chat_client&, const std::string&) {
      if (clients_[k].c.get() != self) return;
      clients_[k].ph = torture_client::phase::down;
      schedule_reconnect(k);
    };
    tc.c->start();
  }

  // A client whose session ended signs in again on a node that runs (its own if it runs).
  void schedule_reconnect(uint32_t k) {
    loop_.add_timer(milliseconds(200), [this, k] {
      auto& tc = clients_[k];
      if (tc.ph != torture_client::phase::down || stopping_) return;
      std::vector<size_t> up;
      for (size_t i = 0; i < pool_.size(); ++i)
        if (pool_.node(i).up) up.push_back(i);
      if (up.empty()) return schedule_reconnect(k);
      if (!pool_.node(tc.node).up)
        tc.node = up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(rng_)];
      ++tc.reconnects;
      connect(k);
    });
  }

  void join_missing(uint32_t k) {
    auto& tc = clients_[k];
    std::vector<std::string> uris;
    for (uint32_t r = 0; r < rooms_.size(); ++r)
      if (!tc.joined.count(r)) uris.push_back(rooms_[r].uri);
    if (uris.empty()) {
      tc.ph = torture_client::phase::ready;
      return;
    }
    tc.ph = torture_client::phase::joining;
    if (tc.c->bjoin(uris) == 0) {
      tc.ph = torture_client::phase::down;
      schedule_reconnect(k);
    }
  }

  void on_command(uint32_t k, chat_client* via, const command_result& r) {
    auto& tc = clients_[k];
    if (r.command == "grpchat") {
      auto it = post_of_.find({via, r.id});
      if (it == post_of_.end()) return;
      auto& p = posts_[it->second];
      if (p.state == post_state::pending) {
        if (tc.c.get() == via && tc.inflight > 0) --tc.inflight;
        p.answered = steady::now();
        if (r.sip_status == 0 || r.sip_status == 408)
          p.state = post_state::unanswered;
        else if (r.sip_ok() && !(r.replied && r.reply.code != 200))
          p.state = post_state::answered_ok;
        else
          p.state = post_state::refused;
        if (p.state == post_state::answered_ok) note_ack(p);
      }
      return;
    }
    if (tc.c.get() != via) return;
    if (r.command == "cmd:bjoin") {
      if (r.replied)
        for (auto& j : r.reply.joined)
          for (uint32_t i = 0; i < rooms_.size(); ++i)
            if (rooms_[i].uri == j.uri) tc.joined.insert(i);
      if (tc.joined.size() == rooms_.size()) {
        tc.ph = torture_client::phase::ready;
      } else if (tc.c->is_ready()) {
        // Some rooms refused for now (moving between nodes): ask again shortly.
        loop_.add_timer(milliseconds(250), [this, k, via] {
          if (clients_[k].c.get() == via && clients_[k].c->is_ready()) join_missing(k);
        });
      }
    }
  }

  // Failover clocks: the first acknowledgement of a post sent after the kill, per room the
  // killed node owned.
  void note_ack(const post_rec& p) {
    for (auto& w : watches_)
      if (!w.done && w.room == p.room && p.sent > w.killed) {
        w.done = true;
        w.ms = std::chrono::duration<double, std::milli>(p.answered - w.killed).count();
      }
  }

  size_t inflight_total() const {
    size_t n = 0;
    for (auto& p : posts_) n += p.state == post_state::pending;
    return n;
  }

  bool sign_in_all() {
    int total = o_.nodes * o_.clients_per_node;
    for (int k = 0; k < total; ++k) {
      torture_client tc;
      tc.user = "torture" + std::to_string(k) + "@" + domain_;
      tc.node = static_cast<size_t>(k % o_.nodes);
      clients_.push_back(std::move(tc));
    }
    for (uint32_t k = 0; k < clients_.size(); ++k) connect(k);
    bool ok = loop_.run_until(
        [&] {
          for (auto& c : clients_)
            if (c.ph != torture_client::phase::ready) return false;
          return true;
        },
        std::min(deadline_, steady::now() + seconds(30)));
    if (!ok) {
      std::string why = "clients did not all sign in and join within 30 s:";
      for (auto& c : clients_)
        if (c.ph != torture_client::phase::ready)
          why += " " + c.user + "(" + std::string(pchat::client::to_string(c.c->state())) + " " +
                 c.c->failure_reason() + ")";
      fail_setup(why);
    }
    return ok;
  }

  // One post by a random ready client with room in its window, into a random room with
  // room left in the model; false if none could post.
  bool post_one() {
    for (int tries = 0; tries < 8; ++tries) {
      uint32_t k = std::uniform_int_distribution<uint32_t>(
          0, static_cast<uint32_t>(clients_.size() - 1))(rng_);
      auto& tc = clients_[k];
      if (tc.ph != torture_client::phase::ready || tc.inflight >= o_.window) continue;
      uint32_t r = std::uniform_int_distribution<uint32_t>(
          0, static_cast<uint32_t>(rooms_.size() - 1))(rng_);
      if (send_post(k, r)) return true;
    }
    ++deferred_;
    return false;
  }

  // Right after a kill: one post into `room` from a ready client of a node that runs (the
  // failover clock starts at the kill, so it must not wait for the next random post).
  void probe(uint32_t room) {
    for (uint32_t k = 0; k < clients_.size(); ++k)
      if (clients_[k].ph == torture_client::phase::ready && pool_.node(clients_[k].node).up &&
          send_post(k, room))
        return;
  }

  bool send_post(uint32_t k, uint32_t r) {
    auto& tc = clients_[k];
    if (room_posts_[r] >= o_.max_posts_per_room) return false;
    post_rec p;
    p.client = k;
    p.room = r;
    p.n = tc.next_n++;
    p.via = tc.c.get();
    p.sent = steady::now();
    std::string text = "tt " + tc.user.substr(0, tc.user.find('@')) + " " + std::to_string(p.n);
    p.command = tc.c->post(rooms_[r].uri, text);
    if (p.command == 0) return false;
    ++tc.inflight;
    ++room_posts_[r];
    post_of_[{p.via, p.command}] = posts_.size();
    texts_[text] = posts_.size();
    posts_.push_back(p);
    return true;
  }

  // Runs the loop for `d`, posting at --rate while posting_.
  void load_for(steady::duration d) {
    auto until = std::min(deadline_, steady::now() + d);
    auto interval =
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1.0 / o_.rate));
    while (steady::now() < until) {
      if (posting_ && steady::now() >= next_post_) {
        post_one();
        next_post_ += interval;
        if (next_post_ < steady::now() - milliseconds(100))
          next_post_ = steady::now();  // no burst after a stall
      }
      loop_.run_once(1);
    }
  }

  // Runs the loop (posting) until `done` or `d` passed.
  bool load_until(const std::function<bool()>& done, steady::duration d) {
    auto until = std::min(deadline_, steady::now() + d);
    while (steady::now() < until) {
      if (done()) return true;
      load_for(milliseconds(50));
    }
    return done();
  }

  // room id -> the node whose claim (GET /api/v1/pool "rooms") holds it, the highest epoch.
  std::map<std::string, std::string> owners() {
    std::map<std::string, std::pair<uint64_t, std::string>> best;
    for (size_t i = 0; i < pool_.size(); ++i) {
      if (!pool_.node(i).up) continue;
      auto r = admin(i)->request("GET", "/api/v1/pool");
      if (r.status != 200 || !r.body.is_object()) continue;
      for (auto& e : r.body.value("rooms", nlohmann::json::array())) {
        auto id = e.value("room_id", std::string());
        uint64_t epoch = e.value("epoch", uint64_t{0});
        auto& b = best[id];
        if (epoch >= b.first) b = {epoch, pool_.node(i).name};
      }
    }
    std::map<std::string, std::string> out;
    for (auto& [id, b] : best) out[id] = b.second;
    return out;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (size_t i = 0; i < pool_.size(); ++i) n.push_back("n" + std::to_string(i + 1));
    return n;
  }

  bool round(int r) {
    load_for(milliseconds(static_cast<int64_t>(o_.up_seconds * 1000)));
    size_t victim = std::uniform_int_distribution<size_t>(0, pool_.size() - 1)(rng_);
    std::string vname = pool_.node(victim).name;
    size_t first_watch = watches_.size();
    auto all = names();
    // Who serves each room now: a room may still be on its acting owner after the last
    // restart (it moves back at its next post or pool check), so placement alone is not it.
    auto owner = owners();
    auto killed = steady::now();
    pool_.kill(victim);
    note_children(pool_);
    for (uint32_t i = 0; i < rooms_.size(); ++i) {
      auto held = owner.find(rooms_[i].id);
      const std::string o =
          held != owner.end() ? held->second : pchat::pool::rank(rooms_[i].id, all)[0];
      if (o == vname) watches_.push_back({r, i, killed, false, 0});
    }
    for (size_t w = first_watch; w < watches_.size(); ++w) probe(watches_[w].room);
    size_t placed = 0, elsewhere = 0;
    for (auto& room : rooms_) {
      bool placed_here = pchat::pool::rank(room.id, all)[0] == vname;
      placed += placed_here;
      auto held = owner.find(room.id);
      elsewhere += held != owner.end() && held->second != pchat::pool::rank(room.id, all)[0];
    }
    away_from_placement_ += elsewhere;
    say("round %d: kill -9 %s (serving %zu of %zu rooms, placement gives it %zu; %zu rooms not on "
        "their "
        "placement owner)",
        r + 1, vname.c_str(), watches_.size() - first_watch, rooms_.size(), placed, elsewhere);
    auto recovered = [&] {
      for (size_t w = first_watch; w < watches_.size(); ++w)
        if (!watches_[w].done) return false;
      return true;
    };
    load_for(milliseconds(static_cast<int64_t>(o_.down_seconds * 1000)));
    if (!load_until(
            recovered,
            milliseconds(static_cast<int64_t>(o_.recover_limit * 1000) -
                         std::chrono::duration_cast<milliseconds>(steady::now() - killed).count())))
      say("round %d: some rooms of %s were not served again within %.0f s", r + 1, vname.c_str(),
          o_.recover_limit);
    for (size_t w = first_watch; w < watches_.size(); ++w)
      if (watches_[w].done)
        say("round %d: room %s served again %.0f ms after the kill", r + 1,
            rooms_[watches_[w].room].name.c_str(), watches_[w].ms);
    if (!pool_.restart(victim)) {
      restart_error_ = "round " + std::to_string(r + 1) + ": " + pool_.error();
      say("%s", restart_error_.c_str());
      return false;
    }
    note_children(pool_);
    auto back = steady::now();
    // Settled: every node sees every node live; the load keeps running meanwhile.
    bool settled = load_until(
        [&] {
          auto want = pool_.up_names();
          for (size_t i = 0; i < pool_.size(); ++i)
            if (pool_.live_names(i) != want) return false;
          return true;
        },
        seconds(30));
    double ms = std::chrono::duration<double, std::milli>(steady::now() - back).count();
    if (!settled) {
      restart_error_ = "round " + std::to_string(r + 1) + ": " + vname +
                       " restarted but the views did not settle in 30 s";
      say("%s", restart_error_.c_str());
      return false;
    }
    rejoin_ms_.push_back(ms);
    ++rounds_done_;
    return true;
  }

  // An XCCOS error reply rides after the 200: look each answered post up again.
  void judge_acknowledgements() {
    for (auto& p : posts_) {
      p.acknowledged = false;
      if (p.state != post_state::answered_ok) continue;
      const command_result* r = p.via ? p.via->find_command(p.command) : nullptr;
      if (r && r->replied && r->reply.code != 200) {
        p.state = post_state::refused;
        ++refusal_reasons_[std::to_string(r->reply.code) + " " + r->reply.text];
        ++late_refusals_;
        continue;
      }
      p.acknowledged = true;
    }
    // Failover times from the final verdicts: the first acknowledged post sent after the
    // kill (the clocks kept during the run took a 200 that an error reply may have undone).
    for (auto& w : watches_) {
      w.done = false;
      for (auto& p : posts_)
        if (p.acknowledged && p.room == w.room && p.sent > w.killed) {
          double ms = std::chrono::duration<double, std::milli>(p.answered - w.killed).count();
          if (!w.done || ms < w.ms) w.ms = ms;
          w.done = true;
        }
    }
  }

  // Back-chat of every room on every node, through a reader client per node.
  bool read_histories() {
    stopping_ = true;
    histories_.assign(pool_.size(), std::vector<std::vector<std::string>>(rooms_.size()));
    for (size_t i = 0; i < pool_.size(); ++i) {
      if (!pool_.node(i).up) continue;
      pchat::client::connection_config cc;
      cc.server_port = pool_.node(i).sip_port;
      pchat::client::client_config cfg;
      cfg.user = "torture-reader@" + domain_;
      cfg.expect_other_sessions = true;
      chat_client reader(loop_, cc, cfg);
      if (!reader.sign_in(seconds(10))) {
        setup_error_ = "reader on " + pool_.node(i).name + ": " + reader.failure_reason();
        return false;
      }
      for (uint32_t r = 0; r < rooms_.size(); ++r) {
        // A room may be moving back to its returned owner: a refusal is tried again.
        bool joined = false;
        std::string why;
        for (int t = 0; t < 20 && !joined; ++t) {
          auto j = reader.join_and_wait(rooms_[r].uri, seconds(10));
          joined = j && j->ok();
          if (!joined) {
            why = j ? "join answered " + std::to_string(j->code) + " " + j->text : "no join answer";
            loop_.run_until([] { return false; }, milliseconds(250));
          }
        }
        std::optional<std::vector<pchat::client::chat_post>> h;
        for (int t = 0; t < 20 && joined && !h; ++t) {
          uint64_t id = reader.bccontext(rooms_[r].uri, 500);
          auto res = reader.wait_command(id, seconds(10));
          if (res && res->ok()) {
            h = res->reply.messages;
          } else {
            why = res ? "back-chat: SIP " + std::to_string(res->sip_status) + " XCCOS " +
                            std::to_string(res->reply.code) + " " + res->reply.text
                      : "no back-chat answer";
            loop_.run_until([] { return false; }, milliseconds(250));
          }
        }
        if (!h) {
          setup_error_ =
              "reader on " + pool_.node(i).name + ", room " + rooms_[r].name + ": " + why;
          return false;
        }
        for (auto& m : *h) histories_[i][r].push_back(m.text);
      }
      reader.sign_out_and_wait(seconds(5));
    }
    return true;
  }

  void check() {
    // Histories must agree between nodes.
    for (size_t i = 1; i < histories_.size(); ++i)
      for (uint32_t r = 0; r < rooms_.size(); ++r)
        if (histories_[i][r] != histories_[0][r]) {
          ++history_mismatch_;
          if (samples_.size() < 10)
            samples_.push_back("room " + rooms_[r].name + ": " + pool_.node(i).name + " answers " +
                               std::to_string(histories_[i][r].size()) + " posts, n1 " +
                               std::to_string(histories_[0][r].size()));
        }
    const auto& hist = histories_[0];
    std::map<std::string, int> copies;
    std::vector<std::map<std::string, size_t>> position(rooms_.size());
    for (uint32_t r = 0; r < rooms_.size(); ++r)
      for (size_t at = 0; at < hist[r].size(); ++at) {
        const auto& text = hist[r][at];
        auto it = texts_.find(text);
        if (it == texts_.end()) {
          ++foreign_;
          continue;
        }
        if (++copies[text] > 1) {
          ++duplicated_;
          if (samples_.size() < 10)
            samples_.push_back("duplicated: '" + text + "' in " + rooms_[r].name);
        }
        if (posts_[it->second].room != r) {
          ++misplaced_;
          if (samples_.size() < 10)
            samples_.push_back("misplaced: '" + text + "' in " + rooms_[r].name);
        }
        position[r].emplace(text, at);
      }
    // Per author and room: acknowledged posts in send order.
    std::map<std::pair<uint32_t, uint32_t>, size_t> last_pos;
    std::vector<size_t> order(posts_.size());
    for (size_t i = 0; i < posts_.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::tie(posts_[a].client, posts_[a].n) < std::tie(posts_[b].client, posts_[b].n);
    });
    for (size_t idx : order) {
      auto& p = posts_[idx];
      std::string text = "tt " +
                         clients_[p.client].user.substr(0, clients_[p.client].user.find('@')) +
                         " " + std::to_string(p.n);
      bool present = copies.count(text) > 0;
      if (p.acknowledged) {
        ++acked_;
        if (!present) {
          ++lost_;
          if (samples_.size() < 10)
            samples_.push_back("lost: '" + text + "' in " + rooms_[p.room].name);
          continue;
        }
        auto pos = position[p.room].find(text);
        if (pos == position[p.room].end()) continue;  // misplaced, counted above
        auto key = std::make_pair(p.client, p.room);
        auto prev = last_pos.find(key);
        if (prev != last_pos.end() && pos->second < prev->second) {
          ++out_of_order_;
          if (samples_.size() < 10)
            samples_.push_back("out of order: '" + text + "' in " + rooms_[p.room].name);
        }
        last_pos[key] = pos->second;
      } else if (p.state == post_state::refused) {
        ++refused_;
        if (present) ++refused_present_;
      } else {
        ++unknown_;
        if (present) ++unknown_present_;
      }
    }
  }

  // A room that may fill during the next round (its share of --rate over a round, twice).
  bool history_nearly_full() {
    double per_room_round =
        o_.rate / static_cast<double>(rooms_.size()) * (o_.up_seconds + o_.down_seconds + 2);
    for (uint32_t r = 0; r < rooms_.size(); ++r)
      if (room_posts_[r] + 2 * per_room_round + 8 >= o_.max_posts_per_room) return true;
    return false;
  }

  uint64_t failures() const {
    uint64_t never = 0;
    for (auto& w : watches_) never += !w.done;
    return lost_ + duplicated_ + out_of_order_ + misplaced_ + history_mismatch_ + never +
           (restart_error_.empty() ? 0 : 1);
  }

  int finish(int code) {
    std::vector<double> fo;
    uint64_t never = 0;
    for (auto& w : watches_) {
      if (w.done)
        fo.push_back(w.ms);
      else
        ++never;
    }
    uint64_t reconnects = 0;
    for (auto& c : clients_) reconnects += static_cast<uint64_t>(c.reconnects);
    nlohmann::json j{{"rounds", rounds_done_},
                     {"rounds_asked", o_.rounds},
                     {"nodes", o_.nodes},
                     {"rooms", o_.rooms},
                     {"clients", clients_.size()},
                     {"seed", o_.seed},
                     {"seconds", std::round(run_seconds_ * 10) / 10},
                     {"posts_sent", posts_.size()},
                     {"acknowledged", acked_},
                     {"lost", lost_},
                     {"duplicated", duplicated_},
                     {"out_of_order", out_of_order_},
                     {"misplaced", misplaced_},
                     {"history_mismatch", history_mismatch_},
                     {"refused", refused_},
                     {"refused_present", refused_present_},
                     {"refused_after_200", late_refusals_},
                     {"unknown", unknown_},
                     {"unknown_present", unknown_present_},
                     {"foreign_in_history", foreign_},
                     {"deferred", deferred_},
                     {"reconnects", reconnects},
                     {"failover_rooms", watches_.size()},
                     {"failover_never", never},
                     {"failover_ms",
                      {{"p50", std::round(percentile(fo, 0.5))},
                       {"p99", std::round(percentile(fo, 0.99))},
                       {"max", std::round(percentile(fo, 1.0))}}},
                     {"rejoin_ms",
                      {{"p50", std::round(percentile(rejoin_ms_, 0.5))},
                       {"max", std::round(percentile(rejoin_ms_, 1.0))}}},
                     {"sighup_needed_for_config", sighup_needed_},
                     {"samples", samples_},
                     {"refusal_reasons", refusal_reasons_},
                     {"rooms_away_from_placement_at_kills", away_from_placement_},
                     {"rounds_stopped_by_history_cap", stopped_by_cap_},
                     {"ok", code == 0}};
    if (!setup_error_.empty()) j["error"] = setup_error_;
    if (!restart_error_.empty()) j["restart_error"] = restart_error_;
    if (out_of_time()) j["timed_out"] = true;
    if (o_.json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf(
          "pool torture: %d of %d rounds, %d nodes, %d rooms, %zu clients, seed %u, %.1f s\n",
          rounds_done_, o_.rounds, o_.nodes, o_.rooms, clients_.size(), o_.seed, run_seconds_);
      if (stopped_by_cap_)
        std::printf(
            "  rounds stopped early: the rooms' histories were nearly at --max-posts-per-room\n");
      std::printf(
          "  posts sent %zu, acknowledged %llu, refused %llu (%llu in the history), unanswered "
          "%llu (%llu in the history)\n",
          posts_.size(), (unsigned long long)acked_, (unsigned long long)refused_,
          (unsigned long long)refused_present_, (unsigned long long)unknown_,
          (unsigned long long)unknown_present_);
      std::printf(
          "  lost %llu, duplicated %llu, out of order %llu, misplaced %llu, histories differing "
          "%llu\n",
          (unsigned long long)lost_, (unsigned long long)duplicated_,
          (unsigned long long)out_of_order_, (unsigned long long)misplaced_,
          (unsigned long long)history_mismatch_);
      std::printf(
          "  failover (kill -> first 200 of a post sent after it, per room of the killed node): "
          "%zu rooms, "
          "p50 %.0f ms, p99 %.0f ms, max %.0f ms, never %llu\n",
          watches_.size(), percentile(fo, 0.5), percentile(fo, 0.99), percentile(fo, 1.0),
          (unsigned long long)never);
      std::printf(
          "  restarted node seen live by all: p50 %.0f ms, max %.0f ms; client reconnects %llu\n",
          percentile(rejoin_ms_, 0.5), percentile(rejoin_ms_, 1.0), (unsigned long long)reconnects);
      std::printf(
          "  rooms not on their placement owner when a node was killed (summed over kills): %llu\n",
          (unsigned long long)away_from_placement_);
      for (auto& s : samples_) std::printf("  %s\n", s.c_str());
      for (auto& [why, n] : refusal_reasons_)
        std::printf("  refused after 200 (XCCOS error reply): %llu x %s\n", (unsigned long long)n,
                    why.c_str());
      if (!setup_error_.empty()) std::printf("  error: %s\n", setup_error_.c_str());
      if (!restart_error_.empty()) std::printf("  error: %s\n", restart_error_.c_str());
      std::printf("%s\n", code == 0 ? "OK" : "FAILED");
    }
    return code;
  }

  struct watch {
    int round;
    uint32_t room;
    steady::time_point killed;
    bool done;
    double ms;
  };

  options o_;
  std::string dir_;
  std::mt19937 rng_;
  local_pool pool_;
  pchat::client::client_loop loop_;
  steady::time_point deadline_{};
  std::string domain_;
  std::vector<created_room> rooms_;
  std::vector<torture_client> clients_;
  std::vector<post_rec> posts_;
  std::map<std::pair<chat_client*, uint64_t>, size_t> post_of_;
  std::map<std::string, size_t> texts_;
  std::map<uint32_t, int> room_posts_;
  std::vector<watch> watches_;
  std::vector<double> rejoin_ms_;
  std::vector<std::vector<std::vector<std::string>>> histories_;  // node, room, texts
  std::vector<std::string> samples_;
  std::string setup_error_, restart_error_;
  bool posting_ = true, stopping_ = false, sighup_needed_ = false;
  steady::time_point next_post_ = steady::now();
  int rounds_done_ = 0;
  double run_seconds_ = 0;
  uint64_t acked_ = 0, lost_ = 0, duplicated_ = 0, out_of_order_ = 0, misplaced_ = 0,
           history_mismatch_ = 0;
  uint64_t refused_ = 0, refused_present_ = 0, unknown_ = 0, unknown_present_ = 0, foreign_ = 0;
  uint64_t deferred_ = 0, late_refusals_ = 0;
  // Summed over kills: rooms served by a node placement does not rank first.
  uint64_t away_from_placement_ = 0;
  bool stopped_by_cap_ = false;  // rounds ended early: a room's history nearly full
  std::map<std::string, uint64_t> refusal_reasons_;  // XCCOS code and text -> posts
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  std::string err;
  if (!parse(argc, argv, o, err)) {
    if (err == "help") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "pchat-pool-torture: %s\n%s", err.c_str(), usage().c_str());
    return 2;
  }
  if (o.seed == 0)
    o.seed = static_cast<uint32_t>(std::chrono::system_clock::now().time_since_epoch().count() %
                                   1000000007);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  char tmpl[] = "/tmp/pchat-torture-XXXXXX";
  const char* made = mkdtemp(tmpl);
  if (!made) {
    std::perror("pchat-pool-torture: mkdtemp");
    return 3;
  }
  std::string dir = made;
  std::fprintf(stderr, "pchat-pool-torture: seed %u (repeat with --seed=%u)\n", o.seed, o.seed);
  int rc;
  {
    torture t(o, dir);
    rc = t.run();
  }  // every child killed here
  std::error_code ec;
  if (!o.keep_dir && rc == 0)
    std::filesystem::remove_all(dir, ec);
  else
    std::fprintf(stderr, "pchat-pool-torture: logs and data kept in %s\n", dir.c_str());
  return rc;
}
