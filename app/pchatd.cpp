// pchatd: one pchat server node.
//
//   pchatd [--data-dir=DIR] [--domain=D] [--host=IP] [--sip-port=N] [--http-port=N]
//          [--log-level=debug|info|warn|error] [--config-file=pchatd.ini] [--check-config]
//          [--restore-from=BACKUP-DIR]
//          [--compliance-enabled=true|false] [--compliance-adapter=xml|csv]
//          [--compliance-output-dir=DIR] [--compliance-run-interval=SECONDS]
//          [--compliance-test-run-interval-ms=MS] [--index-test-step-delay-ms=MS] [--sip-max-connections=N ...]  (SIP limits: README)
//          [--http-max-connections=N] [--http-idle-timeout-ms=MS] [--http-head-timeout-ms=MS]
//          [--http-body-timeout-ms=MS] [--http-body-min-rate=BYTES] [--http-write-timeout-ms=MS]
//          [--http-handler-threads=N] [--http-handler-queue=N] [--http-queue-timeout-ms=MS]
//          [--max-prefs-per-user=N] [--max-pref-bytes-per-user=BYTES] [--max-upload-bytes-per-user=BYTES]
//          [--etcd=URL[,URL...] --node-name=NAME [--pool-host=IP] [--pool-port=N] [--pool-name=NAME]]
//
// --etcd turns the pool on (docs/POOL.md): this node registers in etcd, listens for the
// other nodes on --pool-host:--pool-port (BASP, heartbeats on) and prints `pool-port=N`
// with its other ports. Without --etcd pchatd is standalone: no pool port, no etcd, and the
// other pool options are refused.
//
// The --http-* options are the HTTP server's limits (web/http_server.h http_limits has the
// defaults and what each protects; docs/SECURITY.md lists them).
//
// Compliance settings come from the store (pchatctl compliance set, applied at once); a
// --compliance-* option given here (or in the config file) overrides the stored value for
// this run. What is in force, and where each value comes from: app/effective_config.h.
// --compliance-run-interval keeps the reference range (60 s .. 30 days);
// --compliance-test-run-interval-ms is for tests only: any interval, also below a minute.
// --index-test-step-delay-ms is for tests only: the search indexer pauses this long between
// two steps of kIndexStepMessages (a backlog without a flood of posts).
//
// Port 0 picks a free port; the ports in use are printed on stdout as `sip-port=N` and
// `http-port=N` once the node accepts connections. The same options can be set in an
// INI file ([global] section, strings in double quotes), read with --config-file.
// On first start (an empty store) a demo category and room are created, unless
// --demo-content=false (a production node, or one about to receive an archive import): then
// no demo users either.
// Every option is checked before anything is printed, created or started (exit 2 names it);
// --check-config checks the options and that the folders can be written, then exits 0 or 2
// without opening the store (safe while the node runs: the service's ExecStartPre).
// --restore-from=D restores the backup in D (pchatctl backup, storage/backup.h) into
// --data-dir, which must be missing or empty, checking every file against the manifest and
// the restored store's checksums, then exits (0 restored; 1 refused, with the reason) without
// starting the node: start it again without --restore-from (docs/ADMIN.md).
// SIGINT/SIGTERM stop the node cleanly. SIGHUP reloads: the command line and config file are
// read again and checked; the log level and the --compliance-* options apply at once, every
// other changed option is logged as needing a restart; then the reload hooks run
// (app/reload_hooks.h: TLS certificates, ...). A refused reload changes nothing; no
// connection is dropped.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "actors/compliance_runner_actor.h"
#include "actors/directory_log.h"
#include "actors/identity_registry.h"
#include "actors/live_settings.h"
#include "actors/messages.h"
#include "actors/server_context.h"
#include "actors/server_node.h"
#include "actors/web_edge.h"
#include "app/admin_api.h"
#include "app/admin_identity.h"
#include "app/admin_pool.h"
#include "app/admin_archive.h"
#include "app/admin_search.h"
#include "app/effective_config.h"
#include "app/reload_hooks.h"
#include "app/backup_api.h"
#include "app/file_api.h"
#include "app/health_api.h"
#include "app/metrics_api.h"
#include "app/node_facts.h"
#include "app/text_guard.h"
#include "app/room_management_api.h"
#include "app/web_client_api.h"
#include "app/web_rooms_api.h"
#include "app/web_search_api.h"
#include "app/web_sign_ins.h"
#include "app/user_auth.h"
#include "compliance/adapter.h"
#include "log/log.h"
#include "pool/etcd_client.h"
#include "pool/pool_keys.h"
#include "pool/pool_settings.h"
#include "protocol/sip/sip_digest.h"
#include "protocol/sip/sign_in_throttle.h"
#include "protocol/sip/sip_endpoint.h"
#include "storage/backup.h"
#include "storage/database.h"
#include "text/comma_list.h"
#include "text/utc_time.h"
#include "tls/certificate.h"
#include "tls/peer_policy.h"
#include "tls/server_tls.h"
#include "web/http_server.h"

namespace {

struct pchatd_config : caf::actor_system_config {
  std::string data_dir = "data";
  std::string domain = "example.com";
  std::string host = "127.0.0.1";
  std::string sip_host;   // "" = --host
  std::string http_host;  // "" = --host
  size_t sip_port = 5041;
  int sip_tls_port = -1;  // -1 = 5061, or 0 (a free port) when --sip-port=0
  std::string tls_cert, tls_key;  // "" = <data-dir>/tls.crt, tls.key (self-signed on first start)
  std::string plain = "loopback";
  std::string trusted_peer;       // comma-separated; the flag may be repeated (merged in main)
  std::string admin_remote = "false";
  std::string test_remote_addresses;  // tests only
  size_t http_port = 8011;
  std::string log_level = "warn";
  std::string auth = "digest";
  std::string site;
  std::string compliance_enabled;     // "" = as stored
  std::string compliance_adapter;     // "" = as stored
  std::string compliance_output_dir;  // "" = as stored
  size_t compliance_run_interval = 0;          // seconds; 0 = as stored
  size_t compliance_test_run_interval_ms = 0;  // tests only; 0 = unused
  size_t index_test_step_delay_ms = 0;         // tests only; 0 = none
  bool check_config = false;          // --check-config: check the options and folders, then exit
  std::string restore_from;           // --restore-from: restore this backup into --data-dir, then exit
  std::string demo_content = "true";  // "false": start empty (to import an archive, docs/ARCHIVE.md)
  pchat::sip::endpoint_limits sip;     // SIP edge limits (defaults in sip_endpoint.h, README)
  pchat::web::http_limits http;       // --http-*: the HTTP server's limits
  size_t http_idle_ms = 0, http_head_ms = 0, http_body_ms = 0, http_write_ms = 0, http_queue_ms = 0;  // 0 = default
  // Per-user quotas (actors/server_context.h has the defaults and what they protect).
  size_t max_prefs_per_user = 100, max_pref_bytes_per_user = 1 << 20;
  size_t max_upload_bytes_per_user = size_t{1} << 30;
  // The pool (docs/POOL.md); all empty/default = standalone.
  std::string etcd;                   // --etcd=URL[,URL...]
  std::string node_name;
  std::string pool_host = "127.0.0.1";
  size_t pool_port = 0;               // 0 = pick a free one (printed as pool-port=N)
  std::string pool_name = "pchat";

