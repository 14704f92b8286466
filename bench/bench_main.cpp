// pchat-bench: the load benchmark (issue 5). Simulated SIPE-like clients speak real SIP and
// XCCOS over loopback TCP/UDP to pchatd, sign in, join, post and receive fan-out; the run
// reports the figures of docs/PERFORMANCE.md (posts/s, deliveries/s, post→delivery latency,
// join+back-chat latency, losses, 503s, server CPU and RSS, RSS per session) and, in the same
// run, the ceilings they are ratios of (sofia-sip responder, RocksDB synced batches).
//
// Usage: see bench/bench_options.h (or --help). Every run is bounded by --timeout and uses
// loopback addresses only. Progress goes to stderr; the report (table, or --json) to stdout.
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include "bench/admin_client.h"
#include "bench/bench_options.h"
#include "bench/bench_report.h"
#include "bench/local_pool.h"
#include "bench/process_probe.h"
#include "bench/profiles.h"

#ifndef PCHAT_BUILD_TYPE
#define PCHAT_BUILD_TYPE "unknown"
#endif

using namespace pchat::bench;
using steady = std::chrono::steady_clock;

namespace {

// Tens of thousands of sockets need the descriptor limit at its hard maximum.
rlim_t raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

std::string machine_text() {
  std::string cpu = read_text_file("/proc/cpuinfo");
  std::string model = "unknown CPU";
  auto at = cpu.find("model name");
  if (at != std::string::npos) {
    auto colon = cpu.find(':', at);
    auto nl = cpu.find('\n', at);
    model = cpu.substr(colon + 2, nl - colon - 2);
  }
  utsname u{};
  uname(&u);
  long mem_mb = sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGE_SIZE) / 1024;
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, " +
         std::to_string(mem_mb) + " MB, Linux " + u.release;
}

double default_timeout(const bench_options& o) {
  double users = o.users ? o.users : (o.profile == "lync-model" ? 80000 : 10000);
  double duration = o.duration > 0 ? o.duration : 60;
  return 180 + 3 * duration + users / 100 + users / 50;
}

}  // namespace

