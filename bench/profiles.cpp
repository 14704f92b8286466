#include "bench/profiles.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "bench/bad_clients.h"
#include "bench/load_driver.h"
#include "bench/process_probe.h"
#include "bench/sip_ceiling.h"
#include "pool/placement.h"
#include "tools/client/client_loop.h"

namespace pchat::bench {

using steady = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Users per profile when --users is not given, and the measured phase's seconds.
struct profile_defaults {
  uint32_t users;
  double duration;
};
profile_defaults defaults_for(const std::string& p) {
  if (p == "ceiling") return {3000, 60};
  if (p == "idle") return {10000, 5};
  if (p == "big-room") return {2000, 20};
  if (p == "lync-model") return {80000, 60};
  if (p == "overload") return {200, 20};
  if (p == "pool") return {270, 20};
  return {1000, 10};  // durable
}

// Direct TCP needs a descriptor per user in both processes; 20,000 is the limit here.
constexpr uint32_t kMaxDirectUsers = 18000;

route_kind choose_route(const bench_options& opt, uint32_t users) {
  if (opt.route == "direct") return route_kind::direct;
  if (opt.route == "frontend") return route_kind::frontend;
  if (opt.route == "udp") return route_kind::udp;
  if (opt.route == "tls") return route_kind::tls;
  if (opt.route == "web") return route_kind::web;
  return users > kMaxDirectUsers ? route_kind::frontend : route_kind::direct;
}

__attribute__((format(printf, 1, 2))) void progress(const char* fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "pchat-bench: ");
  std::vfprintf(stderr, fmt, args);
  std::fprintf(stderr, "\n");
  va_end(args);
}

// CPU of the server and of the bench itself over one phase.
struct cpu_window {
  pid_t server;
  process_sample s0, b0;
  explicit cpu_window(pid_t server_pid)
      : server(server_pid), s0(sample_process(server_pid)), b0(sample_process(getpid())) {}
  double server_pct() const { return cpu_percent(s0, sample_process(server)); }
  double bench_pct() const { return cpu_percent(b0, sample_process(getpid())); }
};

// Every bench user's password (made by ensure_users, used by browsers and SIP Digest).
std::string bench_password(const run_context& ctx) {
  return ctx.run_tag + "-pw";
}

// What the report calls the route: "web", or "direct + web 50 %" for mixed rooms.
std::string route_text(const run_context& ctx, route_kind route) {
  std::string r = to_string(route);
  if (route != route_kind::web && ctx.opt.web_share > 0) {
    char buf[48];
    std::snprintf(buf, sizeof buf, " + web %.0f %%", ctx.opt.web_share * 100);
    r += buf;
  }
  return r;
}

// Mixed rooms: post->delivery latency split by the receiver's kind (class 0 SIP, 1 web).
void split_by_kind(const run_context& ctx, route_kind route, load_driver& d) {
  if (route != route_kind::web && ctx.opt.web_share > 0 && ctx.opt.web_share < 1)
    d.set_delivery_class([&d](uint32_t, uint32_t user) { return d.is_web(user) ? 1 : 0; });
}

driver_config make_driver_config(const run_context& ctx, route_kind route) {
  driver_config d;
  d.route = route;
  d.server_host = ctx.sip_host;
  d.server_port = route == route_kind::tls ? ctx.sip_tls_port : ctx.sip_port;
  d.tls_ca_file = ctx.tls_ca_file;
  d.trunks = ctx.opt.trunks;
  d.source_addresses = ctx.opt.source_addresses;
  d.domain = ctx.domain;
  d.user_prefix = ctx.run_tag + "u";
  d.password = bench_password(ctx);
  d.http_port = ctx.http_port;
  d.web_share = ctx.opt.web_share;
  d.post_bytes = ctx.opt.post_bytes;
  d.post_window = ctx.opt.window;
  d.backchat_on_join = ctx.opt.signin_backchat;
  d.seed = ctx.opt.seed;
  return d;
}

std::string loadavg() {
  std::string s = read_text_file("/proc/loadavg");
  auto sp = s.find(' ');
  sp = s.find(' ', sp + 1);
  sp = s.find(' ', sp + 1);
  return s.substr(0, sp);
}

// Rooms for the driver from what the admin API created.
void register_rooms(load_driver& d, const std::vector<created_room>& made, int room_class,
                    uint32_t presenters_every, uint32_t presenters) {
  for (size_t i = 0; i < made.size(); ++i) {
    bench_room r;
    r.id = made[i].id;
    r.uri = made[i].uri;
    r.name = made[i].name;
    r.room_class = room_class;
    if (presenters_every && i % presenters_every == 0) r.presenters = presenters;
    d.add_room(std::move(r));
  }
}

bool sign_in_everyone(run_context& ctx, load_driver& d, bench_report& rep, double default_rate) {
  double rate = ctx.opt.signin_rate > 0 ? ctx.opt.signin_rate : default_rate;
  // Browsers' sign-ins are HTTP requests: pchatd queues at most 256 for its handler threads
  // (--http-handler-queue, 503 beyond), so they start 64 at a time.
  size_t pending = ctx.opt.signin_concurrency ? ctx.opt.signin_concurrency
                   : d.web_users()            ? 64
                                              : 1000;
  // The directory admits only users it knows (no fallback to the global policy).
  std::vector<std::string> names;
  names.reserve(d.user_count());
  for (uint32_t u = 0; u < d.user_count(); ++u) names.push_back(d.user_name(u));
  if (!ctx.admin.ensure_users(names, bench_password(ctx))) {
    rep.notes.push_back("users not provisioned: " + ctx.admin.last_error());
    return false;
  }
  auto t0 = steady::now();
  cpu_window cpu(ctx.server_pid);
  progress("signing in %zu users", d.user_count());
  bool ok = d.sign_in(0, static_cast<uint32_t>(d.user_count()), rate, pending, ctx.deadline);
  double secs = duration<double>(steady::now() - t0).count();
  rep.details["signin_seconds"] = std::round(secs * 100) / 100;
  rep.details["signin_per_s"] = secs > 0 ? std::round(d.counters().signed_in / secs) : 0;
  rep.details["signin_server_cpu_pct"] = std::round(cpu.server_pct());
  progress("signed in %llu users in %.1f s",
           static_cast<unsigned long long>(d.counters().signed_in), secs);
  if (!ok) rep.notes.push_back("sign-in did not finish before the run's deadline");
  return ok;
}

// The common start of a profile: the plain rooms `made` registered with `d`, `users` users
// each a member of room room_of(user), the server's RSS before they come, then everyone
// signed in (default rate 1000/s). False if sign-in did not finish (noted in `rep`).
template <class RoomOf>
bool seat_and_sign_in(run_context& ctx, load_driver& d, bench_report& rep,
                      const std::vector<created_room>& made, uint32_t users, RoomOf room_of) {
  register_rooms(d, made, 0, 0, 0);
  d.add_users(users);
  for (uint32_t u = 0; u < users; ++u) d.add_member(u, room_of(u));
  rep.server_rss_before_kb = sample_process(ctx.server_pid).rss_kb;
  return sign_in_everyone(ctx, d, rep, 1000);
}

