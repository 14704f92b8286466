#include "pool/node_record.h"

#include <nlohmann/json.hpp>

#include "pool/pool_settings.h"

namespace pchat::pool {

std::string encode(const node_record& r) {
  nlohmann::json j = {{"name", r.name},           {"tag", r.tag},
                      {"host", r.host},           {"pool_port", r.pool_port},
                      {"sip_port", r.sip_port},   {"http_port", r.http_port},
                      {"draining", r.draining}};
  return j.dump();
}

status decode(std::string_view json, node_record* out) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return status::invalid_argument("node record is not a JSON object");
  auto port = [&](const char* field, uint16_t* p, bool required) -> status {
    auto it = j.find(field);
    if (it == j.end()) return required ? status::invalid_argument(std::string("node record has no ") + field) : status::ok();
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 65535)
      return status::invalid_argument(std::string("node record's ") + field + " is not 0..65535");
    *p = static_cast<uint16_t>(it->get<uint64_t>());
    return status::ok();
  };
  node_record r;
  auto name = j.find("name");
  auto host = j.find("host");
  if (name == j.end() || !name->is_string() || !valid_name(name->get<std::string>()))
    return status::invalid_argument("node record has no valid name");
  if (host == j.end() || !host->is_string() || host->get<std::string>().empty())
    return status::invalid_argument("node record has no host");
  r.name = name->get<std::string>();
  r.host = host->get<std::string>();
  for (auto s : {port("tag", &r.tag, true), port("pool_port", &r.pool_port, true), port("sip_port", &r.sip_port, false),
                 port("http_port", &r.http_port, false)})
    if (!s.is_ok()) return s;
  if (r.tag == 0 || r.pool_port == 0) return status::invalid_argument("node record's tag and pool_port must not be 0");
  if (auto d = j.find("draining"); d != j.end()) {
    if (!d->is_boolean()) return status::invalid_argument("node record's draining is not a boolean");
    r.draining = d->get<bool>();
  }
  *out = std::move(r);
  return status::ok();
}

}  // namespace pchat::pool
