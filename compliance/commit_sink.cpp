#include "compliance/commit_sink.h"

#include <caf/all.hpp>

#include "actors/messages.h"
#include "compliance/event_record.h"

namespace pchat::compliance {

void commit_sink::emit(const event& e) {
  caf::anon_send(commit_, actors::capture_atom::value, to_record(e));
}

}  // namespace pchat::compliance