std::optional<double> rocksdb_ceiling(run_context& ctx, bench_report& rep) {
  // A stored post: the text plus author, timestamps and framing (storage/records.h).
  size_t value_bytes = ctx.opt.post_bytes + 64;
  child_process p;
  std::string dir = ctx.work_dir + "/rocksdb-ceiling";
  if (!p.start({ctx.opt.rocksdb_ceiling, "--json", "--dir=" + dir, "--records=100000",
                "--batch=100", "--value-bytes=" + std::to_string(value_bytes)},
               ctx.work_dir + "/rocksdb.out", ctx.work_dir + "/rocksdb.err")) {
    rep.notes.push_back("RocksDB ceiling not measured: " + p.error());
    return std::nullopt;
  }
  int rc = -1;
  std::string out = p.wait_output(seconds(120), &rc);
  auto j = nlohmann::json::parse(out, nullptr, false);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (rc != 0 || !j.is_object() || !j.contains("records_per_s")) {
    rep.notes.push_back("RocksDB ceiling failed (exit " + std::to_string(rc) +
                        "): " + p.stderr_tail(300));
    return std::nullopt;
  }
  rep.details["rocksdb_ceiling"] = j;
  return j["records_per_s"].get<double>();
}

std::optional<double> responder_ceiling(run_context& ctx, bench_report& rep) {
  sip_ceiling_options o;
  o.responder_path = ctx.opt.responder;
  o.work_dir = ctx.work_dir;
  o.source_addresses = ctx.opt.source_addresses;
  o.dialogs = ctx.opt.ceiling_dialogs;
  o.window = ctx.opt.ceiling_window;
  // The body of a delivery INFO: the grpchat envelope around the post text.
  o.body_bytes = ctx.opt.post_bytes + 320;
  // Short runs (the CI smoke test) get a short ceiling measurement.
  double secs = std::clamp(ctx.opt.duration > 0 ? ctx.opt.duration : 4.0, 1.0, 4.0);
  o.seconds = milliseconds(static_cast<int64_t>(secs * 1000));
  auto r = measure_sip_ceiling(o);
  if (!r.ok) {
    rep.notes.push_back("sofia-sip responder ceiling not measured: " + r.error);
    return std::nullopt;
  }
  rep.details["sip_ceiling"] = {{"info_per_s", std::round(r.info_per_s)},
                                {"dialogs", o.dialogs},
                                {"window", o.window},
                                {"seconds", std::round(r.seconds * 100) / 100},
                                {"failures", r.failures},
                                {"responder_cpu_pct", std::round(r.responder_cpu_pct)},
                                {"info_p99_ms", r.latency.quantile_ms(0.99)}};
  return r.info_per_s;
}

// Everything the driver counted, into the report's failure columns and figures.
void fill_common(bench_report& rep, load_driver& d, const step_totals& t, double seconds,
                 pid_t server) {
  const auto& c = d.counters();
  rep.clients = c.signed_in;
  rep.connections = d.connections();
  rep.rooms = d.rooms().size();
  if (seconds > 0) {
    rep.posts_per_s = t.posts_acked / seconds;
    rep.deliveries_per_s = t.deliveries / seconds;
  }
  rep.measured_seconds = seconds;
  rep.latency = t.latency;
  rep.ack = t.ack;
  rep.posts = t.posts_sent;
  rep.deliveries = t.deliveries;
  rep.lost = t.lost;
  rep.duplicated = t.duplicated;
  rep.unexpected = t.unexpected;
  rep.misrouted = d.ledger().misrouted();
  rep.sip_503 = t.posts_503 + c.commands_503;
  rep.errors = t.posts_failed + c.signin_failed + c.disconnected + c.commands_failed +
               c.xccos_errors + c.joins_failed;
  rep.client_faults = d.fault_count();
  rep.error_samples = c.first_errors;
  for (auto& f : d.fault_samples(3)) rep.error_samples.push_back("client fault: " + f);
  rep.signin = d.signin_latency();
  rep.join = d.churn_join().count() ? d.churn_join() : d.signin_join();
  auto s = sample_process(server);
  rep.server_rss_kb = s.rss_kb;
  rep.server_hwm_kb = s.hwm_kb;
  rep.details["bench_rss_kb"] = sample_process(getpid()).rss_kb;
  rep.details["posts_deferred"] = t.posts_deferred;
  rep.details["posts_unanswered"] = t.posts_sent - t.posts_acked - t.posts_503 - t.posts_failed;
  rep.details["foreign_messages"] = c.foreign_messages;
  rep.details["joins_ok"] = c.joins_ok;
  if (d.signin_join().count())
    rep.details["signin_join_ms"] = {{"p50", d.signin_join().quantile_ms(0.5)},
                                     {"p99", d.signin_join().quantile_ms(0.99)}};
  if (d.web_users()) {
    rep.details["web_users"] = d.web_users();
    rep.details["sip_users"] = d.user_count() - d.web_users();
  }
  if (d.web_users() > 0 && d.web_users() < d.user_count()) {
    nlohmann::json j;
    for (int c = 0; c < 2; ++c) {
      auto& h = d.class_latency(c);
      j[c == 0 ? "sip" : "web"] = {{"deliveries", h.count()},
                                   {"p50_ms", h.quantile_ms(0.5)},
                                   {"p99_ms", h.quantile_ms(0.99)},
                                   {"p999_ms", h.quantile_ms(0.999)}};
    }
    rep.details["latency_by_receiver"] = j;
  }
}

// The server's count of SIP requests it sent (0 if the status call fails).
double server_requests_out(run_context& ctx) {
  auto st = ctx.admin.status();
  return st ? st->value("requests_out", 0.0) : 0.0;
}

uint32_t random_below(std::mt19937& rng, size_t n) {
  return n == 0 ? 0 : std::uniform_int_distribution<uint32_t>(0, static_cast<uint32_t>(n - 1))(rng);
}

// ---------------------------------------------------------------------------------------
// ceiling

