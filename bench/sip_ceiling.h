// The SIP stack's own ceiling on this machine (issue 5, item 4): how many INFO transactions
// per second pchat-sip-responder (bench/sip_responder.cpp, sofia-sip nua answering 200 at
// once on one thread) completes, driven through the same client library and loop as the
// pchat measurements.
//
// Method: start the responder on a free loopback port; open `dialogs` TCP connections (one
// INVITE dialog each, Contact and ACK as SIPE sends them); then keep `window` INFOs in flight
// per dialog, each carrying a body the size of a pchat delivery, for `seconds` after a short
// warm-up. The figure is completed (200) INFO transactions per second; pchat's deliveries/s
// divided by it is the ceiling ratio.
//
// Threading: runs its own client_loop on the caller's thread; blocking, bounded by `seconds`
// plus set-up deadlines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "bench/latency_histogram.h"

namespace pchat::bench {

struct sip_ceiling_options {
  std::string responder_path;  // build/bin/pchat-sip-responder
  std::string work_dir;        // for the responder's output files
  int dialogs = 64;
  int window = 8;
  size_t body_bytes = 420;  // about one pchat grpchat INFO body
  std::chrono::milliseconds warmup{500};
  std::chrono::milliseconds seconds{4000};
  int source_addresses = 8;
};

struct sip_ceiling_result {
  bool ok = false;
  std::string error;
  double info_per_s = 0;
  uint64_t infos = 0;
  uint64_t failures = 0;  // non-2xx or connection losses
  double seconds = 0;
  double responder_cpu_pct = 0;
  latency_histogram latency;  // INFO send → 200
};

sip_ceiling_result measure_sip_ceiling(const sip_ceiling_options& opt);

}  // namespace pchat::bench
