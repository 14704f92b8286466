#include "text/admin_name.h"

namespace pchat::text {

bool valid_admin_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxAdminNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace pchat::text
