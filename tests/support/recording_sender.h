// A dialog_sender that records what actors send to the SIP edge (responses and INFOs per
// dialog), for actor-level tests; waits on conditions with deadlines, never bare sleeps.
// Thread-safe: actors call it from CAF workers while the test thread waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/sip/sip_endpoint.h"

namespace pchat::testing {

// Records everything the actors send to the edge; waits on conditions with deadlines.
class recording_sender final : public sip::dialog_sender {
 public:
  void respond(sip::txn_id txn, int code) override {
    std::lock_guard<std::mutex> l(mu_);
    responses_[txn] = code;
    response_order_[txn] = ++order_;
    cv_.notify_all();
  }
  void send_info(sip::dialog_id d, std::shared_ptr<const std::string> body) override {
    std::lock_guard<std::mutex> l(mu_);
    infos_[d].push_back(*body);
    info_order_[d].push_back(++order_);
    cv_.notify_all();
  }
  void send_info_many(std::vector<sip::dialog_id> targets,
                      std::shared_ptr<const std::string> body) override {
    std::lock_guard<std::mutex> l(mu_);
    ++order_;
    for (auto d : targets) {
      infos_[d].push_back(*body);
      info_order_[d].push_back(order_);
    }
    cv_.notify_all();
  }
  // When things reached this edge, as a count of calls (1, 2, ...): the response to `t`,
  // and the first INFO to `d` containing `needle`; 0 if none.
  uint64_t response_order(sip::txn_id t) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = response_order_.find(t);
    return it == response_order_.end() ? 0 : it->second;
  }
  uint64_t info_order(sip::dialog_id d, const std::string& needle) {
    std::lock_guard<std::mutex> l(mu_);
    auto& v = infos_[d];
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].find(needle) != std::string::npos) return info_order_[d][i];
    return 0;
  }
  // Waits until pred(infos) holds; false on timeout.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, deadline, [&] { return pred(); });
  }
  int response(sip::txn_id t) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = responses_.find(t);
    return it == responses_.end() ? 0 : it->second;
  }
  bool wait_response(sip::txn_id t, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    return wait([&] { return responses_.count(t) > 0; }, deadline);
  }
  std::vector<std::string> infos(sip::dialog_id d) {
    std::lock_guard<std::mutex> l(mu_);
    return infos_[d];
  }
  size_t count(sip::dialog_id d, const std::string& needle) {
    std::lock_guard<std::mutex> l(mu_);
    return count_locked(d, needle);
  }
  bool wait_count(sip::dialog_id d, const std::string& needle, size_t n,
                  std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    return wait([&] { return count_locked(d, needle) >= n; }, deadline);
  }
  // True once some INFO to dialog `d` contains `needle`.
  bool wait_info(sip::dialog_id d, const std::string& needle,
                 std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    return wait_count(d, needle, 1, deadline);
  }

 private:
  size_t count_locked(sip::dialog_id d, const std::string& needle) {
    size_t n = 0;
    for (auto& s : infos_[d])
      if (s.find(needle) != std::string::npos) ++n;
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<sip::txn_id, int> responses_;
  std::map<sip::dialog_id, std::vector<std::string>> infos_;
  uint64_t order_ = 0;
  std::map<sip::txn_id, uint64_t> response_order_;
  std::map<sip::dialog_id, std::vector<uint64_t>> info_order_;
};

}  // namespace pchat::testing
