// The compliance seam: every join, part, post and back-chat read is emitted here.
//
// The channel service calls emit() from many actors at once, so implementations must be
// thread-safe and must not block (hand the event to an actor or a queue and return).
// The default sink drops everything; the compliance pipeline provides a real one.
#pragma once

#include <cstdint>
#include <string>

#include "storage/records.h"

namespace pchat::compliance {

// The kinds of compliance events are the stored ones (storage/records.h).
using event_type = storage::compliance_kind;

struct event {
  event_type type = event_type::chat;
  std::string room_id;       // the URI is derived at delivery (ma-chan://<domain>/<room_id>)
  std::string room_name;
  std::string user_uri;
  std::string user_display;
  uint64_t message_id = 0;  // room sequence number, 0 when not about one message
  std::string text;
  int64_t ts_micros = 0;    // UTC, microseconds since the Unix epoch
};

class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void emit(const event& e) = 0;
};

// Drops every event (compliance disabled).
class noop_sink final : public event_sink {
 public:
  void emit(const event&) override {}
};

}  // namespace pchat::compliance
