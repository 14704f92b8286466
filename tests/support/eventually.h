// Waiting on a condition with a deadline, never a bare sleep: polls pred() until it holds or
// the deadline passes. Runs pred() on the calling thread; pred() must be cheap and must not
// block for long (it is called every `poll`).
#pragma once

#include <chrono>
#include <thread>

namespace pchat::testing {

// True as soon as pred() holds; at the deadline, pred()'s last answer (checked once more,
// so a condition met right at the end still counts).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

}  // namespace pchat::testing
