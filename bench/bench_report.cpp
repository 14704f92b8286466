#include "bench/bench_report.h"

#include <cmath>

namespace pchat::bench {

namespace {

double round2(double v) {
  return std::round(v * 100.0) / 100.0;
}

nlohmann::json quantiles(const latency_histogram& h, bool with_p999) {
  nlohmann::json j{{"p50", round2(h.quantile_ms(0.50))},
                   {"p99", round2(h.quantile_ms(0.99))},
                   {"count", h.count()}};
  if (with_p999) {
    j["p999"] = round2(h.quantile_ms(0.999));
    j["max"] = round2(h.max_us() / 1000.0);
  }
  return j;
}

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(round2(*v)) : nlohmann::json(nullptr);
}

}  // namespace

step_row make_step_row(const step_totals& s, double seconds) {
  step_row r;
  r.label = s.label;
  r.offered_posts_per_s = s.offered_posts_per_s;
  if (seconds > 0) {
    r.posts_per_s = s.posts_acked / seconds;
    r.deliveries_per_s = s.deliveries / seconds;
  }
  r.p50_ms = s.latency.quantile_ms(0.5);
  r.p99_ms = s.latency.quantile_ms(0.99);
  r.p999_ms = s.latency.quantile_ms(0.999);
  r.ack_p99_ms = s.ack.quantile_ms(0.99);
  r.deferred = s.posts_deferred;
  r.sip_503 = s.posts_503;
  r.failed = s.posts_failed;
  r.late = s.pending;
  r.duplicated = s.duplicated;
  return r;
}

nlohmann::json to_json(const bench_report& r) {
  nlohmann::json j;
  j["profile"] = r.profile;
  j["clients"] = r.clients;
  j["posts_per_s"] = round2(r.posts_per_s);
  j["deliveries_per_s"] = round2(r.deliveries_per_s);
  j["latency_ms"] = quantiles(r.latency, true);
  j["join_ms"] = quantiles(r.join, false);
  j["lost"] = r.lost;
  j["duplicated"] = r.duplicated;
  j["sip_503"] = r.sip_503;
  j["errors"] = r.errors;
  j["server_rss_kb"] = r.server_rss_kb;
  j["rss_kb_per_session"] = optional_number(r.rss_kb_per_session);
  if (r.profile == "ceiling" || r.sip_ceiling_per_s) {
    j["sip_ceiling_per_s"] = optional_number(r.sip_ceiling_per_s);
    j["ceiling_ratio"] = r.ceiling_ratio
                             ? nlohmann::json(std::round(*r.ceiling_ratio * 1000) / 1000)
                             : nlohmann::json(nullptr);
  }
  if (r.rocksdb_ceiling_per_s) j["rocksdb_ceiling_per_s"] = round2(*r.rocksdb_ceiling_per_s);
  j["command"] = r.command_line;
  j["build_type"] = r.build_type;
  j["machine"] = r.machine;
  j["route"] = r.route;
  j["connections"] = r.connections;
  j["rooms"] = r.rooms;
  j["posts"] = r.posts;
  j["deliveries"] = r.deliveries;
  j["unexpected"] = r.unexpected;
  j["misrouted"] = r.misrouted;
  j["client_faults"] = r.client_faults;
  j["error_samples"] = r.error_samples;
  j["ack_ms"] = quantiles(r.ack, false);
  j["signin_ms"] = quantiles(r.signin, false);
  j["server_rss_before_kb"] = r.server_rss_before_kb;
  j["server_hwm_kb"] = r.server_hwm_kb;
  j["server_cpu_pct"] = round2(r.server_cpu_pct);
  j["bench_cpu_pct"] = round2(r.bench_cpu_pct);
  j["measured_seconds"] = round2(r.measured_seconds);
  j["load_before"] = r.load_before;
  j["load_after"] = r.load_after;
  nlohmann::json steps = nlohmann::json::array();
  for (auto& s : r.steps)
    steps.push_back({{"label", s.label},
                     {"offered_posts_per_s", round2(s.offered_posts_per_s)},
                     {"posts_per_s", round2(s.posts_per_s)},
                     {"deliveries_per_s", round2(s.deliveries_per_s)},
                     {"p50_ms", round2(s.p50_ms)},
                     {"p99_ms", round2(s.p99_ms)},
                     {"p999_ms", round2(s.p999_ms)},
                     {"ack_p99_ms", round2(s.ack_p99_ms)},
                     {"deferred", s.deferred},
                     {"sip_503", s.sip_503},
                     {"failed", s.failed},
                     {"late", s.late},
                     {"duplicated", s.duplicated},
                     {"server_cpu_pct", round2(s.server_cpu_pct)},
                     {"bench_cpu_pct", round2(s.bench_cpu_pct)},
                     {"server_requests_out_per_s", round2(s.server_requests_out_per_s)},
                     {"good", s.good}});
  j["steps"] = steps;
  nlohmann::json targets = nlohmann::json::array();
  for (auto& t : r.targets)
    targets.push_back({{"name", t.name},
                       {"value", round2(t.value)},
                       {"limit", t.limit},
                       {"at_least", t.at_least},
                       {"unit", t.unit},
                       {"met", t.met()}});
  j["targets"] = targets;
  j["details"] = r.details;
  j["notes"] = r.notes;
  return j;
}