void run_ceiling(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  const auto& opt = ctx.opt;
  uint32_t rooms = opt.rooms ? opt.rooms : 100;
  rooms = std::min(rooms, users);
  if (opt.ceilings) {
    progress("measuring the RocksDB synced-batch ceiling");
    rep.rocksdb_ceiling_per_s = rocksdb_ceiling(ctx, rep);
    progress("measuring the sofia-sip responder ceiling");
    rep.sip_ceiling_per_s = responder_ceiling(ctx, rep);
  }
  std::vector<created_room> made;
  std::string err;
  progress("creating %u rooms", rooms);
  if (!ctx.create_rooms(rooms, "ceil", made, err)) {
    rep.notes.push_back("room creation failed: " + err);
    return;
  }
  client::client_loop loop;
  load_driver d(loop, make_driver_config(ctx, choose_route(opt, users)));
  rep.route = route_text(ctx, choose_route(opt, users));
  split_by_kind(ctx, choose_route(opt, users), d);
  if (!seat_and_sign_in(ctx, d, rep, made, users, [&](uint32_t u) { return u % rooms; })) return;

  std::mt19937 rng(opt.seed);
  double rate = opt.rate > 0 ? opt.rate : 100;
  auto budget_end = steady::now() + milliseconds(static_cast<int64_t>(duration_s * 1000));
  int knee = -1;
  std::vector<uint32_t> step_ids;
  std::vector<double> step_secs;
  while (steady::now() < budget_end && steady::now() < ctx.deadline) {
    double left = duration<double>(budget_end - steady::now()).count();
    double secs = std::min(opt.step_seconds, left);
    if (secs < 1.0 && !step_ids.empty()) break;
    char label[32];
    std::snprintf(label, sizeof label, "%.0f/s", rate);
    uint32_t st = d.ledger().begin_step(label, rate);
    auto out0 = server_requests_out(ctx);
    cpu_window cpu(ctx.server_pid);
    auto t_step = steady::now();
    std::vector<load_driver::stream> streams{
        {rate, [&] { return d.post_random(random_below(rng, rooms)); }}};
    d.run_streams(milliseconds(static_cast<int64_t>(secs * 1000)), streams);
    double srv = cpu.server_pct(), bench = cpu.bench_pct();
    double out_per_s =
        (server_requests_out(ctx) - out0) / duration<double>(steady::now() - t_step).count();
    auto drain_for = milliseconds(static_cast<int64_t>(std::max(2000.0, 2 * opt.p99_limit_ms)));
    d.drain(std::min(ctx.deadline, steady::now() + drain_for));
    auto& totals = d.ledger().step(st);
    totals.seconds = secs;
    step_row row = make_step_row(totals, secs);
    row.server_cpu_pct = srv;
    row.bench_cpu_pct = bench;
    row.server_requests_out_per_s = out_per_s;
    row.good = row.p99_ms <= opt.p99_limit_ms && row.late == 0 && row.sip_503 == 0 &&
               row.failed == 0 && row.duplicated == 0 && totals.posts_acked >= 0.9 * rate * secs &&
               totals.latency.count() > 0;
    rep.steps.push_back(row);
    step_ids.push_back(st);
    step_secs.push_back(secs);
    std::fprintf(
        stderr,
        "pchat-bench: step %-8s posts/s %.0f deliveries/s %.0f p99 %.1f ms late %llu 503 %llu "
        "server %.0f%% bench %.0f%%%s\n",
        label, row.posts_per_s, row.deliveries_per_s, row.p99_ms,
        static_cast<unsigned long long>(row.late), static_cast<unsigned long long>(row.sip_503),
        srv, bench, row.good ? "" : "  <- past the knee");
    if (!row.good) break;
    knee = static_cast<int>(rep.steps.size() - 1);
    rate *= opt.rate_factor;
  }
  // Late deliveries of the last step may still come: only what never came is lost.
  progress("draining");
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  d.ledger().finalize();
  auto all = d.ledger().total();
  int shown = knee >= 0 ? knee : 0;
  if (step_ids.empty()) {
    fill_common(rep, d, all, 0, ctx.server_pid);
    rep.notes.push_back("no step ran (duration too short?)");
  } else {
    auto k = d.ledger().step(step_ids[shown]);
    fill_common(rep, d, k, step_secs[shown], ctx.server_pid);
    rep.server_cpu_pct = rep.steps[shown].server_cpu_pct;
    rep.bench_cpu_pct = rep.steps[shown].bench_cpu_pct;
    // Loss and duplication are judged over the whole run, every step included.
    rep.lost = all.lost;
    rep.duplicated = all.duplicated;
    rep.sip_503 = all.posts_503 + d.counters().commands_503;
    if (knee < 0) rep.notes.push_back("no step met the limits; figures are the first step's");
  }
  if (rep.sip_ceiling_per_s && *rep.sip_ceiling_per_s > 0)
    rep.ceiling_ratio = rep.deliveries_per_s / *rep.sip_ceiling_per_s;
  double worst_p99_below = 0;
  for (int i = 0; i <= knee; ++i) worst_p99_below = std::max(worst_p99_below, rep.steps[i].p99_ms);
  // The issue's second reading of the knee: the busiest step whose p99 stayed under 100 ms.
  double fast_deliveries = 0;
  std::string fast_label;
  for (int i = 0; i <= knee; ++i)
    if (rep.steps[i].p99_ms < 100 && rep.steps[i].deliveries_per_s > fast_deliveries) {
      fast_deliveries = rep.steps[i].deliveries_per_s;
      fast_label = rep.steps[i].label;
    }
  rep.details["knee_step"] =
      knee >= 0 ? nlohmann::json(rep.steps[knee].label) : nlohmann::json(nullptr);
  rep.details["p99_under_100ms_step"] = fast_label;
  rep.details["p99_under_100ms_deliveries_per_s"] = std::round(fast_deliveries);
  rep.details["room_size"] = users / rooms;
  rep.details["peer_reference"] = {{"ejabberd_23_01_knee_deliveries_per_s", 22400},
                                   {"ejabberd_23_01_p99_16ms_deliveries_per_s", 18700},
                                   {"prosody_0_12_knee_deliveries_per_s", 4500}};
  progress("closing %zu connections", d.connections());
  d.close_all();
  rep.targets.push_back(
      {"knee deliveries/s (p99 <= 1 s, no loss)", rep.deliveries_per_s, 25000, true, "/s"});
  rep.targets.push_back({"deliveries/s with p99 < 100 ms", fast_deliveries, 25000, true, "/s"});
  rep.targets.push_back({"worst p99 at or below the knee", worst_p99_below, 100, false, "ms"});
  if (rep.ceiling_ratio)
    rep.targets.push_back(
        {"knee deliveries/s / sofia-sip responder INFO/s", *rep.ceiling_ratio, 0.8, true, "x"});
  rep.targets.push_back({"lost deliveries", static_cast<double>(rep.lost), 0, false, ""});
}

// ---------------------------------------------------------------------------------------
// idle

void run_idle(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  client::client_loop loop;
  route_kind route = choose_route(ctx.opt, users);
  auto cfg = make_driver_config(ctx, route);
  cfg.join_on_signin = false;
  load_driver d(loop, cfg);
  rep.route = route_text(ctx, route);
  split_by_kind(ctx, route, d);
  d.add_users(users);
  // Let the server settle, then take the baseline.
  d.run_for(milliseconds(500));
  auto before = sample_process(ctx.server_pid);
  rep.server_rss_before_kb = before.rss_kb;
  sign_in_everyone(ctx, d, rep, 1000);
  d.run_for(seconds(1));
  cpu_window cpu(ctx.server_pid);
  auto t0 = steady::now();
  d.run_for(milliseconds(static_cast<int64_t>(duration_s * 1000)));
  double secs = duration<double>(steady::now() - t0).count();
  rep.server_cpu_pct = cpu.server_pct();
  rep.bench_cpu_pct = cpu.bench_pct();
  d.ledger().finalize();
  fill_common(rep, d, d.ledger().total(), secs, ctx.server_pid);
  rep.posts_per_s = rep.deliveries_per_s = 0;
  if (rep.clients > 0 && ctx.server_pid > 0) {
    rep.rss_kb_per_session =
        (static_cast<double>(rep.server_rss_kb) - static_cast<double>(before.rss_kb)) / rep.clients;
    rep.targets.push_back(
        {"server RSS per signed-in session", *rep.rss_kb_per_session, 10, false, "kB"});
  }
  auto st = ctx.admin.status();
  if (st) rep.details["server_status"] = *st;
}

