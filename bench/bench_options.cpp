#include "bench/bench_options.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

namespace pchat::bench {

namespace {

bool loopback_host_port(const std::string& hp) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos || colon + 1 == hp.size()) return false;
  return hp.rfind("127.", 0) == 0 || hp.rfind("localhost:", 0) == 0;
}

bool to_double(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end && *end == '\0';
}

}  // namespace

std::string usage_text() {
  return R"(pchat-bench: simulated SIP/XCCOS clients against pchatd (issue 5).

  pchat-bench --profile=NAME (--spawn-server=PATH | --server=HOST:SIPPORT --admin=HOST:HTTPPORT
                             [--admin-token-file=DATA-DIR/admin.token])
              [--users=N] [--duration=SECONDS] [--json]

Profiles:
  ceiling     rooms of 30 (--rooms=100, --users=3000); post rate raised by --rate-factor
              every --step-seconds from --rate until delivery p99 > --p99-limit-ms or a loss;
              reports the knee, the sofia-sip responder and RocksDB ceilings in the same run
  idle        --users=10000 signed-in sessions doing nothing: server RSS per session
  big-room    one room of --users=2000 members: join time, then --rate=5 posts/s
  lync-model  Lync's performance user model scaled to --users=80000: rooms of 30/150/16,000,
              12+2+2 rooms per user, 24 posts/s and 10 joins/s per 80,000 users
  durable     --users=1000, one member per room, each posting closed-loop (--window
              unacknowledged): durable acknowledged posts/s against the RocksDB ceiling
  pool        against a pool (--spawn-pool=N with --spawn-server, or --pool-admin=HOST:HTTP of
              a running pool's node; a standalone server is the reference without a pool):
              --users=270 in --rooms=30, user u signed in on node
              u % N; --rate=100 posts/s for --duration=20 s: post->delivery p50/p99 for
              receivers on the room owner's node vs other nodes; then closed-loop posting
              (--window per room): posts/s; server CPU per post over all nodes, BASP bytes
              per post (TCP bytes on the pool ports), commit batches and synced writes
  overload    --users=200 in rooms of 20 posting --rate=100/s for --duration=20 s, then
              again with a flooding client (200 posts of 16 kB in flight), a member that
              stops reading, 100 SIP and 20 HTTP slowloris connections, then again without
              them: post->delivery p99 with vs without (target: within 2x), server RSS

Options:
  --route=auto|direct|frontend|udp|tls|web  direct: a TCP connection per user (tls: TLS, the
                    certificate <data-dir>/tls.crt verified; --server names the TLS port); frontend: --trunks=8
                      shared connections (as Lync front ends); udp: a UDP socket per user;
                      web: a browser per user (sign-in on the HTTP port --admin names, then a
                      WebSocket at /ws; bench/web_clients.h). auto: direct up to 18,000 users,
                      frontend beyond. Not with the overload and pool profiles.
  --web-share=F       with a SIP route: the share F (0..1) of the users that are browsers, in
                      the same rooms as the SIP users (mixed rooms; latency split by receiver)
  --source-addresses=8  bind clients to 127.0.0.2 .. 127.0.0.(1+N) (ephemeral port space)
  --rooms=N --rate=POSTS_PER_S --rate-factor=1.5 --step-seconds=4 --p99-limit-ms=1000
  --signin-rate=PER_S --signin-concurrency=N --no-signin-backchat
  --post-bytes=100 --window=8 --seed=1
  --no-ceilings       skip the responder and RocksDB ceiling measurements
  --ceiling-dialogs=64 --ceiling-window=8   responder ceiling: dialogs and INFOs in flight each
  --responder=PATH --rocksdb-ceiling=PATH   (default: next to pchat-bench)
  --spawn-arg=ARG     extra argument for the spawned pchatd (repeatable), e.g.
                      --spawn-arg=--auth=none while the bench does not provision users
  --data-dir=DIR      data folder of a spawned pchatd (default: a temporary folder, removed)
  --spawn-pool=N      with --spawn-server: etcd and N pool nodes on 127.0.0.1 (bench/local_pool.h)
  --pool-admin=HOST:HTTPPORT  a running pool: one node's admin API (--admin-token-file its token)
  --timeout=SECONDS   hard limit on the whole run (default: derived from the profile)
  --keep-rooms        do not delete the rooms created on a running server
)";
}

