#include "protocol/sip/random_token.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "log/log.h"

namespace pchat::sip {

std::string random_hex(size_t n) {
  uint8_t buf[64];
  if (n > sizeof buf) n = sizeof buf;
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(buf + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      // No safe fallback exists (see the header); say why before stopping.
      log::write(log::level::error, "sip", "getrandom failed: cannot make unpredictable tokens",
                 "reason=" + log::quote(std::strerror(errno)));
      std::abort();
    }
    got += static_cast<size_t>(r);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[buf[i] >> 4];
    out[2 * i + 1] = kHex[buf[i] & 0xf];
  }
  return out;
}

}  // namespace pchat::sip