// ---------------------------------------------------------------------------------------
// big-room

void run_big_room(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  std::vector<created_room> made;
  std::string err;
  if (!ctx.create_rooms(1, "big", made, err)) {
    rep.notes.push_back("room creation failed: " + err);
    return;
  }
  client::client_loop loop;
  route_kind route = choose_route(ctx.opt, users);
  auto cfg = make_driver_config(ctx, route);
  cfg.join_on_signin = false;
  load_driver d(loop, cfg);
  rep.route = route_text(ctx, route);
  split_by_kind(ctx, route, d);
  if (!seat_and_sign_in(ctx, d, rep, made, users, [](uint32_t) { return 0u; })) return;
  progress("all %u members join the room at once", users);
  auto t0 = steady::now();
  cpu_window join_cpu(ctx.server_pid);
  bool joined = d.join_all(std::min(ctx.deadline, steady::now() + seconds(60)));
  double join_secs = duration<double>(steady::now() - t0).count();
  rep.details["all_joined_seconds"] = std::round(join_secs * 1000) / 1000;
  rep.details["join_server_cpu_pct"] = std::round(join_cpu.server_pct());
  if (!joined) rep.notes.push_back("not every member joined within 60 s");
  progress("joined in %.2f s", join_secs);
  double rate = ctx.opt.rate > 0 ? ctx.opt.rate : 5;
  uint32_t st = d.ledger().begin_step("posting", rate);
  cpu_window cpu(ctx.server_pid);
  std::vector<load_driver::stream> streams{{rate, [&] { return d.post_random(0); }}};
  auto t1 = steady::now();
  d.run_streams(milliseconds(static_cast<int64_t>(duration_s * 1000)), streams);
  double secs = duration<double>(steady::now() - t1).count();
  rep.server_cpu_pct = cpu.server_pct();
  rep.bench_cpu_pct = cpu.bench_pct();
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  d.ledger().finalize();
  fill_common(rep, d, d.ledger().total(), secs, ctx.server_pid);
  rep.join = d.signin_join();
  (void)st;
  rep.targets.push_back({"all members joined", join_secs, 5, false, "s"});
  rep.targets.push_back({"post->delivery p99", rep.latency.quantile_ms(0.99), 50, false, "ms"});
  rep.targets.push_back({"lost deliveries", static_cast<double>(rep.lost), 0, false, ""});
}

// ---------------------------------------------------------------------------------------
// lync-model

struct room_class_model {
  const char* name;
  uint32_t size;  // users connected per room
  uint32_t rooms_per_user;
  double posts_per_s;  // at 80,000 users
  double auditorium;   // share of rooms
};
// lync-persistent-chat.md §5.2 (room-size model) and §5.3 (performance user model).
constexpr room_class_model kLyncClasses[] = {
    {"small", 30, 12, 22.22, 0.01},
    {"medium", 150, 2, 1.67, 0.01},
    {"large", 16000, 2, 0.15, 0.50},
};
constexpr double kLyncUsers = 80000;
constexpr double kLyncJoinsPerSecond = 10;
constexpr uint32_t kPresentersPerAuditorium = 2;

void run_lync_model(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  const double scale = users / kLyncUsers;
  client::client_loop loop;
  route_kind route = choose_route(ctx.opt, users);
  load_driver d(loop, make_driver_config(ctx, route));
  rep.route = route_text(ctx, route);
  split_by_kind(ctx, route, d);
  d.add_users(users);
  nlohmann::json classes = nlohmann::json::array();
  std::vector<std::vector<uint32_t>> class_rooms;
  for (int c = 0; c < 3; ++c) {
    const auto& m = kLyncClasses[c];
    uint32_t size = std::min(m.size, users);
    uint32_t count =
        static_cast<uint32_t>(std::ceil(static_cast<double>(users) * m.rooms_per_user / size));
    uint32_t per_user = std::min(m.rooms_per_user, count);
    std::vector<created_room> made;
    std::string err;
    progress("creating %u %s rooms", count, m.name);
    auto t0 = steady::now();
    if (!ctx.create_rooms(count, m.name, made, err)) {
      rep.notes.push_back("room creation failed: " + err);
      return;
    }
    progress("created them in %.1f s", duration<double>(steady::now() - t0).count());
    uint32_t first = static_cast<uint32_t>(d.rooms().size());
    // Auditoriums spread evenly: every (1/share)-th room.
    uint32_t every = static_cast<uint32_t>(std::lround(1.0 / m.auditorium));
    register_rooms(d, made, c, every, kPresentersPerAuditorium);
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < count; ++i) ids.push_back(first + i);
    // User u joins rooms (u * R + r) mod count, r < R: distinct per user, sizes balanced.
    for (uint32_t u = 0; u < users; ++u)
      for (uint32_t r = 0; r < per_user; ++r)
        d.add_member(
            u, first + static_cast<uint32_t>((static_cast<uint64_t>(u) * per_user + r) % count));
    class_rooms.push_back(ids);
    classes.push_back({{"class", m.name},
                       {"rooms", count},
                       {"members_per_room", size},
                       {"rooms_per_user", per_user},
                       {"posts_per_s", m.posts_per_s * scale},
                       {"auditorium_share", m.auditorium}});
  }
  rep.details["room_classes"] = classes;
  rep.details["joins_per_s"] = kLyncJoinsPerSecond * scale;
  auto st = ctx.admin.status();
  rep.server_rss_before_kb = sample_process(ctx.server_pid).rss_kb;
  if (!sign_in_everyone(ctx, d, rep, 500)) {
    d.ledger().finalize();
    fill_common(rep, d, d.ledger().total(), 0, ctx.server_pid);
    return;
  }
  std::mt19937 rng(ctx.opt.seed);
  std::vector<load_driver::stream> streams;
  for (int c = 0; c < 3; ++c) {
    double rate =
        (ctx.opt.rate > 0 ? ctx.opt.rate / 24.04 : 1.0) * kLyncClasses[c].posts_per_s * scale;
    auto* ids = &class_rooms[c];
    streams.push_back(
        {rate, [&d, &rng, ids] { return d.post_random((*ids)[random_below(rng, ids->size())]); }});
  }
  streams.push_back({kLyncJoinsPerSecond * scale, [&d] { return d.churn_random(); }});
  uint32_t step = d.ledger().begin_step("model", 24.04 * scale);
  cpu_window cpu(ctx.server_pid);
  auto t0 = steady::now();
  progress("running the model for %.0f s", duration_s);
  d.run_streams(milliseconds(static_cast<int64_t>(duration_s * 1000)), streams);
  double secs = duration<double>(steady::now() - t0).count();
  rep.server_cpu_pct = cpu.server_pct();
  rep.bench_cpu_pct = cpu.bench_pct();
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  // Churn joins still under way finish too.
  d.run_for(milliseconds(500));
  d.ledger().finalize();
  fill_common(rep, d, d.ledger().step(step), secs, ctx.server_pid);
  rep.details["parts"] = d.counters().parts;
  rep.targets.push_back({"post->delivery p99", rep.latency.quantile_ms(0.99), 100, false, "ms"});
  rep.targets.push_back({"join+back-chat p99", d.churn_join().quantile_ms(0.99), 20, false, "ms"});
  rep.targets.push_back({"lost deliveries", static_cast<double>(rep.lost), 0, false, ""});
  if (rep.clients) {
    rep.rss_kb_per_session =
        (static_cast<double>(rep.server_rss_kb) - rep.server_rss_before_kb) / rep.clients;
  }
}