int main(int argc, char** argv) {
  bench_options opt;
  std::string error;
  if (!parse_options(argc, argv, opt, error)) {
    if (error == "help") {
      std::fputs(usage_text().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "pchat-bench: %s\n\n%s", error.c_str(), usage_text().c_str());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  rlim_t nofile = raise_nofile();
  std::fprintf(stderr, "pchat-bench: %s\npchat-bench: build type %s, %llu open files allowed\n",
               opt.command_line.c_str(), PCHAT_BUILD_TYPE, static_cast<unsigned long long>(nofile));

  char tmpl[] = "/tmp/pchat-bench-XXXXXX";
  const char* made = mkdtemp(tmpl);
  if (!made) {
    std::perror("pchat-bench: mkdtemp");
    return 3;
  }
  std::string work_dir = made;
  auto started = steady::now();
  double timeout = opt.timeout > 0 ? opt.timeout : default_timeout(opt);

  child_process server;
  std::string sip_host = "127.0.0.1", admin_addr = opt.admin;
  uint16_t sip_port = 0, sip_tls_port = 0;
  pid_t server_pid = 0;
  bool own_data_dir = opt.data_dir.empty();
  std::string data_dir = own_data_dir ? work_dir + "/data" : opt.data_dir;
  std::unique_ptr<local_pool> pool;
  std::vector<run_context::pool_member> members;
  if (opt.spawn_pool > 0) {
    // A pool on this machine: etcd and N nodes (their own folders under the work folder).
    pool = std::make_unique<local_pool>(work_dir + "/pool", opt.spawn_pool, opt.spawn_server,
                                        opt.spawn_args);
    std::filesystem::create_directories(work_dir + "/pool");
    std::fprintf(stderr, "pchat-bench: starting etcd and %u pool nodes\n", opt.spawn_pool);
    if (!pool->start()) {
      std::fprintf(stderr, "pchat-bench: pool: %s\n", pool->error().c_str());
      return 3;
    }
    for (size_t i = 0; i < pool->size(); ++i) {
      auto& n = pool->node(i);
      members.push_back({n.name, n.sip_port, n.http_port, n.pool_port, n.proc.pid(), n.token});
    }
    sip_port = members[0].sip_port;
    admin_addr = "127.0.0.1:" + std::to_string(members[0].http_port);
    server_pid = members[0].pid;
    data_dir = pool->node(0).data_dir;
  } else if (!opt.pool_admin.empty()) {
    admin_addr = opt.pool_admin;
  } else if (!opt.spawn_server.empty()) {
    std::vector<std::string> argv{opt.spawn_server, "--data-dir=" + data_dir, "--sip-port=0",
                                  "--http-port=0"};
    argv.insert(argv.end(), opt.spawn_args.begin(), opt.spawn_args.end());
    if (!server.start(argv, work_dir + "/pchatd.out", work_dir + "/pchatd.err")) {
      std::fprintf(stderr, "pchat-bench: cannot start %s: %s\n", opt.spawn_server.c_str(),
                   server.error().c_str());
      return 3;
    }
    auto keys =
        server.wait_for_keys({"sip-tls-port", "sip-port", "http-port"}, std::chrono::seconds(30));
    if (keys.empty()) {
      std::fprintf(stderr, "pchat-bench: pchatd %s\n", server.error().c_str());
      return 3;
    }
    sip_port = static_cast<uint16_t>(std::atoi(keys["sip-port"].c_str()));
    sip_tls_port =
        static_cast<uint16_t>(std::atoi(keys["sip-tls-port"].c_str()));  // printed before sip-port
    admin_addr = "127.0.0.1:" + keys["http-port"];
    server_pid = server.pid();
  } else {
    auto colon = opt.server.rfind(':');
    sip_host = opt.server.substr(0, colon);
    if (sip_host == "localhost") sip_host = "127.0.0.1";
    sip_port = static_cast<uint16_t>(std::atoi(opt.server.c_str() + colon + 1));
    sip_tls_port = sip_port;  // --route=tls: --server names the TLS port
    server_pid = find_listener_pid(sip_port);
  }

  admin_client admin(admin_addr);
  {
    std::string path =
        !opt.admin_token_file.empty() ? opt.admin_token_file : data_dir + "/admin.token";
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      char buf[128] = {0};
      size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      std::string t(buf, n);
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
      admin.set_token(t);
    }
  }
  auto status = admin.status();
  if (!status) {
    std::fprintf(stderr, "pchat-bench: admin API at %s: %s\n", admin_addr.c_str(),
                 admin.last_error().c_str());
    return 3;
  }
  if (!opt.pool_admin.empty()) {
    // A running pool: its nodes as this node's GET /api/v1/pool lists them.
    auto r = admin.request("GET", "/api/v1/pool");
    if (r.status != 200 || !r.body.is_object()) {
      std::fprintf(stderr,
                   "pchat-bench: GET /api/v1/pool at %s answered %d (is it a pool node? token?)\n",
                   admin_addr.c_str(), r.status);
      return 3;
    }
    for (auto& n : r.body.value("nodes", nlohmann::json::array())) {
      if (!n.value("live", false)) continue;
      run_context::pool_member m;
      m.name = n.value("name", "");
      m.sip_port = n.value("sip_port", uint16_t{0});
      m.http_port = n.value("http_port", uint16_t{0});
      m.pool_port = n.value("pool_port", uint16_t{0});
      m.pid = find_listener_pid(m.sip_port);
      if (n.value("self", false)) m.token = admin.token();
      members.push_back(m);
    }
    std::sort(members.begin(), members.end(), [](auto& a, auto& b) { return a.name < b.name; });
    if (members.empty()) {
      std::fprintf(stderr, "pchat-bench: the pool at %s lists no live node\n", admin_addr.c_str());
      return 3;
    }
    sip_port = members[0].sip_port;
    server_pid = members[0].pid;
  }
  run_context ctx{opt, admin};
  ctx.domain = status->value("domain", "example.com");
  ctx.sip_host = sip_host;
  ctx.sip_port = sip_port;
  ctx.sip_tls_port = sip_tls_port;
  ctx.tls_ca_file = data_dir + "/tls.crt";
  ctx.http_port = static_cast<uint16_t>(std::atoi(admin_addr.c_str() + admin_addr.rfind(':') + 1));
  ctx.server_pid = server_pid;
  ctx.work_dir = work_dir;
  ctx.run_tag = "pb" + std::to_string(getpid()) + "x" + std::to_string(std::time(nullptr) % 100000);
  ctx.deadline = started + std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  if (members.empty() && opt.profile == "pool")  // standalone: the reference without a pool
    members.push_back({"standalone", sip_port, ctx.http_port, 0, server_pid, admin.token()});
  ctx.pool = members;
  if (pool)
    ctx.etcd_port = static_cast<uint16_t>(
        std::atoi(pool->etcd_endpoint().c_str() + pool->etcd_endpoint().rfind(':') + 1));

  bench_report rep = run_profile(ctx);
  rep.command_line = opt.command_line;
  rep.build_type = PCHAT_BUILD_TYPE;
  rep.machine = machine_text();
  if (pool)
    rep.notes.push_back("pool of " + std::to_string(opt.spawn_pool) +
                        " pchatd nodes and etcd spawned by the bench");
  else if (!opt.spawn_server.empty())
    rep.notes.push_back("pchatd spawned by the bench (fresh data dir)");
  if (steady::now() >= ctx.deadline)
    rep.notes.push_back("the run hit its --timeout of " +
                        std::to_string(static_cast<int>(timeout)) + " s");

  // Clean up: a spawned server's data goes away whole; on a running server, the rooms.
  if (pool) {
    admin.disconnect();
    pool.reset();  // kill -9 of every node and etcd: the data folders go with the work folder
  } else if (!opt.spawn_server.empty()) {
    admin.disconnect();
    std::fprintf(stderr, "pchat-bench: stopping pchatd\n");
    auto t0 = steady::now();
    if (!server.stop(std::chrono::seconds(30)))
      rep.notes.push_back("pchatd did not stop cleanly on SIGTERM: " + server.error());
    double stop_s = std::chrono::duration<double>(steady::now() - t0).count();
    rep.details["server_stop_seconds"] = std::round(stop_s * 100) / 100;
  } else if (!opt.keep_rooms) {
    size_t deleted = 0;
    for (auto& r : ctx.created) {
      int st = admin.delete_room(r.id);
      if (st == 200 || st == 204) {
        ++deleted;
        continue;
      }
      rep.notes.push_back("cleanup is best-effort: DELETE /api/v1/rooms/{id} answered HTTP " +
                          std::to_string(st) + "; " + std::to_string(ctx.created.size() - deleted) +
                          " rooms (category " + ctx.run_tag + ") left on the server");
      break;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(own_data_dir ? work_dir : work_dir, ec);

  if (opt.json) {
    std::printf("%s\n", to_json(rep).dump(2).c_str());
  } else {
    print_table(rep, stdout);
  }
  return 0;
}
