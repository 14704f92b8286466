#include "tools/client/sip_wire.h"

#include <charconv>
#include <cstring>
#include <utility>

namespace pchat::client {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kEndOfHead = "\r\n\r\n";
constexpr std::string_view kVersion = "SIP/2.0";
// A drained framer buffer larger than this is released instead of being kept for reuse:
// tens of thousands of idle connections must not each hold a large buffer.
constexpr size_t kKeepBufferCapacity = 16 * 1024;

using text::ascii_lower;

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 3261 token characters (method names, header names).
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("-.!%*_+`'~", c) != nullptr && c != '\0';
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

struct compact_pair {
  char compact;
  std::string_view full;
};
// RFC 3261 §7.3.3 plus the registered extensions a SIP server may emit.
constexpr compact_pair kCompactNames[] = {
    {'a', "Accept-Contact"},
    {'b', "Referred-By"},
    {'c', "Content-Type"},
    {'d', "Request-Disposition"},
    {'e', "Content-Encoding"},
    {'f', "From"},
    {'i', "Call-ID"},
    {'j', "Reject-Contact"},
    {'k', "Supported"},
    {'l', "Content-Length"},
    {'m', "Contact"},
    {'o', "Event"},
    {'r', "Refer-To"},
    {'s', "Subject"},
    {'t', "To"},
    {'u', "Allow-Events"},
    {'v', "Via"},
    {'x', "Session-Expires"},
};

// True if a header named `have` answers a lookup for `want` (full or compact either way).
bool header_name_matches(std::string_view have, std::string_view want) {
  if (ascii_iequal(have, want)) return true;
  if (have.size() == 1 && want.size() > 1) return ascii_iequal(full_header_name(have[0]), want);
  if (want.size() == 1 && have.size() > 1) return ascii_iequal(full_header_name(want[0]), have);
  return false;
}

// Strict decimal (no sign, no spaces inside); false on overflow or junk.
bool parse_decimal(std::string_view s, size_t& out) {
  s = trim(s);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

wire_status parse_start_line(std::string_view line, sip_message& out) {
  if (line.size() >= kVersion.size() + 1 && ascii_iequal(line.substr(0, kVersion.size()), kVersion) &&
      line[kVersion.size()] == ' ') {
    // Status line: "SIP/2.0 200 OK". A missing reason phrase is tolerated here; the client
    // reports it, because SIPE would stall on it (xccos-wire.md §2.2).
    std::string_view rest = line.substr(kVersion.size() + 1);
    if (rest.size() < 3 || rest[0] < '1' || rest[0] > '6' || rest[1] < '0' || rest[1] > '9' ||
        rest[2] < '0' || rest[2] > '9' || (rest.size() > 3 && rest[3] != ' ')) {
      return wire_status::error(wire_status::code::bad_start_line,
                                "bad status line: " + std::string(line.substr(0, 80)));
    }
    out.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
    out.reason = rest.size() > 4 ? std::string(rest.substr(4)) : std::string();
    return wire_status::success();
  }
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return wire_status::error(wire_status::code::bad_start_line,
                              "bad request line: " + std::string(line.substr(0, 80)));
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || uri.empty() || !ascii_iequal(version, kVersion)) {
    return wire_status::error(wire_status::code::bad_start_line,
                              "bad request line: " + std::string(line.substr(0, 80)));
  }
  out.status = 0;
  out.method.assign(method);
  out.request_uri.assign(uri);
  return wire_status::success();
}

// Content-Length as declared; `present` false if there is none.
wire_status content_length_of(const sip_message& m, bool& present, size_t& value) {
  const std::string* cl = m.header("Content-Length");
  present = cl != nullptr;
  value = 0;
  if (cl && !parse_decimal(*cl, value)) {
    return wire_status::error(wire_status::code::bad_content_length,
                              "bad Content-Length: " + cl->substr(0, 40));
  }
  return wire_status::success();
}

}  // namespace

