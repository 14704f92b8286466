// pchat-bench's command line.
//
//   pchat-bench --profile=ceiling|idle|big-room|lync-model|durable
//               (--server=HOST:SIPPORT --admin=HOST:HTTPPORT | --spawn-server=PATH/pchatd)
//               [--users=N] [--duration=SECONDS] [--json] [options]
//
// Every option has a profile default (0 / empty below means "the profile decides"); see
// usage_text() for the list. Hosts must be loopback addresses (127.0.0.0/8): the bench
// never loads anything but this machine.
//
// Errors are values: parse_options returns false and says why.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pchat::bench {

struct bench_options {
  std::string command_line;  // as typed, for the report
  std::string profile;
  std::string server;                   // HOST:SIPPORT of a running pchatd
  std::string admin;                    // HOST:HTTPPORT of its admin API
  std::string admin_token_file;         // its admin token (default <data-dir>/admin.token)
  std::string spawn_server;             // path to pchatd: the bench starts it on free ports
  std::vector<std::string> spawn_args;  // extra pchatd arguments (--spawn-arg, repeatable)
  std::string data_dir;     // with --spawn-server: where its data goes (default: a temp dir)
  uint32_t spawn_pool = 0;  // with --spawn-server: start etcd and this many pool nodes instead
  std::string pool_admin;   // HOST:HTTPPORT of one node of a running pool (the others found there)
  std::string route = "auto";  // auto|direct|frontend|udp|tls|web
  double web_share = 0;        // with a SIP route: this share of the users are browsers
  int trunks = 8;
  int source_addresses = 8;
  uint32_t users = 0;
  uint32_t rooms = 0;
  double duration = 0;         // seconds of the measured phase (profile default)
  double rate = 0;             // posts/s (ceiling: the first step's)
  double rate_factor = 1.5;    // ceiling: rate multiplier per step
  double step_seconds = 4;     // ceiling: posting time per step
  double p99_limit_ms = 1000;  // ceiling: a step with a higher delivery p99 is past the knee
  double signin_rate = 0;      // sign-ins started per second (profile default)
  uint32_t signin_concurrency = 0;
  size_t post_bytes = 100;
  int window = 8;  // unacknowledged posts per user
  bool signin_backchat = true;
  bool ceilings = true;         // ceiling/durable: measure the responder and RocksDB ceilings
  int ceiling_dialogs = 64;     // responder ceiling: dialogs (one TCP connection each)
  int ceiling_window = 8;       // responder ceiling: INFOs in flight per dialog
  std::string responder;        // pchat-sip-responder (default: next to pchat-bench)
  std::string rocksdb_ceiling;  // pchat-rocksdb-ceiling (default: next to pchat-bench)
  double timeout = 0;           // hard limit on the whole run, seconds (profile default)
  bool json = false;
  bool keep_rooms = false;  // do not delete the rooms created (running server only)
  uint32_t seed = 1;
};

bool parse_options(int argc, char** argv, bench_options& out, std::string& error);
std::string usage_text();

}  // namespace pchat::bench