  pchatd_config() {
    opt_group{custom_options_, "global"}
        .add(data_dir, "data-dir", "folder of the Persistent Chat Store")
        .add(domain, "domain", "SIP domain served (chat URI sip:chat@DOMAIN)")
        .add(host, "host", "address to bind SIP and HTTP on (loopback by default)")
        .add(sip_host, "sip-host", "address to bind SIP on (default: --host)")
        .add(http_host, "http-host", "address to bind HTTP/HTTPS on (default: --host)")
        .add(sip_port, "sip-port", "SIP port, TCP and UDP (0 = pick a free one)")
        .add(sip_tls_port, "sip-tls-port", "SIP over TLS port (default 5061; 0 = a free one, the default with --sip-port=0)")
        .add(tls_cert, "tls-cert", "PEM certificate chain for SIP TLS and HTTPS (default: <data-dir>/tls.crt, self-signed)")
        .add(tls_key, "tls-key", "PEM private key of --tls-cert")
        .add(plain, "plain", "where unencrypted SIP/HTTP is accepted: loopback (default), off or on")
        .add(trusted_peer, "trusted-peer",
             "a front end that may assert users without Digest: certificate SHA-256 fingerprint or IP address (repeatable)")
        .add(admin_remote, "admin-remote", "false (default): the admin API answers loopback clients only; true: any")
        .add(test_remote_addresses, "test-remote-addresses",
             "TESTS ONLY: loopback addresses treated as remote (comma-separated)")
        .add(http_port, "http-port", "admin HTTP port (0 = pick a free one)")
        .add(log_level, "log-level", "debug, info, warn or error")
        .add(site, "site", "site of this node: its site:NAME configuration applies if it exists")
        .add(auth, "auth", "digest (default): SIP Digest against the user directory; none: trust "
                           "the From header (tests only)")
        .add(compliance_enabled, "compliance-enabled", "true or false (overrides the store)")
        .add(compliance_adapter, "compliance-adapter", "xml or csv (overrides the store)")
        .add(compliance_output_dir, "compliance-output-dir", "AdapterOutputDirectory")
        .add(compliance_run_interval, "compliance-run-interval", "RunInterval, seconds (60..2592000)")
        .add(compliance_test_run_interval_ms, "compliance-test-run-interval-ms",
             "TESTS ONLY: RunInterval in ms, no minimum")
        .add(index_test_step_delay_ms, "index-test-step-delay-ms",
             "TESTS ONLY: pause of the search indexer between two steps (builds a backlog)")
        .add(check_config, "check-config", "check the options, config file and folders, print the result and exit")
        .add(restore_from, "restore-from",
             "restore the backup in this folder (pchatctl backup) into the empty --data-dir, then exit")
        .add(demo_content, "demo-content", "true (default) or false: create a demo category, room and users on first start")
        .add(sip.max_tcp_connections, "sip-max-connections", "TCP connections at once (default 10000)")
        .add(sip.max_udp_peers, "sip-max-udp-peers", "UDP sources remembered at once (default 10000)")
        .add(sip.udp_peer_idle_timeout_s, "sip-udp-peer-idle-timeout", "seconds a UDP source without dialog is remembered (60)")
        .add(sip.max_dialogs_per_connection, "sip-max-dialogs-per-connection", "dialogs on one connection (20000: a trunk)")
        .add(sip.max_dialogs_per_user, "sip-max-dialogs-per-user", "dialogs of one user over all connections (16)")
        .add(sip.max_inflight, "sip-max-inflight", "INFOs awaiting an answer, whole server (50000)")
        .add(sip.max_inflight_per_connection, "sip-max-inflight-per-connection", "INFOs awaiting an answer per connection (1024)")
        .add(sip.max_inflight_per_user, "sip-max-inflight-per-user", "INFOs awaiting an answer per user (64)")
        .add(sip.user_requests_per_second, "sip-user-requests-per-second", "INFOs per second per user, sustained (50; 0 = no limit)")
        .add(sip.user_request_burst, "sip-user-request-burst", "INFOs a user may send at once before the rate applies (200)")
        .add(sip.user_bytes_per_second, "sip-user-bytes-per-second", "INFO body bytes per second per user, sustained (65536; 0 = no limit)")
        .add(sip.user_bytes_burst, "sip-user-bytes-burst", "INFO body bytes a user may send at once (1048576)")
        .add(sip.output_soft_bytes, "sip-output-soft-limit", "bytes queued for a client before the soft timer starts (4 MiB)")
        .add(sip.output_soft_seconds, "sip-output-soft-seconds", "seconds a client may stay above the soft limit (10)")
        .add(sip.output_hard_bytes, "sip-output-hard-limit", "bytes queued for a client that close it at once (16 MiB)")
        .add(sip.trunk_output_soft_bytes, "sip-trunk-output-soft-limit", "soft limit of a trunk (several users; 64 MiB)")
        .add(sip.trunk_output_soft_seconds, "sip-trunk-output-soft-seconds", "seconds a trunk may stay above its soft limit (60)")
        .add(sip.trunk_output_hard_bytes, "sip-trunk-output-hard-limit", "hard limit of a trunk (256 MiB)")
        .add(sip.message_timeout_s, "sip-message-timeout", "seconds to finish a SIP message once begun (30)")
        .add(sip.idle_timeout_s, "sip-idle-timeout", "seconds without bytes that close a connection (660)")
        .add(http.max_connections, "http-max-connections", "open HTTP connections; beyond, 503 and closed")
        .add(http_idle_ms, "http-idle-timeout-ms", "HTTP: wait for a request's first byte (keep-alive)")
        .add(http_head_ms, "http-head-timeout-ms", "HTTP: first byte to the end of the request head")
        .add(http_body_ms, "http-body-timeout-ms", "HTTP: request body deadline, before the rate allowance")
        .add(http.body_min_rate, "http-body-min-rate", "HTTP: bytes/s of body that extend its deadline by 1 s")
        .add(http_write_ms, "http-write-timeout-ms", "HTTP: per 64 KiB of response taken by the client")
        .add(http.handler_threads, "http-handler-threads", "HTTP: threads that run request handlers")
        .add(http.handler_queue, "http-handler-queue", "HTTP: requests waiting for a handler thread (503 beyond)")
        .add(http_queue_ms, "http-queue-timeout-ms", "HTTP: a request waiting longer for a handler thread gets 503")
        .add(max_prefs_per_user, "max-prefs-per-user", "preferences (cmd:setpref labels) one user may store (100)")
        .add(max_pref_bytes_per_user, "max-pref-bytes-per-user", "bytes of preferences one user may store (1 MiB)")
        .add(max_upload_bytes_per_user, "max-upload-bytes-per-user", "bytes of uploaded files one user may have (1 GiB)")
        .add(etcd, "etcd", "etcd endpoints http://HOST:PORT[,...]: run as a node of a pool (docs/POOL.md)")
        .add(node_name, "node-name", "this node's stable name in the pool (required with --etcd)")
        .add(pool_host, "pool-host", "address other pool nodes connect to (default 127.0.0.1)")
        .add(pool_port, "pool-port", "pool (BASP) port (0 = pick a free one)")
        .add(pool_name, "pool-name", "the pool's etcd key prefix (default pchat)");
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
  }