// ---------------------------------------------------------------------------------------
// durable

void run_durable(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  if (ctx.opt.ceilings) rep.rocksdb_ceiling_per_s = rocksdb_ceiling(ctx, rep);
  std::vector<created_room> made;
  std::string err;
  progress("creating %u rooms", users);
  if (!ctx.create_rooms(users, "dur", made, err)) {
    rep.notes.push_back("room creation failed: " + err);
    return;
  }
  client::client_loop loop;
  route_kind route = choose_route(ctx.opt, users);
  load_driver d(loop, make_driver_config(ctx, route));
  rep.route = route_text(ctx, route);
  split_by_kind(ctx, route, d);
  if (!seat_and_sign_in(ctx, d, rep, made, users, [](uint32_t u) { return u; })) return;
  uint32_t st = d.ledger().begin_step("closed-loop", 0);
  cpu_window cpu(ctx.server_pid);
  auto t0 = steady::now();
  d.set_closed_loop(true);
  for (int w = 0; w < ctx.opt.window; ++w)
    for (uint32_t r = 0; r < users; ++r) d.post(r, 0);
  d.run_for(milliseconds(static_cast<int64_t>(duration_s * 1000)));
  d.set_closed_loop(false);
  double secs = duration<double>(steady::now() - t0).count();
  rep.server_cpu_pct = cpu.server_pct();
  rep.bench_cpu_pct = cpu.bench_pct();
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  d.ledger().finalize();
  fill_common(rep, d, d.ledger().step(st), secs, ctx.server_pid);
  if (rep.rocksdb_ceiling_per_s && *rep.rocksdb_ceiling_per_s > 0)
    rep.details["durable_ratio"] =
        std::round(rep.posts_per_s / *rep.rocksdb_ceiling_per_s * 1000) / 1000;
  rep.targets.push_back({"durable acknowledged posts/s", rep.posts_per_s, 20000, true, "/s"});
  rep.targets.push_back({"lost deliveries", static_cast<double>(rep.lost), 0, false, ""});
}

// ---------------------------------------------------------------------------------------
// overload

// One measured posting phase of the overload profile: `secs` of posting at `rate` in random
// rooms, then the drain; the server's RSS is sampled every second (peak in *rss_peak_kb).
step_row overload_phase(run_context& ctx, load_driver& d, const char* label, double rate,
                        double secs, uint32_t rooms, std::mt19937& rng, uint64_t* rss_peak_kb,
                        uint32_t* step_id) {
  uint32_t st = d.ledger().begin_step(label, rate);
  *step_id = st;
  cpu_window cpu(ctx.server_pid);
  std::vector<load_driver::stream> streams{
      {rate, [&] { return d.post_random(random_below(rng, rooms)); }}};
  auto t0 = steady::now();
  for (double done = 0; done < secs && steady::now() < ctx.deadline; done += 1) {
    d.run_streams(milliseconds(static_cast<int64_t>(std::min(1.0, secs - done) * 1000)), streams);
    *rss_peak_kb = std::max<uint64_t>(*rss_peak_kb, sample_process(ctx.server_pid).rss_kb);
  }
  double took = duration<double>(steady::now() - t0).count();
  double srv = cpu.server_pct(), bench = cpu.bench_pct();
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  auto& totals = d.ledger().step(st);
  totals.seconds = took;
  step_row row = make_step_row(totals, took);
  row.server_cpu_pct = srv;
  row.bench_cpu_pct = bench;
  row.good = row.late == 0 && row.sip_503 == 0 && row.failed == 0 && row.duplicated == 0;
  progress(
      "phase %-9s posts/s %.0f deliveries/s %.0f p50 %.1f ms p99 %.1f ms 503 %llu server %.0f%% "
      "bench %.0f%%",
      label, row.posts_per_s, row.deliveries_per_s, row.p50_ms, row.p99_ms,
      static_cast<unsigned long long>(row.sip_503), srv, bench);
  return row;
}

