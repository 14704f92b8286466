// The event_sink used when compliance is on: every event becomes a (capture, record)
// message to the commit actor, which assigns its global sequence and stages it with the
// next group commit. emit() never blocks (one mailbox enqueue) and is thread-safe.
//
// Posts do not come here: their CHAT event rides in the post's own commit (room_actor.cpp),
// so that an acknowledged post always has its event.
// Lifetime: holds a handle to the commit actor; destroy it before the actor_system.
#pragma once

#include <caf/actor.hpp>

#include "compliance/event_sink.h"

namespace pchat::compliance {

class commit_sink final : public event_sink {
 public:
  explicit commit_sink(caf::actor commit) : commit_(std::move(commit)) {}
  void emit(const event& e) override;

 private:
  caf::actor commit_;
};

}  // namespace pchat::compliance