  // Every option of pchatd's own (not CAF's) with its value as text, in declaration order:
  // what a SIGHUP compares.
  std::vector<std::pair<std::string, std::string>> values() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& opt : custom_options_) {
      auto v = opt.get();
      caf::string_view name = opt.long_name();
      out.emplace_back(std::string(name.data(), name.size()), v ? caf::to_string(*v) : std::string());
    }
    return out;
  }
};

// The options SIGHUP applies without a restart (the rest are compared and logged).
bool reloadable(const std::string& option) {
  return option == "log-level" || option.rfind("compliance-", 0) == 0;
}

// True when --NAME or --NAME=... is on the command line (else a set value came from the
// config file).
bool on_command_line(int argc, char** argv, const std::string& name) {
  std::string flag = "--" + name;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == flag || a.rfind(flag + "=", 0) == 0) return true;
  }
  return false;
}

// Every connection is a descriptor: take the whole hard limit (Debian's soft default of 1024
// would stop pchatd at about a thousand clients), and say so when the SIP connection limit
// cannot be reached with it. Returns the soft limit now in force (0 if unknown).
rlim_t raise_open_files_limit(size_t sip_max_connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  // The store, the search index, HTTP and the files in flight need descriptors too.
  constexpr rlim_t kReserve = 256;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < sip_max_connections + kReserve)
    pchat::log::write(pchat::log::level::warn, "pchatd", "open files limit below the SIP connection limit",
                      "nofile=" + std::to_string(rl.rlim_cur) + " sip_max_connections=" +
                          std::to_string(sip_max_connections) + " action=" +
                          pchat::log::quote("raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower "
                                            "--sip-max-connections; accepting pauses when descriptors run out"));
  return rl.rlim_cur;
}

// What is wrong with the SIP limits (named as the option without "--sip-"), or "".
std::string check_sip_limits(const pchat::sip::endpoint_limits& l) {
  for (auto [v, name] : {std::pair{l.max_tcp_connections, "max-connections"}, {l.max_udp_peers, "max-udp-peers"},
                         {l.max_dialogs_per_connection, "max-dialogs-per-connection"},
                         {l.max_dialogs_per_user, "max-dialogs-per-user"}, {l.max_inflight, "max-inflight"},
                         {l.max_inflight_per_connection, "max-inflight-per-connection"},
                         {l.max_inflight_per_user, "max-inflight-per-user"}, {l.output_soft_bytes, "output-soft-limit"},
                         {l.output_hard_bytes, "output-hard-limit"}, {l.trunk_output_soft_bytes, "trunk-output-soft-limit"},
                         {l.trunk_output_hard_bytes, "trunk-output-hard-limit"}})
    if (v == 0) return std::string(name) + " must be at least 1";
  for (auto [v, name] : {std::pair{l.udp_peer_idle_timeout_s, "udp-peer-idle-timeout"},
                         {l.output_soft_seconds, "output-soft-seconds"},
                         {l.trunk_output_soft_seconds, "trunk-output-soft-seconds"},
                         {l.message_timeout_s, "message-timeout"}, {l.idle_timeout_s, "idle-timeout"}})
    if (v < 1 || v > 86400) return std::string(name) + " must be 1..86400 seconds";
  if (l.user_requests_per_second < 0) return "user-requests-per-second must be 0 (no limit) or more";
  if (l.user_request_burst < 1) return "user-request-burst must be at least 1";
  if (l.user_bytes_per_second < 0) return "user-bytes-per-second must be 0 (no limit) or more";
  if (l.user_bytes_burst < 1) return "user-bytes-burst must be at least 1";
  return {};
}

// The --compliance-* options as overrides of the stored settings, each with its source: on
// the command line ("flag"), else from the config file.
pchat::app::config_overrides overrides_of(const pchatd_config& cfg, int argc, char** argv) {
  pchat::app::config_overrides o;
  auto note = [&](const char* setting, const char* option) {
    o.sources[setting] = on_command_line(argc, argv, option) ? pchat::actors::kSourceFlag
                                                             : pchat::actors::kSourceConfigFile;
  };
  if (!cfg.compliance_enabled.empty()) {
    o.enabled = cfg.compliance_enabled == "true";
    note("enabled", "compliance-enabled");
  }
  if (!cfg.compliance_adapter.empty()) {
    o.adapter_type = cfg.compliance_adapter;
    note("adapter_type", "compliance-adapter");
  }
  if (!cfg.compliance_output_dir.empty()) {
    o.output_directory = cfg.compliance_output_dir;
    note("output_directory", "compliance-output-dir");
  }
  if (cfg.compliance_run_interval != 0) {
    o.run_interval_seconds = static_cast<int>(std::min<size_t>(cfg.compliance_run_interval, INT32_MAX));
    note("run_interval_seconds", "compliance-run-interval");
  }
  if (cfg.compliance_test_run_interval_ms != 0) {
    o.test_run_interval = std::chrono::milliseconds(
        static_cast<int64_t>(std::min<size_t>(cfg.compliance_test_run_interval_ms, INT32_MAX)));
    note("run_interval_ms", "compliance-test-run-interval-ms");
  }
  return o;
}

// The pool options as settings (*out), or what is wrong with them. Without --etcd the node
// is standalone (*in_pool false) and no other pool option may be given: a lone
// --node-name is a pool that was meant and would silently not be.
std::string pool_options(const pchatd_config& cfg, bool* in_pool, pchat::pool::pool_settings* out) {
  *in_pool = !cfg.etcd.empty();
  if (!*in_pool) {
    if (!cfg.node_name.empty() || cfg.pool_host != "127.0.0.1" || cfg.pool_port != 0 || cfg.pool_name != "pchat")
      return "--node-name, --pool-host, --pool-port and --pool-name need --etcd (the pool's etcd endpoints)";
    return {};
  }
  if (cfg.pool_port > 65535) return "--pool-port must be 0..65535";
  out->etcd = cfg.etcd;
  out->node_name = cfg.node_name;
  out->host = cfg.pool_host;
  out->port = static_cast<uint16_t>(cfg.pool_port);
  out->pool_name = cfg.pool_name;
  if (auto s = pchat::pool::check(*out); !s.is_ok()) return s.reason();
  return {};
}

