#include "tests/support/scrape.h"

#include "tests/support/http_client.h"

namespace pchat::testing {

double scrape_result::value(const std::string& name, const metrics::label_set& labels) const {
  auto v = metrics::find_sample(samples, name, labels);
  return v ? *v : -1;
}

scrape_result scrape(int http_port) {
  scrape_result r;
  auto reply = http(http_port, "GET", "/metrics");
  r.status = reply.status;
  if (reply.status != 200) {
    r.error = "HTTP " + std::to_string(reply.status) + ": " + reply.body;
    return r;
  }
  if (auto s = metrics::parse_text(reply.body, &r.samples); !s.is_ok()) r.error = s.to_string();
  return r;
}

}  // namespace pchat::testing
