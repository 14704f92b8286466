// pchat-compliance-bench: the cost of compliance capture on durable post throughput
// (issue 4 goal: under 10 %), compliance off and on in the same run.
//
//   pchat-compliance-bench [--sessions=N] [--posts=M] [--window=W] [--rounds=R] [--dir=/tmp]
//                          [--only=off|on]
//
// --only runs one mode, for instruction counts under valgrind --tool=callgrind, which are
// exact where wall-clock throughput is swamped by fsync variance (docs/PERFORMANCE.md).
//
// Measures the actor layer without SIP: N sessions join one room (the SIP edge replaced by
// a counting dialog_sender, as in tests/actors) and each sends M posts, keeping W in flight
// as a client does (each 200 releases the next; W=0 sends all M at once); the clock
// stops when every post has its SIP 200, i.e. is durable (synced group commit) and fanned
// out. Rounds alternate off/on on fresh stores so disk state and warm-up hit both equally;
// the report gives each round and the medians. With compliance on, every post also stages
// its CHAT event in the same WriteBatch and the runner is *not* started (the bench measures
// capture, the cost on the post path; delivery runs every RunInterval, off the post path).
#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/server_node.h"
#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/session_actor.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/chat_uri.h"
#include "protocol/xccos/xccos_codec.h"
#include "storage/database.h"

using namespace pchat;
using namespace std::chrono_literals;

