// What one pchat-bench run measured, printed as a human table or as one JSON object.
//
// JSON keys always present (issue 5, item 3): profile, clients, posts_per_s,
// deliveries_per_s, latency_ms {p50, p99, p999, max}, join_ms {p50, p99}, lost, duplicated,
// sip_503, errors, server_rss_kb, rss_kb_per_session; for ceiling also sip_ceiling_per_s
// and ceiling_ratio (null when the ceiling was not measured). Beside them: the command line,
// build type and machine, ack and sign-in latencies, CPU, the per-step table, the target
// checks, and profile-specific figures under "details".
//
// Threading: plain values.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/delivery_ledger.h"
#include "bench/latency_histogram.h"

namespace pchat::bench {

// One issue-5 target: met when value <= limit (or >= limit if at_least).
struct target_check {
  std::string name;
  double value = 0;
  double limit = 0;
  bool at_least = false;
  std::string unit;
  bool met() const { return at_least ? value >= limit : value <= limit; }
};

struct step_row {
  std::string label;
  double offered_posts_per_s = 0;
  double posts_per_s = 0;  // acknowledged
  double deliveries_per_s = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  double ack_p99_ms = 0;
  uint64_t deferred = 0, sip_503 = 0, failed = 0, late = 0, duplicated = 0;
  double server_cpu_pct = 0, bench_cpu_pct = 0;
  // SIP requests the server sent per second during the step (its own counter, from
  // GET /api/v1/status): checks that deliveries really are one INFO each.
  double server_requests_out_per_s = 0;
  bool good = false;
};
// A step_row from a ledger step of `seconds` of posting; `late` is what was still pending.
step_row make_step_row(const step_totals& s, double seconds);

struct bench_report {
  std::string profile;
  std::string command_line;
  std::string build_type;
  std::string machine;  // CPU model, cores, kernel
  std::string route;
  uint64_t clients = 0;  // users signed in
  uint64_t connections = 0;
  uint64_t rooms = 0;

  double posts_per_s = 0;
  double deliveries_per_s = 0;
  latency_histogram latency;  // post → delivery
  latency_histogram ack;      // post → SIP 2xx
  latency_histogram join;     // join (or bjoin) + back-chat
  latency_histogram signin;   // REGISTER → channel ready
  uint64_t posts = 0, deliveries = 0;
  uint64_t lost = 0, duplicated = 0, unexpected = 0, misrouted = 0;
  uint64_t sip_503 = 0;
  uint64_t errors = 0;  // XCCOS errors, other SIP failures, sign-in failures, lost sessions
  uint64_t client_faults = 0;
  std::vector<std::string> error_samples;

  uint64_t server_rss_kb = 0;
  uint64_t server_rss_before_kb = 0;  // before sign-in
  uint64_t server_hwm_kb = 0;
  std::optional<double> rss_kb_per_session;
  double server_cpu_pct = 0;  // during the measured phase, % of one core
  double bench_cpu_pct = 0;
  double measured_seconds = 0;
  std::string load_before, load_after;  // /proc/loadavg

  std::optional<double> sip_ceiling_per_s;
  std::optional<double> ceiling_ratio;
  std::optional<double> rocksdb_ceiling_per_s;

  std::vector<step_row> steps;
  std::vector<target_check> targets;
  nlohmann::json details = nlohmann::json::object();
  std::vector<std::string> notes;
};

nlohmann::json to_json(const bench_report& r);
void print_table(const bench_report& r, std::FILE* out);

}  // namespace pchat::bench
