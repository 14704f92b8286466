#include "tools/pchatctl/output.h"

#include <cstdio>
#include <iostream>

namespace pchat::ctl {
namespace {

using json = nlohmann::json;

std::string cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_array()) {
    std::string out;
    for (auto& e : v) out += (out.empty() ? "" : ",") + cell(e);
    return out;
  }
  return v.dump();
}

}  // namespace

int check(const http_result& r) {
  if (!r.error.empty()) {
    std::cerr << "pchatctl: " << r.error << "\n";
    return kExitUnreachable;
  }
  if (r.status >= 400) {
    json j = json::parse(r.body, nullptr, false);
    std::cerr << "pchatctl: server refused (" << r.status << "): "
              << (j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                 : r.body)
              << "\n";
    return kExitRefused;
  }
  return kExitOk;
}

int show(const http_result& r, const ctl_context& ctx, const std::vector<column>& cols) {
  if (int rc = check(r); rc != kExitOk) return rc;
  if (ctx.json) {
    std::cout << r.body;
    return kExitOk;
  }
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "pchatctl: the server's answer is not JSON (is " << ctx.server << " a pchatd admin port?)\n";
    return kExitUnreachable;
  }
  if (j.is_array() && cols.empty()) {  // a plain list (e.g. eligible principals): one per line
    for (auto& v : j) std::cout << cell(v) << "\n";
  } else if (j.is_array()) {
    print_table(j, cols);
  } else if (!cols.empty()) {
    print_table(json::array({j}), cols);
  } else {
    print_kv(j);
  }
  return kExitOk;
}

void print_table(const json& rows, const std::vector<column>& cols) {
  std::vector<size_t> width;
  for (auto& [key, title] : cols) width.push_back(title.size());
  for (auto& row : rows)
    for (size_t i = 0; i < cols.size(); ++i) width[i] = std::max(width[i], cell(row.value(cols[i].first, json())).size());
  auto line = [&](auto text_of) {
    std::string out;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string t = text_of(i);
      out += t;
      if (i + 1 < cols.size()) out += std::string(width[i] - t.size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line([&](size_t i) { return cols[i].second; });
  for (auto& row : rows) line([&](size_t i) { return cell(row.value(cols[i].first, json())); });
}

void print_kv(const json& j) {
  for (auto& [k, v] : j.items()) std::cout << k << ": " << cell(v) << "\n";
}

}  // namespace pchat::ctl
