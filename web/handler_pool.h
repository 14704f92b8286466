// A fixed set of threads that run blocking work (HTTP handlers that talk to actors
// synchronously) off the I/O threads, with a bounded queue: when it is full, try_run()
// refuses and the caller answers 503 instead of queueing forever.
// Threads: try_run() from any thread; stop() from the owner, once.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pchat::web {

class handler_pool {
 public:
  handler_pool(size_t threads, size_t max_queued);
  ~handler_pool() { stop(); }
  handler_pool(const handler_pool&) = delete;
  handler_pool& operator=(const handler_pool&) = delete;

  // Queues `job`; false (job dropped) when max_queued jobs already wait or after stop().
  bool try_run(std::function<void()> job);
  // Drops the jobs still waiting and joins the threads once their current job is done.
  void stop();

 private:
  void work();

  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pchat::web