void run_overload(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  const auto& opt = ctx.opt;
  uint32_t rooms = opt.rooms ? opt.rooms : std::max<uint32_t>(1, users / 20);
  rooms = std::min(rooms, users);
  std::vector<created_room> made, bad_room;
  std::string err;
  if (!ctx.create_rooms(rooms, "ovl", made, err) ||
      !ctx.create_rooms(1, "ovl-bad", bad_room, err)) {
    rep.notes.push_back("room creation failed: " + err);
    return;
  }
  client::client_loop loop;
  route_kind route = choose_route(opt, users);
  load_driver d(loop, make_driver_config(ctx, route));
  rep.route = route_text(ctx, route);
  split_by_kind(ctx, route, d);
  if (!seat_and_sign_in(ctx, d, rep, made, users, [&](uint32_t u) { return u % rooms; })) return;
  std::mt19937 rng(opt.seed);
  double rate = opt.rate > 0 ? opt.rate : 100;
  uint64_t rss_base = 0, rss_bad = 0;
  uint32_t base_step = 0, over_step = 0;
  step_row base =
      overload_phase(ctx, d, "baseline", rate, duration_s, rooms, rng, &rss_base, &base_step);
  rep.steps.push_back(base);

  bad_clients_config bc;
  bc.host = ctx.sip_host;
  bc.sip_port = ctx.sip_port;
  bc.http_port = ctx.http_port;
  bc.domain = ctx.domain;
  bc.user_prefix = ctx.run_tag + "bad";
  bc.room_uri = bad_room[0].uri;
  for (auto& r : made) bc.slow_reader_rooms.push_back(r.uri);  // all the normal traffic too
  if (!ctx.admin.ensure_users(
          {bc.user_prefix + "flood@" + bc.domain, bc.user_prefix + "slow@" + bc.domain})) {
    rep.notes.push_back("bad clients not provisioned: " + ctx.admin.last_error());
    d.close_all();
    return;
  }
  bad_clients bad(loop, bc);
  if (!bad.start(std::min(ctx.deadline, steady::now() + seconds(30)))) {
    rep.notes.push_back("bad clients did not start: " + bad.error());
    d.close_all();
    return;
  }
  auto status0 = ctx.admin.status().value_or(nlohmann::json::object());
  progress(
      "bad clients on: flooder (%d in flight), a member not reading, %d SIP and %d HTTP slowloris",
      bc.flood_inflight, bc.slowloris, bc.http_port ? bc.http_slowloris : 0);
  bad.begin();
  step_row over =
      overload_phase(ctx, d, "overload", rate, duration_s, rooms, rng, &rss_bad, &over_step);
  rep.steps.push_back(over);
  // The admin API while HTTP slowloris connections are held (after the phase: this call
  // blocks the bench's loop).
  auto h0 = steady::now();
  auto hs = ctx.admin.status();
  double http_ms = duration<double, std::milli>(steady::now() - h0).count();
  auto counts = bad.stop(ctx.deadline);
  // The same load again without them: how much of the difference is this machine's noise
  // (fsync latency varies run to run).
  uint64_t rss_after = 0;
  uint32_t after_step = 0;
  step_row after =
      overload_phase(ctx, d, "after", rate, duration_s, rooms, rng, &rss_after, &after_step);
  rep.steps.push_back(after);
  auto status1 = ctx.admin.status().value_or(nlohmann::json::object());
  auto delta = [&](const char* k) { return status1.value(k, 0.0) - status0.value(k, 0.0); };

  d.ledger().finalize();
  auto k = d.ledger().step(over_step);
  fill_common(rep, d, d.ledger().total(), base.posts_per_s > 0 ? duration_s * 3 : 0,
              ctx.server_pid);
  rep.latency = k.latency;  // the headline latency is the overload phase's
  rep.server_cpu_pct = over.server_cpu_pct;
  rep.bench_cpu_pct = over.bench_cpu_pct;
  double ratio = base.p99_ms > 0 ? over.p99_ms / base.p99_ms : 0;
  rep.details["baseline_p99_ms"] = base.p99_ms;
  rep.details["overload_p99_ms"] = over.p99_ms;
  rep.details["after_p99_ms"] = after.p99_ms;
  rep.details["p99_ratio"] = std::round(ratio * 100) / 100;
  rep.details["server_rss_peak_kb"] = {
      {"baseline", rss_base}, {"overload", rss_bad}, {"after", rss_after}};
  rep.details["flood"] = {
      {"sent", counts.flood_sent},
      {"ok", counts.flood_ok},
      {"503", counts.flood_503},
      {"failed", counts.flood_failed},
      {"ok_per_s", std::round(static_cast<double>(counts.flood_ok) / duration_s)}};
  rep.details["slow_reader_closed"] = counts.slow_reader_closed;
  rep.details["slowloris"] = {{"sip_open", counts.slowloris_open},
                              {"sip_closed", counts.slowloris_closed},
                              {"http_open", counts.http_slowloris_open},
                              {"http_closed", counts.http_slowloris_closed}};
  rep.details["admin_status_during_overload"] = {{"ms", std::round(http_ms * 10) / 10},
                                                 {"ok", hs.has_value()}};
  rep.details["server_limits"] = {{"pauses", delta("pauses")},
                                  {"slow_readers_closed", delta("slow_readers_closed")},
                                  {"stalled_messages_closed", delta("stalled_messages_closed")},
                                  {"connections_refused", delta("connections_refused")},
                                  {"responses_503", delta("responses_503")}};
  progress(
      "p99 %.1f ms without, %.1f ms with the bad clients (x%.2f), %.1f ms after; flood %llu ok "
      "%llu 503; "
      "slow reader %s; admin status %.0f ms",
      base.p99_ms, over.p99_ms, ratio, after.p99_ms,
      static_cast<unsigned long long>(counts.flood_ok),
      static_cast<unsigned long long>(counts.flood_503),
      counts.slow_reader_closed ? "closed" : "still open", http_ms);
  d.close_all();
  rep.targets.push_back({"post->delivery p99 with / without bad clients", ratio, 2, false, "x"});
  // One slow reader may cost at most its hard output limit (16 MiB) plus what the flood and
  // the held connections take.
  rep.targets.push_back({"server RSS peak growth with bad clients",
                         (static_cast<double>(rss_bad) - static_cast<double>(rss_base)) / 1024, 64,
                         false, "MB"});
  rep.targets.push_back({"lost deliveries", static_cast<double>(rep.lost), 0, false, ""});
}

// ---------------------------------------------------------------------------------------
// pool

// Bytes sent over the established TCP connections of this machine that have one end on one
// of `ports`, as `ss -tin` shows them (bytes_acked: each byte counted once, at its sender;
// connections closed meanwhile are not counted).
uint64_t tcp_bytes_on_ports(const std::set<uint16_t>& ports) {
  FILE* p = popen("ss -Htin state established 2>/dev/null", "r");
  if (!p) return 0;
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  uint64_t total = 0;
  bool match = false;
  size_t at = 0;
  auto port_of = [](const std::string& addr) {
    auto c = addr.rfind(':');
    return c == std::string::npos ? 0 : std::atoi(addr.c_str() + c + 1);
  };
  while (at < out.size()) {
    size_t nl = out.find('\n', at);
    if (nl == std::string::npos) nl = out.size();
    std::string line = out.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) continue;
    if (line[0] != '\t' && line[0] != ' ') {
      std::istringstream f(line);
      std::string rq, sq, local, peer;
      f >> rq >> sq >> local >> peer;
      match = ports.count(static_cast<uint16_t>(port_of(local))) ||
              ports.count(static_cast<uint16_t>(port_of(peer)));
      continue;
    }
    auto b = line.find("bytes_acked:");
    if (match && b != std::string::npos) total += std::strtoull(line.c_str() + b + 12, nullptr, 10);
    match = false;
  }
  return total;
}

// The counters of one node's GET /metrics (text format) the capacity model needs, summed
// over their labels.
struct node_counters {
  double posts = 0, batches = 0, synced_writes = 0, batch_entries = 0;
};
node_counters scrape_counters(uint16_t http_port) {
  node_counters c;
  admin_client a("127.0.0.1:" + std::to_string(http_port));
  auto r = a.request("GET", "/metrics");
  if (r.status != 200) return c;
  std::istringstream in(r.text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto name_end = line.find_first_of("{ ");
    auto space = line.rfind(' ');
    if (name_end == std::string::npos || space == std::string::npos) continue;
    std::string name = line.substr(0, name_end);
    double v = std::strtod(line.c_str() + space + 1, nullptr);
    if (name == "pchat_posts_total")
      c.posts += v;
    else if (name == "pchat_commit_batches_total")
      c.batches += v;
    else if (name == "pchat_store_synced_writes_total")
      c.synced_writes += v;
    else if (name == "pchat_commit_batch_entries_sum")
      c.batch_entries += v;
  }
  return c;
}

