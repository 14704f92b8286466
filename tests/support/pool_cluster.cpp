#include "tests/support/pool_cluster.h"

#include <signal.h>

#include <algorithm>
#include <thread>

#include "tests/support/eventually.h"
#include "tests/support/http_client.h"

namespace pchat::testing {
namespace {

std::string tail(const std::string& text, size_t n = 2000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

pool_cluster::pool_cluster(std::string dir, size_t nodes, std::vector<std::string> extra_args,
                           std::string pool_name)
    : dir_(std::move(dir)),
      pool_name_(std::move(pool_name)),
      extra_args_(std::move(extra_args)),
      etcd_(dir_ + "/etcd"),
      paused_(nodes, false) {
  nodes_.resize(nodes);
}

pool_cluster::~pool_cluster() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]) continue;
    if (paused_[i]) resume(i);
    if (nodes_[i]->running()) nodes_[i]->kill_now();
  }
}

bool pool_cluster::start(std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  if (!etcd_.start()) {
    error_ = "etcd did not start: " + tail(etcd_.log_text());
    return false;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::vector<std::string> args = {"--etcd=" + etcd_.endpoint(), "--node-name=" + name(i),
                                     "--pool-name=" + pool_name_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    nodes_[i] = std::make_unique<server_process>(dir_ + "/" + name(i), args);
    if (!nodes_[i]->start()) {
      error_ = name(i) + " did not start: " + tail(nodes_[i]->stderr_text());
      return false;
    }
  }
  auto all = running_names();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (!wait_view(i, all, std::max(left, std::chrono::milliseconds(0)))) {
      error_ = name(i) + " does not see every node live: " + pool_status(i).dump() + "\n" +
               tail(nodes_[i]->stderr_text());
      return false;
    }
  }
  return true;
}

std::pair<int, nlohmann::json> pool_cluster::admin_get(size_t i, const std::string& target) {
  auto& n = *nodes_.at(i);
  auto r = http(n.http_port(), "GET", target, {"Authorization: Bearer " + n.admin_token()});
  return {r.status, nlohmann::json::parse(r.body, nullptr, false)};
}

std::string pool_cluster::room_uri(size_t i, const std::string& name) {
  auto [status, j] = admin_get(i, "/api/v1/rooms/" + name);
  return status == 200 && j.is_object() ? j.value("uri", "") : "";
}

bool pool_cluster::ensure_user(const std::string& user, std::chrono::milliseconds deadline) {
  std::string uri = user.rfind("sip:", 0) == 0 ? user : "sip:" + user;
  std::vector<size_t> running;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->running() && !paused_[i]) running.push_back(i);
  if (running.empty()) {
    error_ = "ensure_user " + uri + ": no node runs";
    return false;
  }
  std::string why;
  if (!nodes_[running.front()]->ensure_user(uri, &why)) {
    error_ = "ensure_user: " + why;
    return false;
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  for (size_t i : running) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (!eventually([&] { return admin_get(i, "/api/v1/users/" + uri).first == 200; },
                    std::max(left, std::chrono::milliseconds(0)))) {
      error_ = "ensure_user: " + name(i) + " did not know " + uri + " within " +
               std::to_string(deadline.count()) + " ms";
      return false;
    }
  }
  return true;
}

nlohmann::json pool_cluster::pool_status(size_t i) {
  auto& n = *nodes_.at(i);
  if (!n.running() || paused_[i]) return nullptr;
  auto r = http(n.http_port(), "GET", "/api/v1/pool", {"Authorization: Bearer " + n.admin_token()});
  if (r.status != 200) return nullptr;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::vector<std::string> pool_cluster::live_names(size_t i) {
  auto j = pool_status(i);
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  for (auto& n : j.value("nodes", nlohmann::json::array()))
    if (n.value("live", false)) out.push_back(n.value("name", ""));
  std::sort(out.begin(), out.end());
  return out;
}

bool pool_cluster::wait_view(size_t i, std::vector<std::string> names, std::chrono::milliseconds deadline) {
  std::sort(names.begin(), names.end());
  return eventually([&] { return live_names(i) == names; }, deadline, std::chrono::milliseconds(20));
}

std::vector<std::string> pool_cluster::running_names() {
  std::vector<std::string> out;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i] && !paused_[i] && nodes_[i]->running()) out.push_back(name(i));
  return out;  // already sorted for up to 9 nodes (n1..n9)
}

void pool_cluster::kill(size_t i) {
  if (paused_[i]) resume(i);
  nodes_.at(i)->kill_now();
}

void pool_cluster::pause(size_t i) {
  ::kill(nodes_.at(i)->pid(), SIGSTOP);
  paused_[i] = true;
}

void pool_cluster::resume(size_t i) {
  ::kill(nodes_.at(i)->pid(), SIGCONT);
  paused_[i] = false;
}

bool pool_cluster::restart(size_t i, std::chrono::milliseconds deadline) {
  auto& n = *nodes_.at(i);
  if (n.running()) kill(i);
  if (!n.start(deadline)) {
    error_ = name(i) + " did not start again: " + tail(n.stderr_text());
    return false;
  }
  return true;
}

}  // namespace pchat::testing
