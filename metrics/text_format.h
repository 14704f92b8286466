// The Prometheus text exposition format (version 0.0.4): the one codec of it. pchatd writes
// /metrics with text_writer; tests and tools read a scrape with parse_text. prometheus-cpp
// (Debian prometheus-cpp-dev) was not used: its histogram takes a mutex per observation and
// its families a lock per labelled lookup, where the post path wants relaxed atomics only
// (instruments.h); the format itself is a page of code.
//
//   # HELP <name> <text>            (\ and newline escaped)
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<value>",...} <value>     (value: a number, +Inf, -Inf or NaN;
//                                              label values escape \ " and newline)
// A histogram family `h` is written as h_bucket{le="<bound>"} (cumulative, ending with
// le="+Inf"), h_sum and h_count.
//
// Thread safety: a text_writer is one thread's; parse_text is a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/instruments.h"
#include "status/status.h"

namespace pchat::metrics {

// The Content-Type of a scrape answer.
inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

struct label {
  std::string name;   // [a-zA-Z_][a-zA-Z0-9_]*
  std::string value;  // any UTF-8
};
using label_set = std::vector<label>;

enum class family_type { counter, gauge, histogram };

class text_writer {
 public:
  // Starts a family: its HELP and TYPE lines. Its samples follow, before the next family.
  // REQUIRES: `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), each family once.
  void family(std::string_view name, family_type type, std::string_view help);
  // One sample. Integers are written exactly; doubles in their shortest round-trip form.
  void sample(std::string_view name, const label_set& labels, uint64_t value);
  void sample(std::string_view name, const label_set& labels, int64_t value);
  void sample(std::string_view name, const label_set& labels, double value);
  // A histogram's samples: name_bucket per bound and +Inf, name_sum, name_count; bounds and
  // sum are divided by `scale` (1e6 writes microseconds as seconds, 1 leaves them).
  void histogram(std::string_view name, const label_set& labels, const histogram_snapshot& h,
                 double scale = 1.0);
  // The text so far (the writer is empty afterwards).
  std::string take() { return std::move(out_); }

 private:
  void head(std::string_view name, const label_set& labels, const label* extra);
  std::string out_;
};

// One sample as read back.
struct sample {
  std::string name;
  label_set labels;  // in the order written
  double value = 0;
};

// Parses exposition text: comment and blank lines are skipped, a timestamp after the value
// is accepted and dropped. invalid_argument naming the line number on anything else.
status parse_text(std::string_view text, std::vector<sample>* out);

// The value of the first sample named `name` that has every label of `labels` (it may have
// more), or nullopt.
std::optional<double> find_sample(const std::vector<sample>& samples, std::string_view name,
                                  const label_set& labels = {});

}  // namespace pchat::metrics