namespace {

// Counts responses and join replies; keeps nothing else (fan-out bodies are dropped).
// `on_response`, when set, runs for every response (on the responding actor's thread).
class counting_sender final : public sip::dialog_sender {
 public:
  void respond(sip::txn_id txn, int code) override {
    (code == 200 ? ok : failed).fetch_add(1, std::memory_order_relaxed);
    if (releasing.load()) on_response(txn);
  }
  std::function<void(sip::txn_id)> on_response;  // set before `releasing`, never after
  std::atomic<bool> releasing{false};
  void send_info(sip::dialog_id, std::shared_ptr<const std::string> body) override {
    if (body->find("rpl:join") != std::string::npos) joined.fetch_add(1);
  }
  void send_info_many(std::vector<sip::dialog_id>, std::shared_ptr<const std::string>) override {}
  std::atomic<uint64_t> ok{0}, failed{0}, joined{0};
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

std::string xccos(const std::string& inner) {
  return "<xccos ver=\"1\" envid=\"7\" xmlns=\"urn:parlano:xml:ns:xccos\">" + inner + "</xccos>";
}

// One round: returns durable posts per second, or a negative value on failure.
double run_round(const std::string& dir, bool compliance_on, int sessions, int posts, int window) {
  std::filesystem::remove_all(dir);
  std::unique_ptr<storage::database> store;
  if (auto s = storage::database::open({dir, true}, &store); !s.is_ok()) {
    std::fprintf(stderr, "cannot open store: %s\n", s.to_string().c_str());
    return -1;
  }
  counting_sender edge;
  actors::node_parts parts;
  parts.identities = std::make_shared<actors::identity_registry>(parts.settings.domain);
  parts.identities->upsert_policy({"global", true, ""});
  parts.store = store.get();
  parts.edge = &edge;
  parts.settings.compliance_enabled = compliance_on;
  parts.settings.config.default_chat_history = 30;
  double rate = -1;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    caf::actor_system sys{cfg};
    actors::server_node node(sys, std::move(parts));
    const auto& ctx = node.context();
    std::string room_uri;
    {
      caf::scoped_actor self{sys};
      storage::category_record c;
      c.name = "bench";
      std::string cat;
      self->request(ctx->directory, 5s, actors::new_category_atom::value, c)
          .receive([&](storage::category_record& r) { cat = r.id; }, [&](caf::error&) {});
      storage::room_record r;
      r.name = "Bench Room";
      r.category_id = cat;
      self->request(ctx->directory, 5s, actors::new_room_atom::value, r)
          .receive([&](storage::room_record& x) { room_uri = xccos::room_uri("example.com", x.id); },
                   [&](caf::error&) {});
    }
    auto [domain, value] = xccos::parse_room_uri(room_uri).value_or(xccos::uri_parts{});
    std::string join = xccos("<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" domain=\"" +
                             domain + "\" value=\"" + value + "\"/></data></cmd>");
    std::vector<caf::actor> s;
    uint64_t txn = 1;
    for (int i = 0; i < sessions; ++i) {
      sip::dialog_info info;
      info.id = static_cast<sip::dialog_id>(i + 1);
      info.user_uri = "sip:user" + std::to_string(i) + "@example.com";
      info.chat_uri = ctx->chat_uri;
      s.push_back(actors::spawn_session_actor(sys, ctx, info));
      caf::anon_send(s.back(), actors::info_atom::value, txn++, join);
    }
    bool ready = wait_until([&] { return edge.joined >= static_cast<uint64_t>(sessions); }, 30s);
    uint64_t base = edge.ok.load();
    std::string text(200, 'x');  // a 200-byte post, as in stack-notes §6.3
    std::vector<std::string> bodies;
    for (int p = 0; p < posts; ++p)
      bodies.push_back(xccos("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"" + room_uri +
                             "\" author=\"sip:x@example.com\" ts=\"2024-05-01T12:34:56Z\"><chat>" +
                             std::to_string(p) + text + "</chat></grpchat>"));
    // Post p of session i is transaction kPosts + p * sessions + i, so a response names
    // the session whose next post it releases.
    const uint64_t kPosts = txn;
    auto post = [&, kPosts](int i, int p) {
      caf::anon_send(s[i], actors::info_atom::value,
                     kPosts + static_cast<uint64_t>(p) * sessions + i, bodies[p]);
    };
    int first = window > 0 ? std::min(window, posts) : posts;
    auto next = std::make_unique<std::atomic<int>[]>(sessions);
    for (int i = 0; i < sessions; ++i) next[i] = first;
    if (window > 0)
      edge.on_response = [&, kPosts](sip::txn_id t) {
        if (t < kPosts) return;
        int i = static_cast<int>((t - kPosts) % sessions);
        int p = next[i].fetch_add(1);
        if (p < posts) post(i, p);
      };
    edge.releasing = window > 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int p = 0; p < first; ++p)
      for (int i = 0; i < sessions; ++i) post(i, p);
    uint64_t want = base + static_cast<uint64_t>(sessions) * static_cast<uint64_t>(posts);
    bool done = ready && wait_until([&] { return edge.ok.load() + edge.failed.load() >= want; }, 120s);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (done && edge.failed == 0) rate = static_cast<double>(sessions) * posts / secs;
    uint64_t staged = 0;
    store->compliance().count(&staged);
    if (compliance_on && staged < static_cast<uint64_t>(sessions) * posts) rate = -1;
    if (!compliance_on && staged != 0) rate = -1;
    edge.releasing = false;
    for (auto& a : s) caf::anon_send(a, actors::closed_atom::value, std::string("bench end"));
    s.clear();
    node.stop();  // every actor awaited before anything it reads goes
  }
  store.reset();
  std::filesystem::remove_all(dir);
  return rate;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int sessions = 20, posts = 500, rounds = 5, window = 8;
  std::string base = "/tmp";
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) { return a.substr(std::strlen(k)); };
    if (a.rfind("--sessions=", 0) == 0) sessions = std::stoi(val("--sessions="));
    else if (a.rfind("--posts=", 0) == 0) posts = std::stoi(val("--posts="));
    else if (a.rfind("--rounds=", 0) == 0) rounds = std::stoi(val("--rounds="));
    else if (a.rfind("--window=", 0) == 0) window = std::stoi(val("--window="));
    else if (a.rfind("--dir=", 0) == 0) base = val("--dir=");
    else if (a.rfind("--only=", 0) == 0) only = val("--only=");
    else {
      std::fprintf(stderr, "usage: pchat-compliance-bench [--sessions=N] [--posts=M] "
                           "[--window=W] [--rounds=R] [--dir=/tmp] [--only=off|on]\n");
      return 2;
    }
  }
  std::printf("# pchat-compliance-bench --sessions=%d --posts=%d --window=%d --rounds=%d --dir=%s "
              "(build %s)\n",
              sessions, posts, window, rounds, base.c_str(), PCHAT_BUILD_TYPE);
  std::printf("# durable posts/s through the actor layer (1 room, %d members), compliance off vs on\n",
              sessions);
  std::string dir = base + "/pchat-compliance-bench-" + std::to_string(getpid());
  std::vector<double> off, on;
  if (only == "off" || only == "on") {
    std::vector<double> v;
    for (int r = 0; r < rounds; ++r) v.push_back(run_round(dir, only == "on", sessions, posts, window));
    std::printf("only %s: median %8.0f posts/s\n", only.c_str(), median(v));
    return 0;
  }
  for (int r = 0; r < rounds; ++r) {
    double a = run_round(dir, false, sessions, posts, window);
    double b = run_round(dir, true, sessions, posts, window);
    if (a <= 0 || b <= 0) {
      std::fprintf(stderr, "round %d failed (off %.0f, on %.0f)\n", r + 1, a, b);
      return 1;
    }
    std::printf("round %d: off %8.0f posts/s   on %8.0f posts/s\n", r + 1, a, b);
    std::fflush(stdout);
    off.push_back(a);
    on.push_back(b);
  }
  double mo = median(off), mn = median(on);
  std::printf("median: off %8.0f posts/s   on %8.0f posts/s   cost %.1f %%\n", mo, mn,
              100.0 * (mo - mn) / mo);
  return 0;
}
