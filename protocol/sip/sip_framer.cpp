#include "protocol/sip/sip_framer.h"

#include "protocol/sip/sip_text.h"

#include <cctype>
#include <charconv>

namespace pchat::sip {

bool find_content_length(std::string_view headers, size_t* value, bool* bad) {
  *bad = false;
  size_t pos = headers.find('\n');  // skip the start line
  while (pos != std::string_view::npos && pos + 1 < headers.size()) {
    size_t start = pos + 1;
    size_t end = headers.find('\n', start);
    std::string_view line =
        headers.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    pos = end;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(line.substr(0, colon));
    if (!ascii_iequal(name, "content-length") && !ascii_iequal(name, "l")) continue;
    std::string_view v = trim(line.substr(colon + 1));
    size_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) {
      *bad = true;
      return false;
    }
    *value = n;
    return true;
  }
  return false;
}

void sip_framer::append(const char* data, size_t len) {
  // Compact once the consumed prefix dominates, so the buffer does not grow forever.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 64 * 1024)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t take = 0;
  if (skip_ > 0) {
    take = std::min(skip_, len);
    skip_ -= take;
  }
  buf_.append(data + take, len - take);
}

sip_framer::result sip_framer::next(frame* out) {
  if (skip_ > 0) return result::need_more;
  while (pos_ < buf_.size() && (buf_[pos_] == '\r' || buf_[pos_] == '\n')) ++pos_;
  if (pos_ == buf_.size()) return result::need_more;

  std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
  // Search only where a header block can end: not through a body being received or the
  // messages queued behind this one (each read calls next() again).
  std::string_view head = rest.substr(0, max_header_ + 4);
  size_t hdr_end = head.find("\r\n\r\n");
  size_t sep = 4;
  size_t lf = head.substr(0, hdr_end == std::string_view::npos ? head.size() : hdr_end + 2)
                  .find("\n\n");  // tolerate bare-LF peers
  if (lf != std::string_view::npos && (hdr_end == std::string_view::npos || lf < hdr_end)) {
    hdr_end = lf;
    sep = 2;
  }
  if (hdr_end == std::string_view::npos) {
    if (rest.size() > max_header_) {
      error_ = "SIP header block exceeds " + std::to_string(max_header_) + " bytes";
      return result::error;
    }
    return result::need_more;
  }
  if (hdr_end > max_header_) {
    error_ = "SIP header block exceeds " + std::to_string(max_header_) + " bytes";
    return result::error;
  }
  std::string_view headers = rest.substr(0, hdr_end + sep);
  size_t body_len = 0;
  bool bad = false;
  if (!find_content_length(headers, &body_len, &bad) && bad) {
    error_ = "malformed Content-Length";
    return result::error;
  }
  out->declared_body = body_len;
  if (body_len > max_body_) {
    out->bytes = headers;
    out->oversized = true;
    size_t available = rest.size() - headers.size();
    size_t consumed = std::min(available, body_len);
    skip_ = body_len - consumed;
    pos_ += headers.size() + consumed;
    return result::message;
  }
  if (rest.size() < headers.size() + body_len) return result::need_more;
  out->bytes = rest.substr(0, headers.size() + body_len);
  out->oversized = false;
  pos_ += headers.size() + body_len;
  return result::message;
}

}  // namespace pchat::sip