// What the pool costs over one phase: CPU of every node, BASP and etcd bytes, commit
// counters of every node.
struct pool_window {
  run_context& ctx;
  std::vector<process_sample> cpu0;
  std::vector<node_counters> m0;
  uint64_t basp0 = 0, etcd0 = 0;
  steady::time_point t0 = steady::now();
  std::set<uint16_t> pool_ports() const {
    std::set<uint16_t> p;
    for (auto& m : ctx.pool) p.insert(m.pool_port);
    return p;
  }
  explicit pool_window(run_context& c) : ctx(c) {
    for (auto& m : ctx.pool) {
      cpu0.push_back(sample_process(m.pid));
      m0.push_back(scrape_counters(m.http_port));
    }
    basp0 = tcp_bytes_on_ports(pool_ports());
    if (ctx.etcd_port) etcd0 = tcp_bytes_on_ports({ctx.etcd_port});
    t0 = steady::now();
  }
  // The phase's figures, per acknowledged post (posts) and per delivery.
  nlohmann::json figures(double posts, double deliveries) {
    double secs = duration<double>(steady::now() - t0).count();
    double cpu_s = 0;
    nlohmann::json nodes = nlohmann::json::array();
    node_counters sum;
    for (size_t i = 0; i < ctx.pool.size(); ++i) {
      auto s1 = sample_process(ctx.pool[i].pid);
      auto m1 = scrape_counters(ctx.pool[i].http_port);
      double c = s1.ok && cpu0[i].ok ? s1.cpu_seconds - cpu0[i].cpu_seconds : 0;
      cpu_s += c;
      node_counters d{m1.posts - m0[i].posts, m1.batches - m0[i].batches,
                      m1.synced_writes - m0[i].synced_writes,
                      m1.batch_entries - m0[i].batch_entries};
      sum.posts += d.posts, sum.batches += d.batches, sum.synced_writes += d.synced_writes,
          sum.batch_entries += d.batch_entries;
      nodes.push_back({{"name", ctx.pool[i].name},
                       {"cpu_pct", std::round(secs > 0 ? 100 * c / secs : 0)},
                       {"rss_kb", s1.rss_kb},
                       {"posts", d.posts},
                       {"commit_batches", d.batches},
                       {"synced_writes", d.synced_writes},
                       {"batch_entries", d.batch_entries}});
    }
    double basp = static_cast<double>(tcp_bytes_on_ports(pool_ports()) - basp0);
    double etcd =
        ctx.etcd_port ? static_cast<double>(tcp_bytes_on_ports({ctx.etcd_port}) - etcd0) : 0;
    auto per = [](double x, double n) { return n > 0 ? std::round(x / n * 100) / 100 : 0.0; };
    return {{"seconds", std::round(secs * 100) / 100},
            {"nodes", nodes},
            {"server_cpu_pct_all_nodes", std::round(secs > 0 ? 100 * cpu_s / secs : 0)},
            {"server_cpu_us_per_post", per(cpu_s * 1e6, posts)},
            {"server_cpu_us_per_delivery", per(cpu_s * 1e6, deliveries)},
            {"basp_bytes", basp},
            {"basp_bytes_per_post", per(basp, posts)},
            {"etcd_bytes_per_s", per(etcd, secs)},
            {"commit_batches_per_post", per(sum.batches, posts)},
            {"synced_writes_per_post", per(sum.synced_writes, posts)},
            {"entries_per_batch", per(sum.batch_entries, sum.batches)}};
  }
};

