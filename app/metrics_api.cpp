#include "app/metrics_api.h"

#include <caf/all.hpp>

#include <chrono>

#include "actors/index_feed.h"
#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/node_metrics.h"
#include "actors/server_context.h"
#include "app/node_facts.h"
#include "metrics/process_figures.h"
#include "metrics/text_format.h"
#include "protocol/sip/sip_endpoint.h"
#include "storage/database.h"
#include "text/utc_time.h"

namespace pchat::app {
namespace {

using metrics::family_type;
using metrics::text_writer;

constexpr auto kRunnerTimeout = std::chrono::seconds(2);
constexpr double kMicros = 1e6;

void one(text_writer& w, const char* name, family_type t, const char* help, uint64_t v) {
  w.family(name, t, help);
  w.sample(name, {}, v);
}
void one(text_writer& w, const char* name, family_type t, const char* help, int64_t v) {
  w.family(name, t, help);
  w.sample(name, {}, v);
}
void one(text_writer& w, const char* name, family_type t, const char* help, double v) {
  w.family(name, t, help);
  w.sample(name, {}, v);
}

constexpr auto C = family_type::counter;
constexpr auto G = family_type::gauge;

void write_node(text_writer& w, const node_facts& f) {
  w.family("pchat_build_info", G, "The running build: always 1, its version as a label.");
  w.sample("pchat_build_info", {{"version", f.version}}, uint64_t{1});
  int64_t up = utc::now_micros() - f.started_micros;
  one(w, "pchat_uptime_seconds", G, "Seconds since this pchatd started.", static_cast<double>(up) / kMicros);
}

void write_sip(text_writer& w, const sip::endpoint_stats& s) {
  one(w, "pchat_sip_connections", G, "SIP TCP connections open now.", s.connections);
  one(w, "pchat_sip_dialogs", G, "Chat sessions open now: SIP dialogs with the chat service, one per signed-in client.",
      s.dialogs);
  one(w, "pchat_sip_inflight", G, "Client INFOs received and not answered yet.", s.inflight);
  one(w, "pchat_sip_udp_peers", G, "UDP sources remembered now.", s.udp_peers);
  one(w, "pchat_sip_paused_connections", G, "TCP connections not read now (over an in-flight limit).",
      s.paused_connections);
  one(w, "pchat_sip_requests_received_total", C, "SIP requests received.", s.requests_in);
  one(w, "pchat_sip_responses_received_total", C, "SIP responses received (to our INFOs and BYEs).", s.responses_in);
  one(w, "pchat_sip_requests_sent_total", C, "SIP requests sent (fan-out INFOs, notices).", s.requests_out);
  one(w, "pchat_sip_responses_503_total", C, "SIP 503 answers (overload, a refused store write).", s.responses_503);
  one(w, "pchat_sip_bad_messages_total", C, "SIP messages that could not be parsed or were refused as malformed.",
      s.bad_messages);
  one(w, "pchat_sip_auth_failures_total", C, "SIP Digest sign-ins refused.", s.auth_failures);
  one(w, "pchat_sip_pauses_total", C, "Times a connection was paused at an in-flight limit.", s.pauses);
  one(w, "pchat_sip_slow_readers_closed_total", C, "Connections closed at an output-buffer limit.",
      s.slow_readers_closed);
  one(w, "pchat_sip_connections_refused_total", C, "Connections or UDP peers refused at their limit.",
      s.connections_refused);
  one(w, "pchat_sip_dialogs_refused_total", C, "INVITEs refused at a dialog limit.", s.dialogs_refused);
  one(w, "pchat_sip_stalled_messages_closed_total", C, "Connections closed for a SIP message not finished in time.",
      s.stalled_messages_closed);
  one(w, "pchat_sip_accept_backoffs_total", C, "Times accept() ran out of descriptors or memory.", s.accept_backoffs);
}

void write_posts(text_writer& w, const actors::node_metrics& m) {
  one(w, "pchat_rooms_active", G, "Rooms loaded now (a room actor runs while members are in it or writes are pending).",
      m.rooms_active.value());
  w.family("pchat_posts_total", C,
           "Posts answered by rooms, by outcome: accepted (durable, then 200) or the refusal's reason.");
  for (size_t i = 0; i < m.posts.size(); ++i)
    w.sample("pchat_posts_total", {{"outcome", actors::name_of(static_cast<actors::post_outcome>(i))}},
             m.posts[i].value());
  w.family("pchat_post_commit_seconds", family_type::histogram,
           "A post's wait from its room's write to the commit actor's answer (queue, group commit, fsync).");
  w.histogram("pchat_post_commit_seconds", {}, m.post_commit_us.snapshot(), kMicros);
  one(w, "pchat_commit_batches_total", C, "Group commits made by the commit actor (one synced write each).",
      m.commit_batches.value());
  one(w, "pchat_commit_failures_total", C, "Group commits the store refused (their posts got SIP 503).",
      m.commit_failures.value());
  w.family("pchat_commit_batch_entries", family_type::histogram,
           "Entries (posts, preferences, files, compliance events) per group commit.");
  w.histogram("pchat_commit_batch_entries", {}, m.commit_batch_entries.snapshot());
  w.family("pchat_commit_sync_seconds", family_type::histogram, "Duration of a group commit's synced write.");
  w.histogram("pchat_commit_sync_seconds", {}, m.commit_sync_us.snapshot(), kMicros);
  one(w, "pchat_index_queued_total", C, "Messages noted for the search indexer once durable.", m.index_queued.value());
  one(w, "pchat_index_indexed_total", C, "Messages the search indexer has read from the store and indexed.",
      m.index_done.value());
}

// The indexer's lag (actors/index_feed.h); zeros when the node runs no indexer.
void write_index(text_writer& w, const actors::index_feed* feed) {
  one(w, "pchat_index_backlog_messages", G, "Stored messages the search index does not hold yet (at most).",
      feed ? feed->lag_messages() : uint64_t{0});
  one(w, "pchat_index_lag_seconds", G, "How long the oldest message not yet indexed has waited.",
      feed ? static_cast<double>(feed->lag_age().count()) / 1e6 : 0.0);
}

void write_store(text_writer& w, const storage::database& store) {
  const storage::db& d = store.db();
  one(w, "pchat_store_writable", G, "1 while the store accepts writes; 0 from a failed synced write (a full disk) "
      "until it has resumed.", uint64_t{d.writable() ? 1u : 0u});
  one(w, "pchat_store_synced_writes_total", C, "Synced (fsync'd) RocksDB writes.", store.writer().synced_writes());
  one(w, "pchat_store_batches_written_total", C, "Write batches carried by those writes (merged callers).",
      store.writer().batches_written());
  one(w, "pchat_store_write_stops_total", C, "Times writes stopped after a failed synced write.", d.stop_count());
  one(w, "pchat_store_failed_writes_total", C, "Synced writes that failed or were refused while writes were stopped.",
      d.failed_write_count());
  one(w, "pchat_store_resumes_total", C, "Times writes resumed after a failure.", d.resume_count());
  auto st = d.stalls();
  one(w, "pchat_store_rocksdb_stall_stops_total", C, "RocksDB write stops (flush or compaction behind).", st.stops);
  one(w, "pchat_store_rocksdb_stall_slowdowns_total", C, "RocksDB write slowdowns (flush or compaction behind).",
      st.slowdowns);
  one(w, "pchat_store_rocksdb_write_stopped", G, "1 while RocksDB stops writes to let compaction catch up.",
      uint64_t{st.stopped_now ? 1u : 0u});
  one(w, "pchat_store_rocksdb_delayed_write_rate_bytes", G, "RocksDB's delayed write rate in force, bytes/s (0: none).",
      st.delayed_write_rate);
  one(w, "pchat_store_live_data_bytes", G, "Bytes of the store's table files.", st.live_data_bytes);
}

void write_compliance(text_writer& w, caf::actor_system& sys, const actors::server_context& ctx) {
  one(w, "pchat_compliance_enabled", G, "1 when compliance capture runs on this node.",
      uint64_t{ctx.live->current()->compliance.enabled ? 1u : 0u});
  if (!ctx.compliance_runner || !ctx.live->current()->compliance.enabled) return;
  caf::scoped_actor self{sys};
  self->request(ctx.compliance_runner, kRunnerTimeout, actors::cstatus_atom::value)
      .receive(
          [&](actors::compliance_status& s) {
            one(w, "pchat_compliance_queue_depth", G, "Compliance events staged and not yet delivered.", s.queue_depth);
            one(w, "pchat_compliance_events_delivered_total", C, "Compliance events delivered since the store was created.",
                s.events_delivered);
            one(w, "pchat_compliance_batches_delivered_total", C, "Compliance output batches delivered since the store was created.",
                s.batches_delivered);
            one(w, "pchat_compliance_consecutive_failures", G, "Failed delivery attempts since the last success.",
                s.consecutive_failures);
            one(w, "pchat_compliance_last_success_timestamp_seconds", G,
                "When events were last delivered (Unix seconds; 0: not since start).",
                static_cast<double>(s.last_success_micros) / kMicros);
          },
          [&](caf::error&) {});  // not answering in time: its figures are left out of this scrape
}

// Pool figures (docs/POOL.md "Status and metrics"): the membership actor's view, asked
// once per scrape; nothing for a standalone node.
void write_pool(text_writer& w, caf::actor_system& sys, const actors::server_context& ctx) {
  if (!ctx.pool_actor) return;
  const actors::node_metrics& m = *ctx.metrics;
  one(w, "pchat_pool_shipped_total", C, "Posts this node's rooms shipped to their followers (replication).",
      m.pool_shipped.value());
  one(w, "pchat_pool_follower_failures_total", C,
      "Followers of this node's rooms that failed (error, timeout, node gone); posts wait for the next.",
      m.pool_follower_failures.value());
  one(w, "pchat_pool_followers_caught_up_total", C,
      "Followers this node's rooms caught up (a log copy) before acknowledging through them.",
      m.pool_followers_caught_up.value());
  caf::scoped_actor self{sys};
  self->request(ctx.pool_actor, kRunnerTimeout, actors::pool_status_atom::value)
      .receive(
          [&](actors::pool_status& s) {
            uint64_t live = 0;
            for (auto& n : s.nodes) live += n.live ? 1 : 0;
            one(w, "pchat_pool_serving", G, "1 while this node holds a fresh etcd lease and serves its rooms.",
                uint64_t{s.serving ? 1u : 0u});
            one(w, "pchat_pool_nodes_live", G, "Nodes of the pool live in this node's view (itself included).", live);
            one(w, "pchat_pool_rooms_owned", G, "Rooms whose claim this node holds now.",
                static_cast<uint64_t>(s.rooms.size()));
            one(w, "pchat_pool_view_version", G, "Version of this node's view of the pool (grows on every change).",
                s.view_version);
          },
          [&](caf::error&) {});  // not answering in time: its figures are left out of this scrape
}

void write_http(text_writer& w, const web::http_server* http) {
  if (http == nullptr) return;
  auto s = http->stats();
  one(w, "pchat_http_connections", G, "HTTP connections open now.", s.connections);
  w.family("pchat_http_responses_total", C, "HTTP responses sent, by status code.");
  for (auto& [code, n] : s.responses) w.sample("pchat_http_responses_total", {{"code", std::to_string(code)}}, n);
}

void write_process(text_writer& w) {
  auto p = metrics::read_process_figures();
  if (!p.ok) return;
  one(w, "process_cpu_seconds_total", C, "User and system CPU time spent, seconds.", p.cpu_seconds);
  one(w, "process_resident_memory_bytes", G, "Resident memory size, bytes.", p.resident_bytes);
  one(w, "process_virtual_memory_bytes", G, "Virtual memory size, bytes.", p.virtual_bytes);
  one(w, "process_open_fds", G, "Open file descriptors.", p.open_fds);
  one(w, "process_max_fds", G, "The open file descriptor limit.", p.max_fds);
  one(w, "process_start_time_seconds", G, "Start time of the process since the Unix epoch, seconds.",
      p.start_time_seconds);
  one(w, "process_threads", G, "Threads of the process.", p.threads);
}

}  // namespace

web::http_handler make_metrics_api(caf::actor_system& sys, std::shared_ptr<const actors::server_context> ctx,
                                   const sip::endpoint* edge, std::shared_ptr<const node_facts> facts,
                                   std::string admin_token, web::http_handler next) {
  auto scrape = [&sys, ctx = std::move(ctx), edge, facts = std::move(facts)](const web::http_request& req) {
    if (req.method != "GET")
      return web::http_response{405, "application/json", "{\"error\": \"/metrics takes GET\"}\n", {"Allow: GET"},
                                nullptr};
    text_writer w;
    write_node(w, *facts);
    write_sip(w, edge->stats());
    write_posts(w, *ctx->metrics);
    write_index(w, ctx->index.get());
    write_store(w, *ctx->store);
    write_compliance(w, sys, *ctx);
    write_pool(w, sys, *ctx);
    write_http(w, facts->http);
    write_process(w);
    return web::http_response{200, metrics::kTextContentType, w.take(), {}, nullptr};
  };
  auto guarded = web::loopback_or_bearer_token(std::move(admin_token), "/metrics", std::move(scrape));
  return [guarded = std::move(guarded), next = std::move(next)](const web::http_request& req) {
    return req.path == "/metrics" ? guarded(req) : next(req);
  };
}

}  // namespace pchat::app