// ---------------------------------------------------------------------------
// Helpers.

char compact_header_name(std::string_view full_name) {
  for (const auto& p : kCompactNames) {
    if (ascii_iequal(p.full, full_name)) return p.compact;
  }
  return '\0';
}

std::string_view full_header_name(char compact) {
  char c = ascii_lower(compact);
  for (const auto& p : kCompactNames) {
    if (p.compact == c) return p.full;
  }
  return {};
}

std::string_view uri_of(std::string_view value) {
  size_t lt = value.find('<');
  if (lt != std::string_view::npos) {
    size_t gt = value.find('>', lt + 1);
    if (gt == std::string_view::npos) return {};
    return trim(value.substr(lt + 1, gt - lt - 1));
  }
  value = trim(value);
  size_t semi = value.find(';');
  return semi == std::string_view::npos ? value : trim(value.substr(0, semi));
}

std::string_view header_param(std::string_view value, std::string_view param) {
  size_t start;
  size_t lt = value.find('<');
  if (lt != std::string_view::npos) {
    size_t gt = value.find('>', lt + 1);
    if (gt == std::string_view::npos) return {};
    start = gt + 1;
  } else {
    start = value.find(';');
    if (start == std::string_view::npos) return {};
  }
  std::string_view rest = value.substr(start);
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
    size_t end = rest.find_first_of(";,");
    std::string_view item = rest.substr(0, end);
    size_t eq = item.find('=');
    std::string_view name = trim(item.substr(0, eq));
    if (ascii_iequal(name, param)) {
      return eq == std::string_view::npos ? std::string_view() : trim(item.substr(eq + 1));
    }
    if (end != std::string_view::npos && rest[end] == ',') break;  // next header value
  }
  return {};
}

// ---------------------------------------------------------------------------
// sip_message.

const std::string* sip_message::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (header_name_matches(h.name, name)) return &h.value;
  }
  return nullptr;
}

size_t sip_message::header_count(std::string_view name) const {
  size_t n = 0;
  for (const auto& h : headers) {
    if (header_name_matches(h.name, name)) ++n;
  }
  return n;
}

std::vector<std::string_view> sip_message::header_values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& h : headers) {
    if (header_name_matches(h.name, name)) out.emplace_back(h.value);
  }
  return out;
}

std::string_view sip_message::call_id() const {
  const std::string* v = header("Call-ID");
  return v ? std::string_view(*v) : std::string_view();
}

uint32_t sip_message::cseq_number() const {
  const std::string* v = header("CSeq");
  if (!v) return 0;
  std::string_view s = trim(*v);
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() ? n : 0;
}

std::string_view sip_message::cseq_method() const {
  const std::string* v = header("CSeq");
  if (!v) return {};
  std::string_view s = trim(*v);
  size_t sp = s.find_first_of(" \t");
  return sp == std::string_view::npos ? std::string_view() : trim(s.substr(sp + 1));
}

std::string_view sip_message::from_tag() const {
  const std::string* v = header("From");
  return v ? header_param(*v, "tag") : std::string_view();
}

std::string_view sip_message::to_tag() const {
  const std::string* v = header("To");
  return v ? header_param(*v, "tag") : std::string_view();
}

std::string_view sip_message::from_uri() const {
  const std::string* v = header("From");
  return v ? uri_of(*v) : std::string_view();
}

std::string_view sip_message::to_uri() const {
  const std::string* v = header("To");
  return v ? uri_of(*v) : std::string_view();
}

// ---------------------------------------------------------------------------
// Parsing.

