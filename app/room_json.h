// Room settings as the JSON APIs take and show them (admin API and room-management API):
// one parser, one view. Pure functions of their arguments: no actors, no store, so the
// parser can be fuzzed on its own (tests/fuzz/fuzz_room_json.cpp).
// Errors are values: the parsers return what is wrong, never throw on a client's JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "storage/records.h"

namespace pchat::app {

// Applies a room request's settings (New-/Set-CsPersistentChatRoom fields: name,
// description, topic, category, privacy, type, invitations, disabled, addin, and members,
// managers, presenters as whole lists or add_/remove_ edits) to `r`. Returns what is wrong
// with the request, or empty.
std::string apply_room_settings(const nlohmann::json& b, storage::room_record& r);

// The strings of a JSON array (other elements and non-arrays: none).
std::vector<std::string> json_strings(const nlohmann::json& j);
// `field` replaces the list, `add_<field>` and `remove_<field>` edit it. Returns what is
// wrong (a value that is not an array), or empty.
std::string apply_list_edits(const nlohmann::json& b, const std::string& field,
                             std::vector<std::string>& list);

const char* privacy_name(storage::room_privacy p);
nlohmann::json room_json(const storage::room_record& r, const std::string& domain);

}  // namespace pchat::app
