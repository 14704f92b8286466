// libFuzzer target: a room-settings body of the admin API (POST/PATCH /api/v1/rooms) and of
// the room-management API (/manage/v1/rooms), parsed as the handlers do (nlohmann, no
// exceptions) and applied to a room by apply_room_settings. A client's JSON must get a
// reason, never an exception (the handler would turn it into a 500) nor a crash; an
// accepted room must show as JSON again.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/room_json.h"
#include "tests/fuzz/fuzz_check.h"

using json = nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json body = json::parse(text, nullptr, false);
  if (!body.is_object()) return 0;  // the handlers answer 400 before applying anything
  pchat::storage::room_record r;
  r.id = "room-1";
  r.name = "Room";
  r.members = {"sip:a@example.com"};
  std::string why;
  try {
    why = pchat::app::apply_room_settings(body, r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "apply_room_settings threw: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  if (!why.empty()) return 0;
  json shown = pchat::app::room_json(r, "example.com");
  // Invalid UTF-8 from the client is replaced when shown (admin_json.h does the same).
  FUZZ_CHECK(!shown.dump(-1, ' ', false, json::error_handler_t::replace).empty());
  return 0;
}
