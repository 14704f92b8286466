// Reading a running pchatd's /metrics in tests: one GET from loopback (no token needed),
// parsed with the product's own codec (metrics/text_format.h).
#pragma once

#include <string>
#include <vector>

#include "metrics/text_format.h"

namespace pchat::testing {

struct scrape_result {
  int status = 0;                        // the HTTP status (0: no answer)
  std::vector<metrics::sample> samples;  // empty unless 200 and parsed
  std::string error;                     // why samples is empty, if it is
  // The value of `name` with these labels; -1 when absent (a test failure names it).
  double value(const std::string& name, const metrics::label_set& labels = {}) const;
};

scrape_result scrape(int http_port);

}  // namespace pchat::testing