// --plain, --trusted-peer and --test-remote-addresses as the peer policy, or what is wrong.
std::string peer_options(const pchatd_config& cfg, pchat::tls::peer_policy* out) {
  if (auto s = pchat::tls::peer_policy::parse_plain(cfg.plain, &out->plain); !s.is_ok()) return s.reason();
  for (const auto& p : pchat::text::comma_list(cfg.trusted_peer))
    if (auto s = out->add_trusted_peer(p); !s.is_ok()) return s.reason();
  out->remote_for_tests = pchat::text::comma_list(cfg.test_remote_addresses);
  return {};
}

// What is wrong with the command line and config file, or "". Needs nothing but `cfg`:
// it runs before the store is opened or anything is printed.
std::string check_options(const pchatd_config& cfg, int argc, char** argv) {
  if (!pchat::log::parse_level(cfg.log_level)) return "--log-level must be debug, info, warn, error or off";
  if (cfg.demo_content != "true" && cfg.demo_content != "false") return "--demo-content must be true or false";
  if (cfg.auth != "digest" && cfg.auth != "none") return "--auth must be digest or none";
  if (cfg.sip_port > 65535 || cfg.http_port > 65535) return "ports must be 0..65535";
  if (cfg.sip_tls_port < -1 || cfg.sip_tls_port > 65535) return "--sip-tls-port must be 0..65535";
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) return "--tls-cert and --tls-key go together";
  if (cfg.admin_remote != "true" && cfg.admin_remote != "false") return "--admin-remote must be true or false";
  pchat::tls::peer_policy peers;
  if (auto bad = peer_options(cfg, &peers); !bad.empty()) return bad;
  if (cfg.data_dir.empty()) return "--data-dir must not be empty";
  if (cfg.index_test_step_delay_ms > 60'000) return "--index-test-step-delay-ms must be 0..60000";
  if (cfg.domain.empty()) return "--domain must not be empty";
  if (auto bad = check_sip_limits(cfg.sip); !bad.empty()) return "--sip-" + bad;
  if (cfg.http.max_connections == 0 || cfg.http.handler_threads == 0 || cfg.http.handler_queue == 0 ||
      cfg.http.body_min_rate == 0)
    return "--http-max-connections, --http-handler-threads, --http-handler-queue and "
           "--http-body-min-rate must be at least 1";
  if (!cfg.compliance_enabled.empty() && cfg.compliance_enabled != "true" && cfg.compliance_enabled != "false")
    return "--compliance-enabled must be true or false";
  // The overrides alone, over the defaults: the stored settings are checked when written.
  pchat::storage::compliance_config c;
  std::map<std::string, std::string> sources;
  if (auto s = pchat::app::overlay(overrides_of(cfg, argc, argv), &c, &sources); !s.is_ok()) return s.reason();
  bool in_pool = false;
  pchat::pool::pool_settings pool;
  if (auto bad = pool_options(cfg, &in_pool, &pool); !bad.empty()) return bad;
  return {};
}

const std::string& sip_host(const pchatd_config& cfg) { return cfg.sip_host.empty() ? cfg.host : cfg.sip_host; }
const std::string& http_host(const pchatd_config& cfg) { return cfg.http_host.empty() ? cfg.host : cfg.http_host; }
uint16_t sip_tls_port(const pchatd_config& cfg) {
  if (cfg.sip_tls_port >= 0) return static_cast<uint16_t>(cfg.sip_tls_port);
  return cfg.sip_port == 0 ? 0 : 5061;  // tests and tools that ask for free ports get one here too
}

// --check-config: can this node use its folders? (Run before a restart, while the node may
// be running, so the store itself is not opened: its lock is held.)
std::string check_folders(const pchatd_config& cfg) {
  std::vector<std::string> dirs{cfg.data_dir};
  if (!cfg.compliance_output_dir.empty()) dirs.push_back(cfg.compliance_output_dir);
  for (const auto& d : dirs)
    if (auto bad = pchat::app::folder_problem(d); !bad.empty()) return bad;
  return {};
}

// --restore-from: the backup into the empty data folder (storage/backup.h), then exit.
int restore(const pchatd_config& cfg) {
  pchat::storage::backup_totals t;
  if (auto s = pchat::storage::restore_backup(cfg.restore_from, cfg.data_dir, &t); !s.is_ok()) {
    std::cerr << "pchatd: cannot restore " << cfg.restore_from << " into " << cfg.data_dir << ": " << s.reason()
              << "\n";
    return 1;
  }
  std::printf("pchatd: restored the backup of %s (%llu store files, %llu bytes; %llu uploaded files, %llu bytes) "
              "into %s\npchatd: start pchatd --data-dir=%s; the search index is rebuilt at its first start\n",
              pchat::utc::json_timestamp(t.created_micros).c_str(), static_cast<unsigned long long>(t.store_files),
              static_cast<unsigned long long>(t.store_bytes), static_cast<unsigned long long>(t.blobs),
              static_cast<unsigned long long>(t.blob_bytes), cfg.data_dir.c_str(), cfg.data_dir.c_str());
  return 0;
}

// SIGHUP, on the main thread: the command line and config file read again and checked as
// at a start (nothing changes when they are refused), the reloadable options applied
// (log level; --compliance-* through the effective configuration, which validates the
// result before publishing it), every other changed option named as needing a restart,
// then the reload hooks. Connections are not touched.
void reload_on_sighup(pchatd_config& running, int argc, char** argv, pchat::app::effective_config& config,
                      const pchat::storage::database& store, const pchat::app::reload_hooks& hooks) {
  using pchat::log::level;
  pchatd_config fresh;
  pchat::actors::add_message_types(fresh);
  fresh.load<caf::io::middleman>();
  std::string bad;
  if (auto err = fresh.parse(argc, argv)) bad = "bad command line or config file: " + caf::to_string(err);
  else bad = check_options(fresh, argc, argv);
  std::string changed, restart;
  if (bad.empty()) {
    auto before = running.values(), after = fresh.values();
    for (size_t i = 0; i < before.size() && i < after.size(); ++i) {
      if (before[i].second == after[i].second) continue;
      std::string& list = reloadable(before[i].first) ? changed : restart;
      list += (list.empty() ? "" : ",") + before[i].first;
    }
    if (auto s = config.set_overrides(store, overrides_of(fresh, argc, argv)); !s.is_ok()) bad = s.reason();
  }
  if (!bad.empty()) {
    pchat::log::write(level::error, "pchatd", "reload refused; the settings in force are unchanged",
                      "error=" + pchat::log::quote(bad) +
                          " action=" + pchat::log::quote("correct the config file or command line and send SIGHUP again"));
  } else {
    pchat::log::set_level(fresh.log_level);
    running.log_level = fresh.log_level;
    running.compliance_enabled = fresh.compliance_enabled;
    running.compliance_adapter = fresh.compliance_adapter;
    running.compliance_output_dir = fresh.compliance_output_dir;
    running.compliance_run_interval = fresh.compliance_run_interval;
    running.compliance_test_run_interval_ms = fresh.compliance_test_run_interval_ms;
    // A change that did not apply is a warning (quiet logs show it); the rest is info.
    pchat::log::write(restart.empty() ? level::info : level::warn, "pchatd", "configuration reloaded",
                      "applied=" + pchat::log::quote(changed) + " needs_restart=" + pchat::log::quote(restart) +
                          (restart.empty() ? std::string()
                                           : " action=" + pchat::log::quote("restart pchatd to apply " + restart)));
  }
  hooks.run();
}

