// The name an administrator acts under in the admin API: pchatctl sends it in the
// X-PChat-Admin header (the login behind sudo, or --admin-name), pchatd records the
// admin's own compliance events as "admin:NAME". The admin token authenticates the
// request; the name attributes it (every holder of the token is an administrator).
//
//   NAME := 1..64 of A-Z a-z 0-9 . _ @ + -      (safe in an HTTP header, a URI and a CSV cell)
#pragma once

#include <cstddef>
#include <string_view>

namespace pchat::text {

inline constexpr size_t kMaxAdminNameBytes = 64;

bool valid_admin_name(std::string_view name);

}  // namespace pchat::text
