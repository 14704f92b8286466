#include "metrics/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace pchat::metrics {
namespace {

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    // Plain decimals where they stay short (bucket bounds read "0.0001", as other exporters
    // write them, so that queries naming an `le` match), exponents beyond.
    char buf[400];
    double a = std::fabs(v);
    auto r = a == 0 || (a >= 1e-6 && a < 1e15) ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                                               : std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// \ and newline in HELP; \, " and newline in label values.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

const char* type_name(family_type t) {
  switch (t) {
    case family_type::counter: return "counter";
    case family_type::gauge: return "gauge";
    case family_type::histogram: return "histogram";
  }
  return "untyped";
}

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

// Reads a metric or label name at s[*i]; empty if none.
std::string_view read_name(std::string_view s, size_t* i, bool colon_ok) {
  size_t b = *i;
  if (b >= s.size() || !name_start(s[b]) || (!colon_ok && s[b] == ':')) return {};
  size_t e = b + 1;
  while (e < s.size() && name_char(s[e]) && (colon_ok || s[e] != ':')) ++e;
  *i = e;
  return s.substr(b, e - b);
}

bool parse_value(std::string_view t, double* v) {
  if (t == "+Inf" || t == "Inf") return *v = INFINITY, true;
  if (t == "-Inf") return *v = -INFINITY, true;
  if (t == "NaN") return *v = NAN, true;
  if (t.empty()) return false;
  std::string copy(t);  // strtod: from_chars for double is not in every libstdc++ we build on
  char* end = nullptr;
  *v = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

// One sample line; "" or what is wrong.
std::string parse_line(std::string_view line, sample* out) {
  size_t i = 0;
  std::string_view name = read_name(line, &i, true);
  if (name.empty()) return "expected a metric name";
  out->name = std::string(name);
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::string_view lname = read_name(line, &i, false);
      if (lname.empty()) return "expected a label name";
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return "expected =\" after a label name";
      i += 2;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size()) return "escape at the end of the line";
          char e = line[i++];
          if (e == 'n') value += '\n';
          else if (e == '\\' || e == '"') value += e;
          else return "unknown escape in a label value";
        } else {
          value += c;
        }
      }
      if (!closed) return "unterminated label value";
      out->labels.push_back({std::string(lname), std::move(value)});
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return "expected , or } after a label";
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return "expected a space before the value";
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  size_t e = line.find_first_of(" \t", i);
  std::string_view value = line.substr(i, e == std::string_view::npos ? std::string_view::npos : e - i);
  if (!parse_value(value, &out->value)) return "bad value '" + std::string(value) + "'";
  if (e != std::string_view::npos) {  // an optional timestamp (milliseconds), then nothing
    std::string_view rest = line.substr(e);
    size_t b = rest.find_first_not_of(" \t");
    if (b != std::string_view::npos) {
      rest = rest.substr(b);
      size_t end = rest.find_first_of(" \t");
      std::string_view ts = rest.substr(0, end);
      long long ms = 0;
      auto r = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
      if (r.ec != std::errc() || r.ptr != ts.data() + ts.size()) return "bad timestamp";
      if (end != std::string_view::npos && rest.find_first_not_of(" \t", end) != std::string_view::npos)
        return "unexpected text after the timestamp";
    }
  }
  return {};
}

}  // namespace

void text_writer::family(std::string_view name, family_type type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void text_writer::head(std::string_view name, const label_set& labels, const label* extra) {
  out_ += name;
  if (labels.empty() && extra == nullptr) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto one = [&](const label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.name;
    out_ += "=\"";
    append_escaped(out_, l.value, true);
    out_ += '"';
  };
  for (const auto& l : labels) one(l);
  if (extra) one(*extra);
  out_ += "} ";
}

void text_writer::sample(std::string_view name, const label_set& labels, uint64_t value) {
  head(name, labels, nullptr);
  append_int(out_, value);
  out_ += '\n';
}

void text_writer::sample(std::string_view name, const label_set& labels, int64_t value) {
  head(name, labels, nullptr);
  append_int(out_, value);
  out_ += '\n';
}

void text_writer::sample(std::string_view name, const label_set& labels, double value) {
  head(name, labels, nullptr);
  append_number(out_, value);
  out_ += '\n';
}

void text_writer::histogram(std::string_view name, const label_set& labels, const histogram_snapshot& h,
                            double scale) {
  std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
    std::string le;
    append_number(le, static_cast<double>(h.bounds[i]) / scale);
    label l{"le", std::move(le)};
    head(bucket, labels, &l);
    append_int(out_, h.cumulative[i]);
    out_ += '\n';
  }
  label inf{"le", "+Inf"};
  head(bucket, labels, &inf);
  append_int(out_, h.count);
  out_ += '\n';
  head(std::string(name) + "_sum", labels, nullptr);
  append_number(out_, static_cast<double>(h.sum) / scale);
  out_ += '\n';
  head(std::string(name) + "_count", labels, nullptr);
  append_int(out_, h.count);
  out_ += '\n';
}

status parse_text(std::string_view text, std::vector<sample>* out) {
  out->clear();
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos || line[b] == '#') continue;
    sample s;
    if (std::string why = parse_line(line.substr(b), &s); !why.empty())
      return status::invalid_argument("metrics text line " + std::to_string(line_no) + ": " + why);
    out->push_back(std::move(s));
  }
  return status::ok();
}

std::optional<double> find_sample(const std::vector<sample>& samples, std::string_view name,
                                  const label_set& labels) {
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& want : labels) {
      bool found = false;
      for (const auto& have : s.labels)
        if (have.name == want.name && have.value == want.value) found = true;
      all = all && found;
    }
    if (all) return s.value;
  }
  return std::nullopt;
}

}  // namespace pchat::metrics