void print_table(const bench_report& r, std::FILE* out) {
  auto q = [](const latency_histogram& h, double p) { return h.quantile_ms(p); };
  std::fprintf(out, "pchat-bench  profile=%s  build=%s\n", r.profile.c_str(), r.build_type.c_str());
  std::fprintf(out, "command      %s\n", r.command_line.c_str());
  std::fprintf(out, "machine      %s\n", r.machine.c_str());
  std::fprintf(out, "load         before %s  after %s\n", r.load_before.c_str(),
               r.load_after.c_str());
  std::fprintf(out, "clients      %llu signed in, route=%s, %llu connections, %llu rooms\n",
               static_cast<unsigned long long>(r.clients), r.route.c_str(),
               static_cast<unsigned long long>(r.connections),
               static_cast<unsigned long long>(r.rooms));
  if (!r.steps.empty()) {
    std::fprintf(out, "\n%-10s %9s %9s %11s %8s %8s %8s %8s %6s %5s %5s %6s %6s\n", "step",
                 "offered/s", "posts/s", "deliv/s", "p50 ms", "p99 ms", "p99.9ms", "ack p99",
                 "defer", "503", "late", "srv%", "bench%");
    for (auto& s : r.steps)
      std::fprintf(
          out, "%-10s %9.1f %9.1f %11.1f %8.2f %8.2f %8.2f %8.2f %6llu %5llu %5llu %6.0f %6.0f%s\n",
          s.label.c_str(), s.offered_posts_per_s, s.posts_per_s, s.deliveries_per_s, s.p50_ms,
          s.p99_ms, s.p999_ms, s.ack_p99_ms, static_cast<unsigned long long>(s.deferred),
          static_cast<unsigned long long>(s.sip_503), static_cast<unsigned long long>(s.late),
          s.server_cpu_pct, s.bench_cpu_pct, s.good ? "" : "  (past the knee)");
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "%-28s %.1f\n", "posts/s (acknowledged)", r.posts_per_s);
  std::fprintf(out, "%-28s %.1f\n", "deliveries/s", r.deliveries_per_s);
  std::fprintf(out, "%-28s p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (n=%llu)\n",
               "post->delivery ms", q(r.latency, 0.5), q(r.latency, 0.99), q(r.latency, 0.999),
               r.latency.max_us() / 1000.0, static_cast<unsigned long long>(r.latency.count()));
  std::fprintf(out, "%-28s p50 %.2f  p99 %.2f\n", "post->ack (durable) ms", q(r.ack, 0.5),
               q(r.ack, 0.99));
  std::fprintf(out, "%-28s p50 %.2f  p99 %.2f  (n=%llu)\n", "join+back-chat ms", q(r.join, 0.5),
               q(r.join, 0.99), static_cast<unsigned long long>(r.join.count()));
  std::fprintf(out, "%-28s p50 %.2f  p99 %.2f\n", "sign-in ms", q(r.signin, 0.5),
               q(r.signin, 0.99));
  std::fprintf(
      out, "%-28s lost %llu  duplicated %llu  unexpected %llu  misrouted %llu\n", "deliveries",
      static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicated),
      static_cast<unsigned long long>(r.unexpected), static_cast<unsigned long long>(r.misrouted));
  std::fprintf(out, "%-28s SIP 503 %llu  errors %llu  client faults %llu\n", "failures",
               static_cast<unsigned long long>(r.sip_503),
               static_cast<unsigned long long>(r.errors),
               static_cast<unsigned long long>(r.client_faults));
  for (auto& e : r.error_samples) std::fprintf(out, "  e.g. %s\n", e.c_str());
  std::fprintf(out, "%-28s RSS %llu kB (before sign-in %llu kB, peak %llu kB)", "server memory",
               static_cast<unsigned long long>(r.server_rss_kb),
               static_cast<unsigned long long>(r.server_rss_before_kb),
               static_cast<unsigned long long>(r.server_hwm_kb));
  if (r.rss_kb_per_session) std::fprintf(out, ", %.2f kB per session", *r.rss_kb_per_session);
  std::fprintf(out, "\n%-28s server %.0f %%  bench %.0f %% of one core over %.1f s\n", "CPU",
               r.server_cpu_pct, r.bench_cpu_pct, r.measured_seconds);
  if (r.sip_ceiling_per_s)
    std::fprintf(out, "%-28s %.0f INFO/s; pchat deliveries/s = %.3f of it\n", "sofia-sip responder",
                 *r.sip_ceiling_per_s, r.ceiling_ratio.value_or(0));
  if (r.rocksdb_ceiling_per_s)
    std::fprintf(out, "%-28s %.0f records/s (synced batches)\n", "RocksDB ceiling",
                 *r.rocksdb_ceiling_per_s);
  if (!r.details.empty()) std::fprintf(out, "%-28s %s\n", "details", r.details.dump().c_str());
  if (!r.targets.empty()) {
    std::fprintf(out, "\ntargets (issue 5):\n");
    for (auto& t : r.targets)
      std::fprintf(out, "  %-4s %-44s %10.2f %s %g %s\n", t.met() ? "MET" : "MISS", t.name.c_str(),
                   t.value, t.at_least ? ">=" : "<=", t.limit, t.unit.c_str());
  }
  for (auto& n : r.notes) std::fprintf(out, "note: %s\n", n.c_str());
}

}  // namespace pchat::bench
