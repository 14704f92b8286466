#include "status/status.h"

namespace pchat {

std::string status::to_string() const {
  const char* kind = "";
  switch (code_) {
    case code::ok:
      return "OK";
    case code::not_found:
      kind = "Not found: ";
      break;
    case code::invalid_argument:
      kind = "Invalid argument: ";
      break;
    case code::already_exists:
      kind = "Already exists: ";
      break;
    case code::corruption:
      kind = "Corruption: ";
      break;
    case code::io_error:
      kind = "IO error: ";
      break;
  }
  return kind + reason_;
}

}  // namespace pchat
