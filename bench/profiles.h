// pchat-bench's workload profiles (issue 5, item 2) and the ceilings measured in the same
// run (item 4). Each profile builds its population on a load_driver, runs its phases with
// deadlines and fills a bench_report, including the target checks:
//
//   ceiling     100 rooms x 30 members; the post rate rises by --rate-factor per step until
//               delivery p99 passes --p99-limit-ms, a delivery is late or lost, a post gets
//               503 or fails, or fewer than 90 % of the offered posts are acknowledged. The
//               knee is the last good step. Also measures the sofia-sip responder's INFO
//               ceiling and the RocksDB synced-batch ceiling.
//   idle        N sessions signed in, no rooms: (RSS after - RSS before) / N.
//   big-room    one room of N members: time for all to join, then posts at --rate.
//   lync-model  Lync's performance user model (lync-persistent-chat.md §5.2-5.3) scaled to N
//               users: room classes of 30 / 150 / 16,000 members (1 % / 1 % / 50 %
//               auditoriums, where 2 presenters post), 12 + 2 + 2 rooms per user; 22.22 +
//               1.67 + 0.15 posts/s and 10 part-and-rejoin joins/s per 80,000 users.
//   durable     one member per room, closed-loop posting: acknowledged (synced) posts/s.
//   pool        against a pool: delivery latency for receivers on the room owner's node vs
//               others, closed-loop posts/s, CPU and BASP bytes per post (see usage_text()).
//   overload    rooms of 20 posting at --rate, measured without, with and again without bad clients
//               (bench/bad_clients.h: a flooder, a member that stops reading, SIP and HTTP
//               slowloris connections): post->delivery p99 with vs without, server RSS.
//
// Threading: one thread; everything is bounded by run_context::deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "bench/admin_client.h"
#include "bench/bench_options.h"
#include "bench/bench_report.h"

namespace pchat::bench {

struct run_context {
  const bench_options& opt;
  admin_client& admin;
  std::string domain;
  std::string sip_host;
  uint16_t sip_port = 0;
  uint16_t sip_tls_port = 0;  // route tls
  std::string tls_ca_file;    // route tls: <data-dir>/tls.crt unless the server has its own
  uint16_t http_port = 0;     // the admin API's port (overload: HTTP slowloris)
  pid_t server_pid = 0;       // 0 if unknown: no CPU/RSS figures
  // Pool profile: every node of the pool (names n1.., ports, pid 0 if unknown) and etcd's
  // client port (0 if unknown).
  struct pool_member {
    std::string name;
    uint16_t sip_port = 0, http_port = 0, pool_port = 0;
    pid_t pid = 0;
    std::string token;  // its admin token ("" unknown: that node's admin API is not asked)
  };
  std::vector<pool_member> pool;
  uint16_t etcd_port = 0;
  std::string work_dir;  // scratch files (responder output, RocksDB probe)
  std::string run_tag;   // unique per run, used in room and user names
  std::chrono::steady_clock::time_point deadline;  // hard end of the whole run
  std::string category;                            // created on first room
  std::vector<created_room> created;               // every room made, for cleanup

  // Creates `n` rooms named "<run_tag>-<kind>-<i>". False (with `error`) on the first failure.
  bool create_rooms(size_t n, const std::string& kind, std::vector<created_room>& out,
                    std::string& error);
};

// Runs opt.profile. A failure to set up (rooms, sign-in) is reported in notes with the
// figures measured so far; the report is always filled.
bench_report run_profile(run_context& ctx);

}  // namespace pchat::bench
