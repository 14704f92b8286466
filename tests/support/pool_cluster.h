// pool_cluster: a pool on loopback for end-to-end tests (docs/POOL.md): one single-member
// etcd (etcd_server.h) and N pchatd processes (server_process.h) started with
// --etcd, --node-name=n1..nN, --pool-name and any extra arguments, each in its own data
// folder under `dir`. Faults on one node: kill -9, SIGSTOP/SIGCONT, restart on its data.
//
// Contract:
//   - start() returns true only when every node runs and every node's GET /api/v1/pool
//     shows all N nodes live (so a test begins on a complete, stable pool);
//   - live_names(i) is node i's view as a user sees it (the admin API), not a peek into
//     the process; waits (wait_view) poll it with a deadline;
//   - node(i) is the server_process itself: its ports, admin token, ctl(), stderr_text();
//   - the destructor kills every node still running (SIGCONT first if paused), then etcd.
//
// Indexes are 0-based; names are "n1".."nN". One test thread owns it; every call blocks
// (processes, HTTP) on that thread.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/etcd_server.h"
#include "tests/support/server_process.h"

namespace pchat::testing {

class pool_cluster {
 public:
  // `dir` (existing, empty) holds etcd's and the nodes' folders. `extra_args` go to every
  // node (after the pool options, so a test may override them).
  pool_cluster(std::string dir, size_t nodes, std::vector<std::string> extra_args = {},
               std::string pool_name = "pchat");
  ~pool_cluster();
  pool_cluster(const pool_cluster&) = delete;
  pool_cluster& operator=(const pool_cluster&) = delete;

  // etcd, then every node in turn, then waits until every node sees all N live. False
  // (error() says which step and the node's or etcd's log tail) otherwise.
  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  const std::string& error() const { return error_; }

  size_t size() const { return nodes_.size(); }
  server_process& node(size_t i) { return *nodes_.at(i); }
  static std::string name(size_t i) { return "n" + std::to_string(i + 1); }
  etcd_server& etcd() { return etcd_; }

  // GET /api/v1/pool on node i with its admin token; the parsed body, or null when the
  // node does not answer 200 with JSON.
  nlohmann::json pool_status(size_t i);
  // GET `target` on node i's admin API with its token: the status and the body parsed
  // (null if not JSON).
  std::pair<int, nlohmann::json> admin_get(size_t i, const std::string& target);
  // The URI of room `name` as node i's admin API lists it; "" if it does not.
  std::string room_uri(size_t i, const std::string& name);
  // Makes `user` ("ann@example.com") through the first running node unless it exists, then
  // waits until every running node's admin API knows it (each node applies the directory
  // log on its own, ~100 ms later: a room owned elsewhere admits no user its node does not
  // know yet). False (error() says which node) at the deadline.
  bool ensure_user(const std::string& user, std::chrono::milliseconds deadline = std::chrono::seconds(5));
  // The names node i shows as live (sorted), or {} when it does not answer.
  std::vector<std::string> live_names(size_t i);
  // Polls live_names(i) until it equals `names` (sorted); false at the deadline.
  bool wait_view(size_t i, std::vector<std::string> names, std::chrono::milliseconds deadline);
  // The names of every node that runs and is not paused (sorted).
  std::vector<std::string> running_names();

  // Faults. kill(): SIGKILL and reap. pause()/resume(): SIGSTOP/SIGCONT. restart(): starts
  // a killed or stopped node again on its data folder (new SIP/HTTP/pool ports); true once
  // it printed its ports (it has joined: the lease and registry entry exist). Call
  // wait_view() to wait until the others link to it.
  void kill(size_t i);
  void pause(size_t i);
  void resume(size_t i);
  bool restart(size_t i, std::chrono::milliseconds deadline = std::chrono::seconds(20));

 private:
  std::string dir_, pool_name_;
  std::vector<std::string> extra_args_;
  etcd_server etcd_;
  std::vector<std::unique_ptr<server_process>> nodes_;
  std::vector<bool> paused_;
  std::string error_;
};

}  // namespace pchat::testing
