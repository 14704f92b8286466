// local_pool: a pchat pool on this machine for the bench and the failover torture
// (docs/POOL.md "Running a pool"): one single-member etcd (/usr/bin/etcd) and N pchatd
// processes named n1..nN, each with its own data folder under `dir`, all on 127.0.0.1 with
// free ports (SIP, HTTP and BASP ports are chosen by pchatd: --*-port=0, read from its
// stdout). Faults: kill -9 and restart of one node on its data folder (it comes back on
// new SIP and HTTP ports).
//
// Contract:
//   - start() returns true once every node runs and every node's GET /api/v1/pool shows all
//     N nodes live; false with error() naming the step and the log tail otherwise;
//   - live_names(i) is node i's view through its admin API (empty when it does not answer);
//   - the destructor kills every node (kill -9) and etcd, so no process outlives the owner;
//     every child also gets SIGTERM when this process dies (PR_SET_PDEATHSIG);
//   - child_pids() lists the pids running now (for a signal handler that must end them).
//
// Threading: one thread owns it; every call blocks (processes, HTTP) on that thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/process_probe.h"

namespace pchat::bench {

struct pool_node {
  std::string name;  // n1..nN
  std::string data_dir;
  uint16_t sip_port = 0;
  uint16_t http_port = 0;
  uint16_t pool_port = 0;
  std::string token;  // admin API bearer token (<data-dir>/admin.token)
  child_process proc;
  bool up = false;  // started and not killed since
};

class local_pool {
 public:
  // `pchatd`: path of the binary. `extra_args` go to every node after the pool options.
  local_pool(std::string dir, size_t nodes, std::string pchatd,
             std::vector<std::string> extra_args);
  ~local_pool();
  local_pool(const local_pool&) = delete;
  local_pool& operator=(const local_pool&) = delete;

  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(60));
  const std::string& error() const { return error_; }

  size_t size() const { return nodes_.size(); }
  pool_node& node(size_t i) { return *nodes_.at(i); }
  std::string etcd_endpoint() const;
  pid_t etcd_pid() const { return etcd_.pid(); }

  // Names node i shows as live (sorted); {} when it does not answer.
  std::vector<std::string> live_names(size_t i);
  // Names of the nodes that run (sorted).
  std::vector<std::string> up_names() const;
  // Polls until every running node shows exactly the running nodes as live.
  bool wait_settled(std::chrono::milliseconds deadline);

  // kill -9 of node i (reaped).
  void kill(size_t i);
  // Starts node i again on its data folder; true once it printed its ports.
  bool restart(size_t i, std::chrono::milliseconds deadline = std::chrono::seconds(30));

  std::vector<pid_t> child_pids() const;

 private:
  bool start_etcd(std::chrono::milliseconds deadline);
  bool start_node(size_t i, std::chrono::milliseconds deadline);

  std::string dir_, pchatd_;
  std::vector<std::string> extra_args_;
  child_process etcd_;
  uint16_t etcd_client_port_ = 0, etcd_peer_port_ = 0;
  std::vector<std::unique_ptr<pool_node>> nodes_;
  std::string error_;
};

}  // namespace pchat::bench
