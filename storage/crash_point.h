// Named crash points for the kill -9 fault tests (tests/compliance/fault_test.cpp).
// They mark instants where durable state is half-way (synced, renamed, not yet deleted),
// so they live here, below both layers that have them (actors/ and compliance/).
//
// Compiled in always, inert unless the environment variable PCHAT_CRASH_AT names the point:
// then the process ends at once with _exit(137), the status of a SIGKILL, skipping every
// destructor and flush, which is what kill -9 at that instant would leave behind.
//
//   after_capture  commit actor: a group commit holding a post and its compliance event
//                  has synced, before any waiter is answered (the post is not acknowledged)
//   during_batch   adapter output: a temporary file is written and fsynced, not renamed
//   after_rename   compliance runner: the adapter reported success (outputs renamed), before the
//                  batch's events are deleted from staging
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace pchat::storage {

inline void crash_point(const char* name) {
  // Read once: the environment does not change while the server runs.
  static const char* armed = std::getenv("PCHAT_CRASH_AT");
  if (armed != nullptr && std::strcmp(armed, name) == 0) _exit(137);
}

}  // namespace pchat::storage