int fail(const std::string& what, const std::string& action) {
  pchat::log::write(pchat::log::level::error, "pchatd", what, "action=" + pchat::log::quote(action));
  return 1;
}

// Said at start and every hour while it holds (a node left in test mode must not go unseen).
void warn_auth_none() {
  pchat::log::write(pchat::log::level::warn, "pchatd",
                    "authentication is off (--auth=none): identities come from the From header",
                    "action=" + pchat::log::quote("use only for tests; the default is --auth=digest; front ends: "
                                                  "--trusted-peer"));
}

// SIGHUP: the certificate files are read again; new connections get the new certificate,
// open ones keep theirs. A file that does not load leaves the old certificate in service.
// Registered as the reload hook "tls-certificate" (app/reload_hooks.h): the one TLS step.
pchat::status reload_tls(pchat::tls::server_tls& identity) {
  pchat::status s = identity.reload();
  if (!s.is_ok())
    pchat::log::write(pchat::log::level::error, "pchatd", "TLS certificate not reloaded, the old one stays",
                      "error=" + pchat::log::quote(s.reason()) + " action=" +
                          pchat::log::quote("fix the files and send SIGHUP again"));
  else
    pchat::log::write(pchat::log::level::warn, "pchatd", "TLS certificate reloaded",
                      "cert=" + pchat::log::quote(identity.cert_path()) + " sha256=" + identity.fingerprint());
  return s;
}

// The TLS identity: --tls-cert/--tls-key, or the data folder's self-signed one, made on the
// first start (key 0600, like the admin token) so that a fresh node serves TLS with no
// set-up. Returns what failed, or "".
// The certificate and key files in force: --tls-cert/--tls-key, else the data folder's.
// *self_signed_missing: neither data-folder file exists yet (a first start makes them).
// Returns what is wrong with the pair, or "".
std::string tls_identity_files(const pchatd_config& cfg, std::string* cert, std::string* key,
                               bool* self_signed_missing) {
  *cert = cfg.tls_cert;
  *key = cfg.tls_key;
  *self_signed_missing = false;
  if (!cert->empty()) return {};
  *cert = cfg.data_dir + "/tls.crt";
  *key = cfg.data_dir + "/tls.key";
  bool have_cert = ::access(cert->c_str(), F_OK) == 0, have_key = ::access(key->c_str(), F_OK) == 0;
  if (have_cert != have_key)
    return (have_cert ? *key : *cert) + " is missing while " + (have_cert ? *cert : *key) +
           " exists: restore it, or delete both to have a new self-signed certificate made";
  *self_signed_missing = !have_cert;
  return {};
}

// --check-config: the certificate and key in force load and belong together (the data
// folder's self-signed pair too); nothing is created. Returns the error, or "" with
// *verdict saying what was found.
std::string check_tls_identity(const pchatd_config& cfg, std::string* verdict) {
  std::string cert, key;
  bool missing = false;
  if (auto bad = tls_identity_files(cfg, &cert, &key, &missing); !bad.empty()) return bad;
  if (missing) {
    *verdict = "tls=self-signed-at-first-start";
    return {};
  }
  std::shared_ptr<pchat::tls::server_tls> t;
  if (auto s = pchat::tls::server_tls::load(cert, key, false, &t); !s.is_ok())
    return "TLS certificate " + cert + " with key " + key + ": " + s.reason() +
           (cfg.tls_cert.empty() ? " (the data folder's self-signed pair: restore both files, or delete both to "
                                   "have a new one made)"
                                 : " (give a PEM certificate chain and its own private key)");
  *verdict = "tls-sha256=" + t->fingerprint();
  return {};
}

std::string load_tls_identity(const pchatd_config& cfg, bool client_certs, std::shared_ptr<pchat::tls::server_tls>* out) {
  std::string cert, key;
  bool missing = false;
  if (auto bad = tls_identity_files(cfg, &cert, &key, &missing); !bad.empty()) return bad;
  if (missing) {
    if (auto s = pchat::tls::create_self_signed(cert, key, cfg.domain); !s.is_ok())
      return "cannot create a self-signed certificate: " + s.reason();
    pchat::log::write(pchat::log::level::warn, "pchatd", "created a self-signed TLS certificate",
                      "cert=" + pchat::log::quote(cert) + " domain=" + cfg.domain + " action=" +
                          pchat::log::quote("clients must accept or install it (README 'TLS'); give --tls-cert/--tls-key for a CA-signed one"));
  }
  if (auto s = pchat::tls::server_tls::load(cert, key, client_certs, out); !s.is_ok()) return s.reason();
  return {};
}

// The admin API's bearer token lives in the data folder, readable only by its owner: whoever
// can read the store may administer it, nobody else. Created on first start.
std::string load_or_create_admin_token(const std::string& path) {
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[128] = {0};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string t(buf, n);
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    return t;
  }
  std::random_device rd;
  char token[65];
  for (int i = 0; i < 8; ++i) std::snprintf(token + 8 * i, 9, "%08x", rd());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return {};
  std::string line = std::string(token) + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  return ok ? std::string(token) : std::string();
}

// First start: the global policy enables Persistent Chat (Lync ships it off; the demo
// config turns it on) and, with demo content, three demo users get random passwords,
// printed once. Without demo content (a production node, an import target) no account is
// made: a node must never hold accounts, or print passwords, its admin did not create.
bool first_start_identities(pchat::storage::database& store, pchat::actors::identity_registry& ids,
                            const std::string& domain, bool demo_users) {
  pchat::storage::policy_record global{"global", true, "demo configuration"};
  if (!store.identities().put_policy(global).is_ok()) return false;
  ids.upsert_policy(global);
  if (!demo_users) return true;
  std::random_device rd;
  const char* alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  for (const char* name : {"alice", "bob", "carol"}) {
    std::string password;
    for (int i = 0; i < 10; ++i) password += alphabet[rd() % 32];
    // Lower-case like every address the directory keeps: its HA1 must match what clients
    // send whatever the case of --domain.
    std::string user = pchat::actors::identity_registry::lower(std::string(name) + "@" + domain);
    pchat::storage::user_record u;
    u.uri = "sip:" + user;
    u.display_name = name;
    auto ha1 = pchat::sip::digest_ha1_both(user, domain, password);
    u.ha1 = ha1.address;
    u.ha1_user = ha1.user_part;
    if (!store.identities().put_user(u).is_ok()) return false;
    u.uri = pchat::actors::identity_registry::lower(u.uri);
    ids.upsert_user(u);
    std::printf("demo-user=%s password=%s\n", user.c_str(), password.c_str());
  }
  std::fflush(stdout);
  return true;
}

