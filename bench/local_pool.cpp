#include "bench/local_pool.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bench/admin_client.h"

namespace pchat::bench {
namespace {

using steady = std::chrono::steady_clock;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::chrono::milliseconds left(steady::time_point until) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
  return std::max(d, std::chrono::milliseconds(0));
}

}  // namespace

local_pool::local_pool(std::string dir, size_t nodes, std::string pchatd,
                       std::vector<std::string> extra_args)
    : dir_(std::move(dir)), pchatd_(std::move(pchatd)), extra_args_(std::move(extra_args)) {
  for (size_t i = 0; i < nodes; ++i) {
    auto n = std::make_unique<pool_node>();
    n->name = "n" + std::to_string(i + 1);
    n->data_dir = dir_ + "/" + n->name;
    nodes_.push_back(std::move(n));
  }
}

local_pool::~local_pool() {
  for (auto& n : nodes_) n->proc.kill_now();
  etcd_.kill_now();
}

std::string local_pool::etcd_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(etcd_client_port_);
}

bool local_pool::start_etcd(std::chrono::milliseconds deadline) {
  auto until = steady::now() + deadline;
  for (int attempt = 0; attempt < 3 && steady::now() < until; ++attempt) {
    etcd_client_port_ = pick_free_port();
    etcd_peer_port_ = pick_free_port();
    if (etcd_client_port_ == 0 || etcd_peer_port_ == 0 || etcd_client_port_ == etcd_peer_port_)
      continue;
    std::string client = etcd_endpoint();
    std::string peer = "http://127.0.0.1:" + std::to_string(etcd_peer_port_);
    std::string data = dir_ + "/etcd";
    std::error_code ec;
    std::filesystem::remove_all(data, ec);
    if (!etcd_.start({"/usr/bin/etcd", "--name=bench", "--data-dir=" + data,
                      "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
                      "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
                      "--initial-cluster=bench=" + peer, "--logger=zap", "--log-level=error",
                      "--log-outputs=stderr"},
                     dir_ + "/etcd.out", dir_ + "/etcd.log")) {
      error_ = "etcd: " + etcd_.error();
      return false;
    }
    admin_client health("127.0.0.1:" + std::to_string(etcd_client_port_));
    while (steady::now() < until) {
      auto r = health.request("GET", "/health");
      if (r.status == 200 && r.body.is_object() && r.body.value("health", "") == "true")
        return true;
      if (!etcd_.running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error_ = "etcd did not answer /health: " + etcd_.stderr_tail(600);
    etcd_.kill_now();  // a port taken meanwhile: try new ones
  }
  return false;
}

bool local_pool::start_node(size_t i, std::chrono::milliseconds deadline) {
  auto& n = *nodes_.at(i);
  std::error_code ec;
  std::filesystem::create_directories(n.data_dir, ec);
  std::vector<std::string> argv{pchatd_,
                                "--data-dir=" + n.data_dir,
                                "--sip-port=0",
                                "--http-port=0",
                                "--pool-port=0",
                                "--auth=none",
                                "--etcd=" + etcd_endpoint(),
                                "--node-name=" + n.name};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  if (!n.proc.start(argv, n.data_dir + ".out", n.data_dir + ".err")) {
    error_ = n.name + ": " + n.proc.error();
    return false;
  }
  auto keys = n.proc.wait_for_keys({"sip-port", "http-port", "pool-port"}, deadline);
  if (keys.empty()) {
    error_ = n.name + " did not start: " + n.proc.error() + " " + n.proc.stderr_tail(1500);
    n.proc.kill_now();
    return false;
  }
  n.sip_port = static_cast<uint16_t>(std::atoi(keys["sip-port"].c_str()));
  n.http_port = static_cast<uint16_t>(std::atoi(keys["http-port"].c_str()));
  n.pool_port = static_cast<uint16_t>(std::atoi(keys["pool-port"].c_str()));
  n.token = trimmed(read_text_file(n.data_dir + "/admin.token"));
  n.up = true;
  return true;
}

bool local_pool::start(std::chrono::milliseconds deadline) {
  auto until = steady::now() + deadline;
  if (!start_etcd(left(until))) return false;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!start_node(i, left(until))) return false;
  if (!wait_settled(left(until))) {
    error_ = "the nodes do not all see each other live";
    return false;
  }
  return true;
}

std::vector<std::string> local_pool::live_names(size_t i) {
  auto& n = *nodes_.at(i);
  if (!n.up) return {};
  admin_client a("127.0.0.1:" + std::to_string(n.http_port));
  a.set_token(n.token);
  auto r = a.request("GET", "/api/v1/pool");
  std::vector<std::string> out;
  if (r.status != 200 || !r.body.is_object()) return out;
  for (auto& e : r.body.value("nodes", nlohmann::json::array()))
    if (e.value("live", false)) out.push_back(e.value("name", ""));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> local_pool::up_names() const {
  std::vector<std::string> out;
  for (auto& n : nodes_)
    if (n->up) out.push_back(n->name);
  std::sort(out.begin(), out.end());
  return out;
}

bool local_pool::wait_settled(std::chrono::milliseconds deadline) {
  auto until = steady::now() + deadline;
  while (steady::now() < until) {
    auto want = up_names();
    bool all = true;
    for (size_t i = 0; i < nodes_.size() && all; ++i)
      if (nodes_[i]->up) all = live_names(i) == want;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void local_pool::kill(size_t i) {
  auto& n = *nodes_.at(i);
  n.proc.kill_now();
  n.up = false;
}

bool local_pool::restart(size_t i, std::chrono::milliseconds deadline) {
  if (nodes_.at(i)->up) kill(i);
  return start_node(i, deadline);
}

std::vector<pid_t> local_pool::child_pids() const {
  std::vector<pid_t> out;
  if (etcd_.running()) out.push_back(etcd_.pid());
  for (auto& n : nodes_)
    if (n->proc.running()) out.push_back(n->proc.pid());
  return out;
}

}  // namespace pchat::bench
