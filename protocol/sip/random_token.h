// Unpredictable tokens for the SIP edge (Digest nonces, dialog tags, Via branches) from the
// kernel's CSPRNG (getrandom(2)). A token guessed by an off-path peer would let it answer a
// challenge it never saw or speak into someone else's dialog, so nothing here may fall back
// to a seeded generator: if the kernel cannot give randomness the process stops.
// Thread safety: any thread.
#pragma once

#include <cstddef>
#include <string>

namespace pchat::sip {

// `n` random bytes as 2n lower-case hex digits. REQUIRES: n <= 64.
std::string random_hex(size_t n);

}  // namespace pchat::sip