// In a pool: creates the pool's first-start key naming this node. *won: this node created
// it (it seeds the pool); *seeder: the node named in the key.
pchat::status claim_pool_first_start(const pchat::pool::pool_settings& pool, bool* won, std::string* seeder) {
  std::unique_ptr<pchat::pool::etcd_client> etcd;
  if (auto s = pchat::pool::etcd_client::create(pool.etcd, {}, &etcd); !s.is_ok()) return s;
  pchat::pool::etcd_claim claim;
  if (auto s = etcd->create_if_absent(pchat::pool::first_start_key(pool.pool_name), pool.node_name, 0, &claim);
      !s.is_ok())
    return s;
  *won = claim.created;
  *seeder = claim.holder.value;
  return pchat::status::ok();
}

bool ensure_demo_content(caf::actor_system& sys, const caf::actor& directory) {
  caf::scoped_actor self{sys};
  bool empty = false, ok = true;
  self->request(directory, std::chrono::seconds(10), pchat::actors::list_categories_atom::value)
      .receive([&](std::vector<pchat::storage::category_record>& cats) { empty = cats.empty(); },
               [&](caf::error&) { ok = false; });
  if (!ok || !empty) return ok;
  pchat::storage::category_record cat;
  cat.name = "Demo";
  cat.description = "Created on first start";
  std::string cat_id;
  self->request(directory, std::chrono::seconds(10), pchat::actors::new_category_atom::value, cat)
      .receive([&](pchat::storage::category_record& c) { cat_id = c.id; },
               [&](caf::error&) { ok = false; });
  if (!ok) return false;
  pchat::storage::room_record room;
  room.name = "Demo Room";
  room.description = "A room to try pchat";
  room.category_id = cat_id;
  self->request(directory, std::chrono::seconds(10), pchat::actors::new_room_atom::value, room)
      .receive([&](pchat::storage::room_record&) {}, [&](caf::error&) { ok = false; });
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t started_micros = pchat::utc::now_micros();
  // Block the stop signals in every thread; main waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload (reload_on_sighup), also during the start
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  pchatd_config cfg;
  pchat::actors::add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  // --trusted-peer may be repeated: its values are merged into one list for the parser
  // (which keeps the last of a repeated option).
  std::vector<std::string> args;
  std::string trusted;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && a.rfind("--trusted-peer=", 0) == 0) {
      trusted += (trusted.empty() ? "" : ",") + a.substr(15);
      continue;
    }
    args.push_back(a);
  }
  if (!trusted.empty()) args.push_back("--trusted-peer=" + trusted);
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  if (auto err = cfg.parse(static_cast<int>(argp.size()), argp.data())) {
    std::cerr << "pchatd: bad command line or config file: " << to_string(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed) return 0;
  // Every option is checked before anything is printed, created or started: a bad value
  // must not leave a half-initialised data folder or print the demo passwords first.
  if (auto bad = check_options(cfg, argc, argv); !bad.empty()) {
    std::cerr << "pchatd: " << bad << "\n";
    return 2;
  }
  pchat::log::set_level(cfg.log_level);
  if (cfg.check_config) {
    if (auto bad = check_folders(cfg); !bad.empty()) {
      std::cerr << "pchatd: " << bad << "\n";
      return 2;
    }
    std::string tls_verdict;
    if (auto bad = check_tls_identity(cfg, &tls_verdict); !bad.empty()) {
      std::cerr << "pchatd: " << bad << "\n";
      return 2;
    }
    std::printf("pchatd: configuration ok: data-dir=%s sip=%s:%zu http=%s:%zu %s\n", cfg.data_dir.c_str(),
                sip_host(cfg).c_str(), cfg.sip_port, http_host(cfg).c_str(), cfg.http_port, tls_verdict.c_str());
    return 0;
  }
  if (!cfg.restore_from.empty()) return restore(cfg);
  bool in_pool = false;
  pchat::pool::pool_settings pool;
  pool_options(cfg, &in_pool, &pool);  // checked above
  if (in_pool) {
    // A paused or cut-off node is found only by BASP heartbeats (off by default in CAF
    // 0.17): 200 ms beats, a link silent for 1 s is dropped (docs/POOL.md "Fast death").
    cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(200)});
    cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(1)});
  }
  rlim_t nofile = raise_open_files_limit(cfg.sip.max_tcp_connections);
  if (cfg.http_idle_ms) cfg.http.idle_timeout = std::chrono::milliseconds(cfg.http_idle_ms);
  if (cfg.http_head_ms) cfg.http.head_timeout = std::chrono::milliseconds(cfg.http_head_ms);
  if (cfg.http_body_ms) cfg.http.body_timeout = std::chrono::milliseconds(cfg.http_body_ms);
  if (cfg.http_write_ms) cfg.http.write_timeout = std::chrono::milliseconds(cfg.http_write_ms);
  if (cfg.http_queue_ms) cfg.http.queue_timeout = std::chrono::milliseconds(cfg.http_queue_ms);

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  pchat::tls::peer_policy peers;
  peer_options(cfg, &peers);  // checked above
  std::shared_ptr<pchat::tls::server_tls> tls_identity;
  if (auto err = load_tls_identity(cfg, !peers.trusted_fingerprints.empty(), &tls_identity); !err.empty())
    return fail("cannot load the TLS certificate: " + err,
                "check --tls-cert and --tls-key (PEM, the certificate first, then its chain)");
  std::unique_ptr<pchat::storage::database> store;
  if (auto s = pchat::storage::database::open({cfg.data_dir + "/store", true}, &store); !s.is_ok())
    return fail("cannot open the store: " + s.to_string(),
                "check that " + cfg.data_dir + " is writable and not used by another pchatd");

  // A pool node's directory, identities and configuration follow the pool's directory log
  // in etcd (actors/directory_log.h, docs/POOL.md "Directory across the pool"): what it
  // missed is applied before anything below reads the store, and from here on every write
  // of those families goes through the log.
  std::unique_ptr<pchat::actors::directory_log> directory_log;
  if (in_pool) {
    std::unique_ptr<pchat::pool::etcd_client> etcd;
    if (auto s = pchat::pool::etcd_client::create(pool.etcd, {}, &etcd); !s.is_ok())
      return fail("--etcd: " + s.reason(), "name etcd's client URLs as http://ADDRESS:PORT");
    pchat::actors::directory_log_options dopts;
    dopts.pool_name = pool.pool_name;
    dopts.node_name = pool.node_name;
    directory_log = std::make_unique<pchat::actors::directory_log>(std::move(etcd), *store, dopts);
    if (auto s = directory_log->catch_up(std::chrono::seconds(10)); !s.is_ok())
      return fail("cannot read the pool's directory log: " + s.to_string(),
                  "check that etcd runs and answers at " + cfg.etcd);
    directory_log->start();
  }

  // The node's settings and services, all before its first actor (actors/server_context.h).
  pchat::actors::server_settings settings;
  settings.domain = cfg.domain;
  settings.chat_uri = "sip:chat@" + cfg.domain;
  // What the node runs with (stored settings under the --compliance-* overrides), checked
  // before anything is printed or started (app/effective_config.h).
  auto config = std::make_shared<pchat::app::effective_config>(
      pchat::app::config_inputs{cfg.site, cfg.data_dir, overrides_of(cfg, argc, argv)});
  pchat::actors::effective_settings in_force;
  if (auto s = config->resolve(*store, &in_force); !s.is_ok())
    return fail("the configuration is refused: " + s.reason(),
                s.is_invalid_argument()
                    ? "correct it with pchatctl compliance set or the --compliance-* options"
                    : "check the store");
  if (in_force.compliance.enabled) {
    if (auto bad = pchat::app::folder_problem(in_force.compliance.output_directory); !bad.empty())
      return fail("compliance output folder: " + bad,
                  "choose another --compliance-output-dir or pchatctl compliance set --output-dir");
  }
  if (in_force.chat_scope != "global")
    pchat::log::write(pchat::log::level::info, "pchatd", "using the site configuration", "site=" + cfg.site);
  settings.config = in_force.chat;
  settings.compliance_enabled = in_force.compliance.enabled;
  settings.live = std::make_shared<pchat::actors::live_settings>(in_force);
  // What SIGHUP reloads besides pchatd's own options: services register here before the
  // node serves (app/reload_hooks.h).
  pchat::app::reload_hooks reload;
  reload.add("tls-certificate", [&tls_identity] { return reload_tls(*tls_identity); });
  auto identities = std::make_shared<pchat::actors::identity_registry>(cfg.domain);
  if (auto s = identities->load(store->identities()); !s.is_ok())
    return fail("cannot load users, groups and policies: " + s.to_string(), "check the store");
  if (directory_log) {
    identities->follow_store();
    directory_log->attach(identities, caf::actor());
  }
  std::vector<pchat::storage::category_record> existing_categories;
  bool first_start = store->directory().list_categories(&existing_categories).is_ok() && existing_categories.empty();
  // Nodes started together on an empty pool all find an empty directory: only the one that
  // creates the pool's first-start key seeds it (policy, demo users, demo room), so there is
  // one set of demo passwords, printed by that node, and one demo room.
  if (first_start && in_pool) {
    std::string seeder;
    if (auto s = claim_pool_first_start(pool, &first_start, &seeder); !s.is_ok())
      return fail("cannot claim the pool's first start in etcd: " + s.to_string(),
                  "check that etcd runs and answers at " + cfg.etcd);
    if (!first_start)
      pchat::log::write(pchat::log::level::info, "pchatd", "the pool's first start was made by another node",
                        "node=" + pchat::log::quote(seeder) +
                            " action=" + pchat::log::quote("its output has the demo users' passwords"));
  }
  if (first_start && !first_start_identities(*store, *identities, cfg.domain, cfg.demo_content == "true"))
    return fail("cannot create the first start's policy and demo users", "check the store");
  if (cfg.auth == "none") warn_auth_none();

  settings.files_dir = cfg.data_dir + "/files";
  settings.max_prefs_per_user = cfg.max_prefs_per_user;
  settings.max_pref_bytes_per_user = cfg.max_pref_bytes_per_user;
  settings.max_upload_bytes_per_user = cfg.max_upload_bytes_per_user;
  // The runner exists whether compliance is on or not, so that switching it on (pchatctl
  // compliance set, SIGHUP) needs no restart; off, it runs nothing.
  const pchat::storage::compliance_config& ccfg = in_force.compliance;
  pchat::actors::runner_options ropts;
  ropts.domain = cfg.domain;
  ropts.run_interval = in_force.run_interval;
  ropts.backoff_base = std::min<std::chrono::milliseconds>(ropts.backoff_base, ropts.run_interval);
  ropts.output = pchat::compliance::make_adapter(ccfg, cfg.domain);
  ropts.enabled = ccfg.enabled;

  pchat::sip::endpoint_config ecfg;
  ecfg.host = sip_host(cfg);
  ecfg.port = static_cast<uint16_t>(cfg.sip_port);
  ecfg.tls = tls_identity;
  ecfg.tls_port = sip_tls_port(cfg);
  ecfg.peers = peers;
  ecfg.domain = cfg.domain;
  ecfg.require_auth = cfg.auth == "digest";
  // One throttle for SIP Digest and HTTP Basic (protocol/sip/sign_in_throttle.h).
  ecfg.throttle = std::make_shared<pchat::sip::sign_in_throttle>();
  ecfg.limits = cfg.sip;

  int rc = 0;
  // The SIP endpoint exists before the node (actors send through it) and starts last.
  pchat::sip::endpoint edge(ecfg);
  {
    caf::actor_system sys{cfg};
    pchat::actors::node_parts parts;
    parts.store = store.get();
    parts.identities = identities;
    parts.sign_in_throttle = ecfg.throttle;
    parts.sip = &edge;
    parts.settings = settings;
    parts.search_dir = cfg.data_dir + "/search";
    parts.index_step_delay = std::chrono::milliseconds(cfg.index_test_step_delay_ms);
    if (in_pool) parts.pool = pool;
    // Compliance: events flow into the commit actor (the staging queue's only writer,
    // actors::capture) and the runner delivers them. Both exist before the first room, so
    // none is missed.
    parts.compliance_runner = ropts;
    if (ccfg.enabled) {
      pchat::log::write(pchat::log::level::info, "pchatd", "compliance on",
                        "adapter=" + ccfg.adapter_type + " output=" +
                            pchat::log::quote(ccfg.output_directory) + " interval_ms=" +
                            std::to_string(ropts.run_interval.count()));
    }
    pchat::actors::server_node node(sys, std::move(parts));
    const std::shared_ptr<const pchat::actors::server_context>& cctx = node.context();
    config->attach(cctx->live, cctx->compliance_runner);
    if (directory_log) {
      directory_log->attach(identities, cctx->directory);
      // Chat and compliance settings changed through another node are put in force here as
      // soon as this node applied them (docs/POOL.md "Directory across the pool").
      directory_log->on_config_change([config, store = store.get()] {
        if (auto s = config->apply(*store); !s.is_ok() && !s.is_not_found())
          pchat::log::write(pchat::log::level::warn, "pchatd",
                            "a configuration change made on another node is refused here; what was in force stays",
                            "error=" + pchat::log::quote(s.to_string()) +
                                " action=" + pchat::log::quote("check this node's --compliance-* options and folders"));
      });
    }
    if (cfg.demo_content == "true" && (first_start || !in_pool) && !ensure_demo_content(sys, cctx->directory)) {
      rc = fail("cannot create the demo room", "check the store");
    } else if (auto err = node.start_edge(); !err.empty()) {
      rc = fail("cannot start SIP: " + err, "choose another --sip-port or stop the other server");
    } else {
      std::string token_path = cfg.data_dir + "/admin.token";
      std::string token = load_or_create_admin_token(token_path);
      if (token.empty()) {
        rc = fail("cannot read or create the admin token " + token_path,
                  "check that the data folder is writable");
      }
      // Users reach /files/ and /manage with their own credentials; the rest is the admin API.
      pchat::app::file_api_options fopts;
      fopts.trust_user_header = cfg.auth == "none";
      auto facts = std::make_shared<pchat::app::node_facts>();
      facts->version = PCHAT_VERSION;
      facts->data_dir = cfg.data_dir;
      facts->host = cfg.host;
      facts->started_micros = started_micros;
      // `pool status` reads every room claim from etcd through its own client (app/admin_pool.h).
      std::shared_ptr<pchat::pool::etcd_client> status_etcd;
      if (in_pool) {
        std::unique_ptr<pchat::pool::etcd_client> e;
        if (pchat::pool::etcd_client::create(pool.etcd, {}, &e).is_ok()) status_etcd = std::move(e);
      }
      auto admin_api = pchat::web::require_bearer_token(
          token, token_path,
          pchat::app::make_text_guard(pchat::app::make_archive_api(
              sys, cctx,
              pchat::app::make_search_api(
                  sys, cctx, cfg.data_dir + "/search",
                  pchat::app::make_identity_api(
                      cctx, pchat::app::make_pool_api(
                                sys, cctx, status_etcd,
                                pchat::app::make_backup_api(sys, cctx, facts,
                                                            pchat::app::make_admin_api(sys, cctx, &edge, facts, config))))))));
      // /healthz and /readyz for anyone, /metrics for loopback or the admin token
      // (app/metrics_api.h), then the users' services, then the admin API.
      // The admin API answers loopback clients only unless --admin-remote=true (its token is
      // a password that should not cross networks, even over TLS).
      if (cfg.admin_remote != "true") admin_api = pchat::web::local_clients_only(peers, "the admin API", std::move(admin_api));
      // The admin API is /api/v1/: any other path that reaches it is a plain 404 (its token
      // refusal names the data folder, which is no one else's business).
      admin_api = [inner = std::move(admin_api)](const pchat::web::http_request& req) -> pchat::web::http_response {
        if (req.path.rfind("/api/v1/", 0) != 0) return {404, "text/plain; charset=utf-8", "not found\n", {}, nullptr};
        return inner(req);
      };
      // Browsers signed in to the web client (app/web_sign_ins.h): in memory. Their cookie
      // opens the file service (the page's uploads and download links) and room management
      // (its "My rooms" view) too.
      auto web_sign_ins = std::make_shared<pchat::app::web_sign_ins>();
      web_sign_ins->keep_in(cfg.data_dir, "web-sign-ins");
      fopts.cookie = pchat::app::make_web_cookie_auth(cctx, web_sign_ins);
      pchat::web::http_server http(
          http_host(cfg), static_cast<uint16_t>(cfg.http_port),
          pchat::app::make_health_api(
              sys, cctx, &edge,
              pchat::app::make_metrics_api(
                  sys, cctx, &edge, facts, token,
                  pchat::app::make_web_client_api(
                      cctx, web_sign_ins,
                      pchat::app::make_web_search_api(
                          sys, cctx, web_sign_ins, cfg.data_dir + "/search",
                          pchat::app::make_web_rooms_api(
                              sys, cctx, web_sign_ins,
                              pchat::app::make_file_api(
                                  sys, cctx, fopts,
                                  pchat::app::make_room_management_api(
                                      sys, cctx, fopts.trust_user_header, fopts.cookie, std::move(admin_api)))))))),
          cfg.http);
      // The web client's WebSocket (app/web_client_api.h, docs/WEB.md).
      http.set_websocket("/ws", pchat::app::make_web_socket_check(sys, cctx, *node.web(), web_sign_ins));
      facts->http = &http;  // before start(): the handler threads read it
      http.set_tls(tls_identity, peers);
      // Authenticated uploads may carry MaxFileSizeKB as in force (app/user_auth.h);
      // everything else keeps the server's 1 MiB.
      http.set_head_check(pchat::app::make_upload_head_check(
          cctx, pchat::app::make_user_head_check(cctx, fopts.trust_user_header, cfg.http.max_body, fopts.cookie)));
      if (rc != 0) {
        // token failure already reported
      } else if (auto herr = http.start(); !herr.empty()) {
        rc = fail("cannot start admin HTTP: " + herr, "choose another --http-port");
      } else if (auto perr = in_pool ? node.start_pool(edge.port(), http.port()) : std::string(); !perr.empty()) {
        rc = fail("cannot join the pool: " + perr,
                  "check --etcd (is etcd running?), --pool-host/--pool-port and that no other live node "
                  "uses --node-name " + cfg.node_name);
      } else {
        // The pool port first: a reader that has seen http-port has seen them all.
        if (in_pool) std::printf("pool-port=%u\n", node.pool_port());
        std::printf("tls-sha256=%s\nsip-tls-port=%u\nsip-port=%u\nhttp-port=%u\n",
                    tls_identity->fingerprint().c_str(), edge.tls_port(), edge.port(), http.port());
        std::fflush(stdout);
        pchat::log::write(pchat::log::level::info, "pchatd", "started",
                          "nofile=" + std::to_string(nofile) + " domain=" + cfg.domain + " sip=" + sip_host(cfg) + ":" +
                              std::to_string(edge.port()) + " sip_tls_port=" + std::to_string(edge.tls_port()) +
                              " plain=" + pchat::tls::to_string(peers.plain) + " http=" + http_host(cfg) + ":" +
                              std::to_string(http.port()) + " data=" + pchat::log::quote(cfg.data_dir) +
                              (in_pool ? " node=" + cfg.node_name + " pool=" + cfg.pool_name + " pool_port=" +
                                             std::to_string(node.pool_port())
                                       : std::string()));
        // Until SIGINT/SIGTERM; SIGHUP reloads (options, then the hooks: the certificate);
        // --auth=none is recalled hourly.
        for (;;) {
          timespec hour{3600, 0};
          int sig = sigtimedwait(&stop_signals, nullptr, &hour);
          if (sig == SIGHUP) {
            reload_on_sighup(cfg, argc, argv, *config, *store, reload);
            continue;
          }
          if (sig < 0) {
            if (errno == EAGAIN && cfg.auth == "none") warn_auth_none();
            continue;
          }
          break;
        }
      }
      // Browsers' sessions end while their sockets can still be closed (1001: the pages
      // reconnect), within a bound: an open WebSocket is no reason to stay up.
      node.web()->end_all();
      for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
           node.web()->dialogs() > 0 && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      http.stop();  // HTTP handlers read the context: they end before the node stops
    }
    // The reverse of the start (server_node::stop): SIP edge, then every actor, awaited.
    node.stop();
    config->attach(nullptr, caf::actor());  // it names the runner: before the system goes
    if (directory_log) directory_log->detach();  // it names the directory: before the system goes
  }  // the node (and its context) before the actor system; the store and endpoint after
  return rc;
}
