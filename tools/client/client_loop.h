// One epoll event loop for many simulated chat clients: file-descriptor readiness, timers and
// per-turn output flushing, in the manner of redis' ae.h.
//
// A turn (run_once) is:
//   1. flush connections that queued output since the last turn (one write per connection
//      per turn, however many messages were queued: this is what keeps tens of thousands of
//      clients cheap on two cores);
//   2. wait in epoll_wait until an fd is ready, the next timer is due or `timeout_ms` ends;
//   3. dispatch fd events, then fire every due timer;
//   4. flush again, so that every run_once returns with all output handed to the kernel
//      (or parked on EPOLLOUT for a full socket).
//
// Threading: NOT thread-safe. The loop, every connection and every chat_client attached to
// it belong to the one thread that calls run_once / run_until; no other thread may touch any
// of them.
// Lifetime: handlers must be removed (remove_fd, cancel_timer) before they are destroyed.
// Removing a handler or cancelling a timer from inside a callback is safe, including the
// running one.
// Errors: ok() is false if epoll could not be created; run_once then returns -1 at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace pchat::client {

class client_loop {
 public:
  using clock = std::chrono::steady_clock;
  using timer_id = uint64_t;  // 0 is never a valid id

  // Receives readiness for one registered fd.
  class io_handler {
   public:
    // `events` is the EPOLL* mask reported.
    virtual void on_io(uint32_t events) = 0;
    // Called once per turn after request_flush(): write queued output now.
    virtual void on_flush() {}

   protected:
    ~io_handler() = default;
  };

  client_loop();
  ~client_loop();
  client_loop(const client_loop&) = delete;
  client_loop& operator=(const client_loop&) = delete;

  bool ok() const { return epfd_ >= 0; }
  const std::string& error() const { return error_; }

  // Registers `fd` for `events` (EPOLLIN, EPOLLOUT, ...). Returns a registration id, or 0 on
  // failure (errno kept). The handler must outlive the registration.
  uint64_t add_fd(int fd, uint32_t events, io_handler* handler);
  bool modify_fd(uint64_t registration, int fd, uint32_t events);
  // Safe from inside on_io of any handler; pending events of this registration are dropped.
  void remove_fd(uint64_t registration, int fd);
  // Asks for handler->on_flush() at the end of this turn (or the start of the next one).
  void request_flush(uint64_t registration);

  // Timers fire once, in deadline order, from run_once. Returns the id for cancel_timer.
  timer_id add_timer(clock::duration delay, std::function<void()> fn);
  timer_id add_timer_at(clock::time_point when, std::function<void()> fn);
  // Cancelling an unknown or already fired id is a no-op.
  void cancel_timer(timer_id id);
  size_t live_timers() const { return timers_.size(); }

  // One turn (see the file comment). Returns the number of fd events plus timers handled,
  // or -1 if the loop is unusable.
  int run_once(int timeout_ms);
  // Runs turns until `done()` is true (checked before each turn) or `deadline` passes.
  // Returns the final value of done().
  bool run_until(const std::function<bool()>& done, clock::time_point deadline);
  bool run_until(const std::function<bool()>& done, clock::duration timeout) {
    return run_until(done, clock::now() + timeout);
  }

  // Size of the shared read buffer connections read into.
  static constexpr size_t kScratchBytes = 64 * 1024;
  // Shared scratch buffer for reads (one per loop, not per connection).
  char* scratch() { return scratch_.data(); }

 private:
  struct timer_entry {
    clock::time_point when;
    timer_id id;
    bool operator>(const timer_entry& o) const {
      return when != o.when ? when > o.when : id > o.id;
    }
  };
  struct live_timer {
    clock::time_point when;
    std::function<void()> fn;
  };

  void flush_requested();
  int fire_due_timers();
  void compact_timer_heap();

  int epfd_ = -1;
  std::string error_;
  uint64_t next_registration_ = 1;
  std::unordered_map<uint64_t, io_handler*> handlers_;
  std::vector<uint64_t> flush_queue_;
  std::vector<uint64_t> flushing_;
  timer_id next_timer_ = 1;
  // Min-heap of deadlines; cancelled timers leave stale entries that are skipped when they
  // surface and purged when they outnumber the live ones (per-command timeouts are mostly
  // cancelled, and must not grow the heap without bound).
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> heap_;
  std::unordered_map<timer_id, live_timer> timers_;
  std::vector<char> scratch_;
};

}  // namespace pchat::client