bool parse_options(int argc, char** argv, bench_options& out, std::string& error) {
  for (int i = 0; i < argc; ++i) {
    if (i) out.command_line += ' ';
    out.command_line += argv[i];
  }
  std::string self_dir = std::filesystem::path(argv[0]).parent_path().string();
  if (self_dir.empty()) self_dir = ".";
  using setter = std::function<bool(const std::string&)>;
  auto str = [](std::string& f) -> setter {
    return [&f](const std::string& v) {
      f = v;
      return !v.empty();
    };
  };
  auto num = [](double& f) -> setter {
    return [&f](const std::string& v) { return to_double(v, f) && f >= 0; };
  };
  auto u32 = [](uint32_t& f) -> setter {
    return [&f](const std::string& v) {
      double d;
      if (!to_double(v, d) || d < 0 || d > 4e9) return false;
      f = static_cast<uint32_t>(d);
      return true;
    };
  };
  auto i32 = [](int& f) -> setter {
    return [&f](const std::string& v) {
      double d;
      if (!to_double(v, d) || d < 1 || d > 1e6) return false;
      f = static_cast<int>(d);
      return true;
    };
  };
  double post_bytes = static_cast<double>(out.post_bytes);
  std::map<std::string, setter> with_value = {
      {"profile", str(out.profile)},
      {"server", str(out.server)},
      {"admin", str(out.admin)},
      {"admin-token-file", str(out.admin_token_file)},
      {"spawn-server", str(out.spawn_server)},
      {"data-dir", str(out.data_dir)},
      {"spawn-pool", u32(out.spawn_pool)},
      {"pool-admin", str(out.pool_admin)},
      {"route", str(out.route)},
      {"web-share", num(out.web_share)},
      {"trunks", i32(out.trunks)},
      {"source-addresses", i32(out.source_addresses)},
      {"users", u32(out.users)},
      {"rooms", u32(out.rooms)},
      {"duration", num(out.duration)},
      {"rate", num(out.rate)},
      {"rate-factor", num(out.rate_factor)},
      {"step-seconds", num(out.step_seconds)},
      {"p99-limit-ms", num(out.p99_limit_ms)},
      {"signin-rate", num(out.signin_rate)},
      {"signin-concurrency", u32(out.signin_concurrency)},
      {"post-bytes", num(post_bytes)},
      {"window", i32(out.window)},
      {"responder", str(out.responder)},
      {"rocksdb-ceiling", str(out.rocksdb_ceiling)},
      {"timeout", num(out.timeout)},
      {"seed", u32(out.seed)},
      {"ceiling-dialogs", i32(out.ceiling_dialogs)},
      {"ceiling-window", i32(out.ceiling_window)},
  };
  std::map<std::string, bool*> flags = {{"json", &out.json}, {"keep-rooms", &out.keep_rooms}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      error = "help";
      return false;
    }
    if (a.rfind("--", 0) != 0) {
      error = "unexpected argument '" + a + "'";
      return false;
    }
    a = a.substr(2);
    auto eq = a.find('=');
    std::string key = a.substr(0, eq);
    if (eq == std::string::npos) {
      if (key == "no-ceilings")
        out.ceilings = false;
      else if (key == "no-signin-backchat")
        out.signin_backchat = false;
      else if (flags.count(key))
        *flags[key] = true;
      else {
        error = "unknown option --" + key + (with_value.count(key) ? " (needs =VALUE)" : "");
        return false;
      }
      continue;
    }
    if (key == "spawn-arg") {
      out.spawn_args.push_back(a.substr(eq + 1));
      continue;
    }
    auto it = with_value.find(key);
    if (it == with_value.end()) {
      error = "unknown option --" + key;
      return false;
    }
    if (!it->second(a.substr(eq + 1))) {
      error = "bad value for --" + key + ": '" + a.substr(eq + 1) + "'";
      return false;
    }
  }
  out.post_bytes = static_cast<size_t>(post_bytes);
  static const char* kProfiles[] = {"ceiling", "idle",     "big-room", "lync-model",
                                    "durable", "overload", "pool"};
  bool known = false;
  for (auto* p : kProfiles) known = known || out.profile == p;
  if (!known) {
    error = out.profile.empty()
                ? "--profile is required"
                : "unknown profile '" + out.profile +
                      "' (ceiling, idle, big-room, lync-model, durable, overload, pool)";
    return false;
  }
  if (out.route != "auto" && out.route != "direct" && out.route != "frontend" &&
      out.route != "udp" && out.route != "tls" && out.route != "web") {
    error = "--route must be auto, direct, frontend, udp, tls or web";
    return false;
  }
  if (out.web_share > 1) {
    error = "--web-share must be between 0 and 1";
    return false;
  }
  if ((out.route == "web" || out.web_share > 0) &&
      (out.profile == "overload" || out.profile == "pool")) {
    error =
        "browsers (--route=web, --web-share) are for the ceiling, idle, big-room, lync-model and "
        "durable profiles";
    return false;
  }
  if (!out.pool_admin.empty() && !loopback_host_port(out.pool_admin)) {
    error = "--pool-admin must be a loopback address with a port (127.x.x.x:PORT)";
    return false;
  }
  if (out.spawn_pool > 9 || (out.spawn_pool > 0 && out.spawn_server.empty())) {
    error = "--spawn-pool=N (1..9) needs --spawn-server=PATH (the pchatd every node runs)";
    return false;
  }
  if (out.spawn_server.empty() && out.pool_admin.empty() &&
      (out.server.empty() || out.admin.empty())) {
    error = "give --spawn-server=PATH, or both --server=HOST:SIPPORT and --admin=HOST:HTTPPORT";
    return false;
  }
  if (!out.server.empty() && !loopback_host_port(out.server)) {
    error =
        "--server must be a loopback address with a port (127.x.x.x:PORT): the bench only "
        "loads this machine";
    return false;
  }
  if (!out.admin.empty() && !loopback_host_port(out.admin)) {
    error = "--admin must be a loopback address with a port (127.x.x.x:PORT)";
    return false;
  }
  if (out.rate_factor <= 1.0) {
    error = "--rate-factor must be above 1";
    return false;
  }
  if (out.responder.empty()) out.responder = self_dir + "/pchat-sip-responder";
  if (out.rocksdb_ceiling.empty()) out.rocksdb_ceiling = self_dir + "/pchat-rocksdb-ceiling";
  return true;
}

}  // namespace pchat::bench
