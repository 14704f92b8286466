#include "app/room_json.h"

#include <algorithm>

#include "protocol/xccos/chat_uri.h"

namespace pchat::app {

using json = nlohmann::json;

std::vector<std::string> json_strings(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

namespace {

void add_unique(std::vector<std::string>& list, const std::vector<std::string>& more) {
  for (auto& m : more)
    if (std::find(list.begin(), list.end(), m) == list.end()) list.push_back(m);
}
void remove_all(std::vector<std::string>& list, const std::vector<std::string>& gone) {
  std::erase_if(list, [&](const std::string& x) { return std::find(gone.begin(), gone.end(), x) != gone.end(); });
}

}  // namespace

std::string apply_list_edits(const json& b, const std::string& field, std::vector<std::string>& list) {
  for (const std::string& key : {field, "add_" + field, "remove_" + field})
    if (b.contains(key) && !b[key].is_array()) return key + " must be an array of principals";
  if (b.contains(field)) list = json_strings(b[field]);
  if (b.contains("add_" + field)) add_unique(list, json_strings(b["add_" + field]));
  if (b.contains("remove_" + field)) remove_all(list, json_strings(b["remove_" + field]));
  return {};
}

std::string apply_room_settings(const json& b, storage::room_record& r) {
  // Strings first, checked: nlohmann's value() throws on a number where a string was meant.
  for (auto [key, field] : {std::pair{"name", &r.name}, std::pair{"description", &r.description},
                            std::pair{"topic", &r.topic}, std::pair{"category", &r.category_id},
                            std::pair{"addin", &r.addin}}) {
    if (!b.contains(key)) continue;
    if (!b[key].is_string()) return std::string(key) + " must be a string";
    *field = b[key].get<std::string>();
  }
  for (const char* key : {"privacy", "type", "invitations"})
    if (b.contains(key) && !b[key].is_string()) return std::string(key) + " must be a string";
  if (b.contains("privacy")) {
    std::string v = b.value("privacy", "");
    if (v == "open") r.privacy = storage::room_privacy::open;
    else if (v == "closed") r.privacy = storage::room_privacy::closed;
    else if (v == "secret") r.privacy = storage::room_privacy::secret;
    else return "privacy must be open, closed or secret";
  }
  if (b.contains("type")) {
    std::string v = b.value("type", "");
    if (v == "normal") r.type = storage::room_type::normal;
    else if (v == "auditorium") r.type = storage::room_type::auditorium;
    else return "type must be normal or auditorium";
  }
  if (b.contains("invitations")) {
    std::string v = b.value("invitations", "");
    if (v == "inherit") r.invitations = storage::room_invitations::inherit;
    else if (v == "false" || v == "off") r.invitations = storage::room_invitations::off;
    else return "invitations must be inherit or false";
  }
  if (b.contains("disabled")) {
    if (!b["disabled"].is_boolean()) return "disabled must be true or false";
    r.disabled = b["disabled"].get<bool>();
  }
  for (auto [field, list] : {std::pair{"members", &r.members}, std::pair{"managers", &r.managers},
                             std::pair{"presenters", &r.presenters}}) {
    if (auto why = apply_list_edits(b, field, *list); !why.empty()) return why;
  }
  return {};
}

const char* privacy_name(storage::room_privacy p) {
  return p == storage::room_privacy::open ? "open" : p == storage::room_privacy::closed ? "closed" : "secret";
}

json room_json(const storage::room_record& r, const std::string& domain) {
  return json{{"id", r.id},
              {"uri", xccos::room_uri(domain, r.id)},
              {"name", r.name},
              {"description", r.description},
              {"category_id", r.category_id},
              {"privacy", privacy_name(r.privacy)},
              {"type", r.type == storage::room_type::auditorium ? "auditorium" : "normal"},
              {"disabled", r.disabled},
              {"topic", r.topic},
              {"invitations", r.invitations == storage::room_invitations::off ? "false" : "inherit"},
              {"addin", r.addin},
              {"members", r.members},
              {"managers", r.managers},
              {"presenters", r.presenters}};
}

}  // namespace pchat::app