wire_status parse_sip_head(std::string_view head, sip_message& out) {
  out.method.clear();
  out.request_uri.clear();
  out.status = 0;
  out.reason.clear();
  out.headers.clear();

  size_t eol = head.find(kCrlf);
  std::string_view start = head.substr(0, eol);
  wire_status st = parse_start_line(start, out);
  if (!st.ok()) return st;

  size_t pos = eol == std::string_view::npos ? head.size() : eol + kCrlf.size();
  while (pos < head.size()) {
    eol = head.find(kCrlf, pos);
    std::string_view line = head.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? head.size() : eol + kCrlf.size();
    if (line.empty()) continue;  // tolerate a stray empty line at the very end
    if (is_wsp(line.front())) {
      // Continuation line (RFC 3261 §7.3.1): folds into the previous value.
      if (out.headers.empty()) {
        return wire_status::error(wire_status::code::bad_header,
                                  "continuation line before any header");
      }
      std::string_view more = trim(line);
      if (!more.empty()) {
        std::string& v = out.headers.back().value;
        if (!v.empty()) v.push_back(' ');
        v.append(more);
      }
      continue;
    }
    size_t colon = line.find(':');
    std::string_view name =
        colon == std::string_view::npos ? std::string_view() : trim(line.substr(0, colon));
    if (!is_token(name)) {
      return wire_status::error(wire_status::code::bad_header,
                                "bad header line: " + std::string(line.substr(0, 80)));
    }
    out.headers.push_back({std::string(name), std::string(trim(line.substr(colon + 1)))});
  }
  return wire_status::success();
}

wire_status parse_sip_datagram(std::string_view datagram, sip_message& out) {
  size_t skip = 0;
  while (skip < datagram.size() && (datagram[skip] == '\r' || datagram[skip] == '\n')) ++skip;
  datagram.remove_prefix(skip);
  out = sip_message();
  if (datagram.empty()) return wire_status::success();  // keep-alive only
  if (datagram.size() > kMaxSipMessageBytes) {
    return wire_status::error(wire_status::code::too_large, "datagram over 1 MiB");
  }
  size_t end = datagram.find(kEndOfHead);
  if (end == std::string_view::npos) {
    return wire_status::error(wire_status::code::bad_header, "datagram without end of headers");
  }
  wire_status st = parse_sip_head(datagram.substr(0, end), out);
  if (!st.ok()) return st;
  std::string_view body = datagram.substr(end + kEndOfHead.size());
  bool present = false;
  size_t cl = 0;
  st = content_length_of(out, present, cl);
  if (!st.ok()) return st;
  out.content_length_present = present;
  if (present) {
    if (cl > body.size()) {
      return wire_status::error(wire_status::code::bad_content_length,
                                "Content-Length larger than the datagram");
    }
    body = body.substr(0, cl);
  }
  out.body.assign(body);
  return wire_status::success();
}

// ---------------------------------------------------------------------------
// Stream framer.

