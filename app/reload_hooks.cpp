#include "app/reload_hooks.h"

#include "log/log.h"

namespace pchat::app {

size_t reload_hooks::run() const {
  size_t failed = 0;
  for (const auto& [name, h] : hooks_) {
    status s = h();
    if (s.is_ok()) {
      PCHAT_LOG(info, "reload", "reloaded", "what=" + name);
    } else {
      ++failed;
      PCHAT_LOG(error, "reload", "reload failed; the previous state stays in force",
                "what=" + name + " error=" + log::quote(s.to_string()));
    }
  }
  return failed;
}

}  // namespace pchat::app