void run_pool(run_context& ctx, bench_report& rep, uint32_t users, double duration_s) {
  const auto& opt = ctx.opt;
  const size_t nodes = ctx.pool.size();
  uint32_t rooms = std::min(opt.rooms ? opt.rooms : std::max<uint32_t>(1, users / 9), users);
  uint32_t per_room = users / rooms;
  std::vector<created_room> made;
  std::string err;
  progress("creating %u rooms on a pool of %zu nodes", rooms, nodes);
  if (!ctx.create_rooms(rooms, "pool", made, err)) {
    rep.notes.push_back("room creation failed: " + err);
    return;
  }
  // Every node must know the rooms before its users join (the directory reaches the other
  // nodes within their 100 ms poll); nodes whose token the bench lacks get a second.
  auto known_until = steady::now() + seconds(10);
  bool waited_blind = false;
  for (auto& m : ctx.pool) {
    if (m.token.empty()) {
      waited_blind = true;
      continue;
    }
    admin_client a("127.0.0.1:" + std::to_string(m.http_port));
    a.set_token(m.token);
    while (a.request("GET", "/api/v1/rooms/" + made.back().id).status != 200 &&
           steady::now() < known_until)
      std::this_thread::sleep_for(milliseconds(20));
  }
  if (waited_blind) std::this_thread::sleep_for(seconds(1));

  client::client_loop loop;
  auto cfg = make_driver_config(ctx, route_kind::direct);
  for (auto& m : ctx.pool) cfg.server_ports.push_back(m.sip_port);
  load_driver d(loop, cfg);
  rep.route = "direct, user u on node u % " + std::to_string(nodes);
  auto room_of = [&](uint32_t u) { return std::min(u / per_room, rooms - 1); };
  // The users too: the directory admits only users it knows, and a node knows a user made
  // through node 1 only after its next directory poll.
  {
    std::vector<std::string> names;
    for (uint32_t u = 0; u < users; ++u) names.push_back(d.user_name(u));
    if (!ctx.admin.ensure_users(names, bench_password(ctx))) {
      rep.notes.push_back("users not provisioned: " + ctx.admin.last_error());
      return;
    }
    auto users_until = steady::now() + seconds(10);
    for (auto& m : ctx.pool) {
      if (m.token.empty()) {
        waited_blind = true;
        continue;
      }
      admin_client a("127.0.0.1:" + std::to_string(m.http_port));
      a.set_token(m.token);
      while (a.request("GET", "/api/v1/users/" + names.back()).status != 200 &&
             steady::now() < users_until)
        std::this_thread::sleep_for(milliseconds(20));
    }
    if (waited_blind) std::this_thread::sleep_for(seconds(1));
  }
  if (!seat_and_sign_in(ctx, d, rep, made, users, room_of)) return;

  // Who serves each room: its claim in GET /api/v1/pool (nodes whose token the bench has),
  // else rendezvous placement over the node names.
  std::vector<std::string> names;
  for (auto& m : ctx.pool) names.push_back(m.name);
  std::map<std::string, size_t> claimed;
  for (size_t i = 0; i < nodes; ++i) {
    if (ctx.pool[i].token.empty()) continue;
    admin_client a("127.0.0.1:" + std::to_string(ctx.pool[i].http_port));
    a.set_token(ctx.pool[i].token);
    auto r = a.request("GET", "/api/v1/pool");
    if (r.status == 200 && r.body.is_object())
      for (auto& e : r.body.value("rooms", nlohmann::json::array()))
        claimed[e.value("room_id", "")] = i;
  }
  std::vector<size_t> owner(rooms);
  size_t from_claims = 0;
  std::vector<uint32_t> owned(nodes, 0);
  for (uint32_t r = 0; r < rooms; ++r) {
    auto c = claimed.find(made[r].id);
    if (c != claimed.end()) {
      owner[r] = c->second;
      ++from_claims;
    } else {
      auto first = pool::rank(made[r].id, names)[0];
      owner[r] = static_cast<size_t>(std::find(names.begin(), names.end(), first) - names.begin());
    }
    ++owned[owner[r]];
  }
  rep.details["pool_nodes"] = nodes;
  rep.details["rooms_owned_per_node"] = owned;
  rep.details["owners_from_claims"] = from_claims;
  rep.details["members_per_room"] = per_room;
  d.set_delivery_class(
      [&](uint32_t room, uint32_t user) { return user % nodes == owner[room] ? 0 : 1; });

  auto split = [&](const char* what) {
    nlohmann::json j;
    for (int c = 0; c < 2; ++c) {
      auto& h = d.class_latency(c);
      j[c == 0 ? "on_owner_node" : "on_other_nodes"] = {{"deliveries", h.count()},
                                                        {"p50_ms", h.quantile_ms(0.5)},
                                                        {"p99_ms", h.quantile_ms(0.99)},
                                                        {"p999_ms", h.quantile_ms(0.999)}};
    }
    progress("%s: delivery p50/p99 on the owner's node %.2f/%.2f ms, on other nodes %.2f/%.2f ms",
             what, d.class_latency(0).quantile_ms(0.5), d.class_latency(0).quantile_ms(0.99),
             d.class_latency(1).quantile_ms(0.5), d.class_latency(1).quantile_ms(0.99));
    return j;
  };

  // Phase 0: every user signed in, nobody posting: what the pool costs by itself (leases,
  // directory polls, BASP heartbeats), to take off the per-post figures.
  {
    pool_window w0(ctx);
    d.run_for(seconds(5));
    rep.details["phase_idle"] = w0.figures(0, 0);
    progress("idle: server CPU %.0f %% over all nodes",
             rep.details["phase_idle"]["server_cpu_pct_all_nodes"].get<double>());
  }

  // Phase 1: posts at a fixed rate into random rooms.
  std::mt19937 rng(opt.seed);
  double rate = opt.rate > 0 ? opt.rate : 100;
  d.clear_class_latency();
  uint32_t st = d.ledger().begin_step("rate", rate);
  pool_window w1(ctx);
  cpu_window bench_cpu(0);
  std::vector<load_driver::stream> streams{
      {rate, [&] { return d.post_random(random_below(rng, rooms)); }}};
  progress("phase 1: %.0f posts/s for %.0f s", rate, duration_s);
  auto t0 = steady::now();
  d.run_streams(milliseconds(static_cast<int64_t>(duration_s * 1000)), streams);
  double secs1 = duration<double>(steady::now() - t0).count();
  double bench1 = bench_cpu.bench_pct();
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  auto& t1 = d.ledger().step(st);
  auto phase1 = w1.figures(static_cast<double>(t1.posts_acked), static_cast<double>(t1.deliveries));
  phase1["delivery_split"] = split("phase 1");
  phase1["posts_per_s"] = std::round(t1.posts_acked / secs1 * 10) / 10;
  phase1["deliveries_per_s"] = std::round(t1.deliveries / secs1);
  phase1["p50_ms"] = t1.latency.quantile_ms(0.5);
  phase1["p99_ms"] = t1.latency.quantile_ms(0.99);
  phase1["ack_p50_ms"] = t1.ack.quantile_ms(0.5);
  phase1["ack_p99_ms"] = t1.ack.quantile_ms(0.99);
  phase1["bench_cpu_pct"] = std::round(bench1);
  rep.details["phase_rate"] = phase1;

  // Phase 2: closed loop, --window posts in flight per room.
  d.clear_class_latency();
  uint32_t st2 = d.ledger().begin_step("closed-loop", 0);
  pool_window w2(ctx);
  cpu_window bench_cpu2(0);
  progress("phase 2: closed loop, %d posts in flight per room, %.0f s", opt.window, duration_s);
  auto t2 = steady::now();
  d.set_closed_loop(true);
  for (int k = 0; k < opt.window; ++k)
    for (uint32_t r = 0; r < rooms; ++r) d.post(r, static_cast<uint32_t>(k) % per_room);
  d.run_for(milliseconds(static_cast<int64_t>(duration_s * 1000)));
  d.set_closed_loop(false);
  double secs2 = duration<double>(steady::now() - t2).count();
  double bench2 = bench_cpu2.bench_pct();
  d.drain(std::min(ctx.deadline, steady::now() + seconds(10)));
  auto& tt2 = d.ledger().step(st2);
  auto phase2 =
      w2.figures(static_cast<double>(tt2.posts_acked), static_cast<double>(tt2.deliveries));
  phase2["delivery_split"] = split("phase 2");
  phase2["posts_per_s"] = std::round(tt2.posts_acked / secs2 * 10) / 10;
  phase2["deliveries_per_s"] = std::round(tt2.deliveries / secs2);
  phase2["p50_ms"] = tt2.latency.quantile_ms(0.5);
  phase2["p99_ms"] = tt2.latency.quantile_ms(0.99);
  phase2["ack_p50_ms"] = tt2.ack.quantile_ms(0.5);
  phase2["ack_p99_ms"] = tt2.ack.quantile_ms(0.99);
  phase2["bench_cpu_pct"] = std::round(bench2);
  rep.details["phase_closed_loop"] = phase2;
  progress(
      "phase 2: %.0f posts/s, %.0f deliveries/s, CPU %.0f us per post over all nodes, %.0f BASP "
      "bytes per post",
      tt2.posts_acked / secs2, tt2.deliveries / secs2,
      phase2["server_cpu_us_per_post"].get<double>(), phase2["basp_bytes_per_post"].get<double>());

  d.ledger().finalize();
  fill_common(rep, d, d.ledger().step(st), secs1, ctx.server_pid);
  rep.lost = d.ledger().total().lost;
  rep.duplicated = d.ledger().total().duplicated;
  rep.server_cpu_pct = phase1["server_cpu_pct_all_nodes"].get<double>();
  rep.bench_cpu_pct = bench1;
  rep.targets.push_back({"lost deliveries", static_cast<double>(rep.lost), 0, false, ""});
  d.close_all();
}

}  // namespace

bool run_context::create_rooms(size_t n, const std::string& kind, std::vector<created_room>& out,
                               std::string& error) {
  if (category.empty()) {
    auto c = admin.create_category(run_tag, "pchat-bench rooms (deleted after the run)");
    if (!c) {
      error = admin.last_error();
      return false;
    }
    category = *c;
  }
  for (size_t i = 0; i < n; ++i) {
    if (steady::now() >= deadline) {
      error = "deadline passed while creating rooms";
      return false;
    }
    auto r = admin.create_room(run_tag + "-" + kind + "-" + std::to_string(i), category,
                               "pchat-bench " + kind);
    if (!r) {
      error = admin.last_error();
      return false;
    }
    created.push_back(*r);
    out.push_back(*r);
    if (n >= 5000 && (i + 1) % 5000 == 0) progress("  %zu rooms created", i + 1);
  }
  return true;
}

bench_report run_profile(run_context& ctx) {
  bench_report rep;
  rep.profile = ctx.opt.profile;
  rep.load_before = loadavg();
  auto def = defaults_for(ctx.opt.profile);
  uint32_t users = ctx.opt.users ? ctx.opt.users : def.users;
  double duration_s = ctx.opt.duration > 0 ? ctx.opt.duration : def.duration;
  if (ctx.server_pid <= 0)
    rep.notes.push_back("server process unknown: no server CPU or RSS figures");
  if (ctx.opt.profile == "ceiling")
    run_ceiling(ctx, rep, users, duration_s);
  else if (ctx.opt.profile == "idle")
    run_idle(ctx, rep, users, duration_s);
  else if (ctx.opt.profile == "big-room")
    run_big_room(ctx, rep, users, duration_s);
  else if (ctx.opt.profile == "lync-model")
    run_lync_model(ctx, rep, users, duration_s);
  else if (ctx.opt.profile == "overload")
    run_overload(ctx, rep, users, duration_s);
  else if (ctx.opt.profile == "pool")
    run_pool(ctx, rep, users, duration_s);
  else
    run_durable(ctx, rep, users, duration_s);
  rep.load_after = loadavg();
  return rep;
}

}  // namespace pchat::bench