void sip_stream_framer::append(std::string_view bytes) {
  if (!error_.ok()) return;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

sip_stream_framer::result sip_stream_framer::next(sip_message& out) {
  if (!error_.ok()) return result::error;

  // Keep-alives: CR/LF between messages (SIPE sends CRLFCRLF every 60 s).
  if (pending_total_ == 0 && scan_from_ == 0) {
    while (pos_ < buf_.size() && (buf_[pos_] == '\r' || buf_[pos_] == '\n')) {
      ++pos_;
      ++keepalive_bytes_;
    }
  }
  const size_t avail = buf_.size() - pos_;
  if (avail == 0) {
    buf_.clear();
    pos_ = 0;
    if (buf_.capacity() > kKeepBufferCapacity) std::string().swap(buf_);
    return result::need_more;
  }
  if (pending_total_ != 0 && avail < pending_total_) return result::need_more;

  std::string_view data(buf_.data() + pos_, avail);
  size_t end = data.find(kEndOfHead, scan_from_);
  if (end == std::string_view::npos) {
    if (avail > max_message_) {
      error_ = wire_status::error(wire_status::code::too_large,
                                  "header block over " + std::to_string(max_message_) + " bytes");
      return result::error;
    }
    // Resume the search where a CRLFCRLF split over two reads could still start.
    scan_from_ = avail >= kEndOfHead.size() ? avail - (kEndOfHead.size() - 1) : 0;
    return result::need_more;
  }

  wire_status st = parse_sip_head(data.substr(0, end), out);
  if (!st.ok()) {
    error_ = std::move(st);
    return result::error;
  }
  bool present = false;
  size_t cl = 0;
  st = content_length_of(out, present, cl);
  if (!st.ok()) {
    error_ = std::move(st);
    return result::error;
  }
  if (!present && out.header("Content-Type") != nullptr) {
    error_ = wire_status::error(wire_status::code::missing_content_length,
                                "message with Content-Type but no Content-Length");
    return result::error;
  }
  const size_t head_bytes = end + kEndOfHead.size();
  if (cl > max_message_ || head_bytes + cl > max_message_) {
    error_ = wire_status::error(wire_status::code::too_large,
                                "message of " + std::to_string(head_bytes + cl) + " bytes over " +
                                    std::to_string(max_message_));
    return result::error;
  }
  if (avail < head_bytes + cl) {
    pending_total_ = head_bytes + cl;
    scan_from_ = end;  // the head is complete; find it again at once when the body is in
    return result::need_more;
  }
  out.content_length_present = present;
  out.body.assign(data.substr(head_bytes, cl));
  pos_ += head_bytes + cl;
  pending_total_ = 0;
  scan_from_ = 0;
  return result::message;
}

// ---------------------------------------------------------------------------
// Builders.

std::string build_request(const sip_request_spec& s) {
  std::string out;
  out.reserve(320 + s.request_uri.size() + s.from_uri.size() + s.to_uri.size() + s.call_id.size() +
              s.user_agent.size() + s.extra_headers.size() + s.body.size());
  out.append(s.method).append(" ").append(s.request_uri).append(" SIP/2.0\r\n");
  out.append("Via: SIP/2.0/").append(s.via_transport).append(" ").append(s.via_host);
  out.append(":").append(std::to_string(s.via_port));
  if (!s.branch.empty()) out.append(";branch=").append(s.branch);
  out.append("\r\nFrom: <").append(s.from_uri).append(">");
  if (!s.from_tag.empty()) out.append(";tag=").append(s.from_tag);
  out.append(";epid=").append(s.epid);
  out.append("\r\nTo: <").append(s.to_uri).append(">");
  if (!s.to_tag.empty()) out.append(";tag=").append(s.to_tag);
  out.append("\r\nMax-Forwards: 70\r\nCSeq: ").append(std::to_string(s.cseq)).append(" ");
  out.append(s.method).append("\r\nUser-Agent: ").append(s.user_agent);
  out.append("\r\nCall-ID: ").append(s.call_id).append("\r\n");
  out.append(s.extra_headers);
  out.append("Content-Length: ").append(std::to_string(s.body.size())).append("\r\n\r\n");
  out.append(s.body);
  return out;
}

std::string build_response(const sip_message& request, int status, std::string_view reason,
                           std::string_view contact, std::string_view user_agent) {
  static constexpr std::string_view kKeep[] = {"To",   "From", "Call-ID",
                                               "CSeq", "Via",  "Record-Route"};
  std::string out;
  out.reserve(512);
  out.append("SIP/2.0 ").append(std::to_string(status)).append(" ").append(reason).append("\r\n");
  for (const auto& h : request.headers) {
    for (std::string_view k : kKeep) {
      if (header_name_matches(h.name, k)) {
        out.append(h.name).append(": ").append(h.value).append("\r\n");
        break;
      }
    }
  }
  if (!contact.empty()) out.append("Contact: ").append(contact).append("\r\n");
  out.append("Content-Length: 0\r\nUser-Agent: ").append(user_agent).append("\r\n\r\n");
  return out;
}

}  // namespace pchat::client
