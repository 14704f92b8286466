#include "tools/client/client_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace pchat::client {
namespace {

constexpr int kMaxEventsPerTurn = 512;
// The heap is rebuilt from the live timers when stale entries exceed this multiple.
constexpr size_t kStaleFactor = 2;
constexpr size_t kMinHeapForCompaction = 4096;

}  // namespace

client_loop::client_loop() : scratch_(kScratchBytes) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) error_ = std::string("epoll_create1: ") + std::strerror(errno);
}

client_loop::~client_loop() {
  if (epfd_ >= 0) ::close(epfd_);
}

uint64_t client_loop::add_fd(int fd, uint32_t events, io_handler* handler) {
  if (epfd_ < 0) return 0;
  uint64_t reg = next_registration_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = reg;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return 0;
  handlers_.emplace(reg, handler);
  return reg;
}

bool client_loop::modify_fd(uint64_t registration, int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = registration;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void client_loop::remove_fd(uint64_t registration, int fd) {
  if (handlers_.erase(registration) == 0) return;
  if (fd >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

void client_loop::request_flush(uint64_t registration) {
  flush_queue_.push_back(registration);
}

client_loop::timer_id client_loop::add_timer(clock::duration delay, std::function<void()> fn) {
  return add_timer_at(clock::now() + delay, std::move(fn));
}

client_loop::timer_id client_loop::add_timer_at(clock::time_point when, std::function<void()> fn) {
  timer_id id = next_timer_++;
  heap_.push({when, id});
  timers_.emplace(id, live_timer{when, std::move(fn)});
  return id;
}

void client_loop::cancel_timer(timer_id id) {
  if (id == 0) return;
  timers_.erase(id);
  if (heap_.size() > kMinHeapForCompaction && heap_.size() > kStaleFactor * timers_.size()) {
    compact_timer_heap();
  }
}

void client_loop::compact_timer_heap() {
  std::vector<timer_entry> live;
  live.reserve(timers_.size());
  for (const auto& [id, t] : timers_) live.push_back({t.when, id});
  heap_ = decltype(heap_)(std::greater<>(), std::move(live));
}

void client_loop::flush_requested() {
  // Handlers may request more flushes while flushing (a write completing a message that
  // triggers another): swap so that those land in the next round.
  for (int round = 0; round < 4 && !flush_queue_.empty(); ++round) {
    flushing_.clear();
    flushing_.swap(flush_queue_);
    for (uint64_t reg : flushing_) {
      auto it = handlers_.find(reg);
      if (it != handlers_.end()) it->second->on_flush();
    }
  }
}

int client_loop::fire_due_timers() {
  int fired = 0;
  const clock::time_point now = clock::now();
  while (!heap_.empty() && heap_.top().when <= now) {
    timer_id id = heap_.top().id;
    heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second.fn);
    timers_.erase(it);
    fn();
    ++fired;
  }
  return fired;
}

int client_loop::run_once(int timeout_ms) {
  if (epfd_ < 0) return -1;
  flush_requested();

  int wait_ms = timeout_ms < 0 ? -1 : timeout_ms;
  while (!heap_.empty() && timers_.find(heap_.top().id) == timers_.end()) heap_.pop();
  if (!heap_.empty()) {
    auto until = heap_.top().when - clock::now();
    // Round up so that a timer due in 0.3 ms does not turn into a busy loop of 0 ms waits.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(until).count();
    if (ms < 0) ms = 0;
    if (wait_ms < 0 || ms < wait_ms) wait_ms = static_cast<int>(ms);
  }
  if (!flush_queue_.empty()) wait_ms = 0;

  epoll_event events[kMaxEventsPerTurn];
  int n = epoll_wait(epfd_, events, kMaxEventsPerTurn, wait_ms);
  if (n < 0) {
    if (errno != EINTR) error_ = std::string("epoll_wait: ") + std::strerror(errno);
    n = 0;
  }
  for (int i = 0; i < n; ++i) {
    // Looked up per event: an earlier handler in this batch may have removed this one.
    auto it = handlers_.find(events[i].data.u64);
    if (it != handlers_.end()) it->second->on_io(events[i].events);
  }
  int handled = n + fire_due_timers();
  flush_requested();
  return handled;
}

bool client_loop::run_until(const std::function<bool()>& done, clock::time_point deadline) {
  while (!done()) {
    auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) return done();
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    // Short waits keep the predicate fresh even if nothing on the loop changes it.
    if (run_once(static_cast<int>(ms > 50 ? 50 : ms)) < 0) return done();
  }
  return true;
}

}  // namespace pchat::client
