#include "protocol/sip/sip_message.h"

#include "protocol/sip/sip_text.h"

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

namespace pchat::sip {
namespace {

// Canonical full name for the headers we echo; empty for the others.
std::string_view echo_name(std::string_view name) {
  if (ascii_iequal(name, "via") || ascii_iequal(name, "v")) return "Via";
  if (ascii_iequal(name, "from") || ascii_iequal(name, "f")) return "From";
  if (ascii_iequal(name, "to") || ascii_iequal(name, "t")) return "To";
  if (ascii_iequal(name, "call-id") || ascii_iequal(name, "i")) return "Call-ID";
  if (ascii_iequal(name, "cseq")) return "CSeq";
  return {};
}

// Extracts ";tag=..." from a From/To value (after the URI's closing '>' if any).
std::string tag_of(std::string_view v) {
  size_t gt = v.find('>');
  size_t from = gt == std::string_view::npos ? 0 : gt;
  std::string lower(v.substr(from));
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t t = lower.find(";tag=");
  if (t == std::string::npos) return {};
  size_t start = from + t + 5;
  size_t end = start;
  while (end < v.size() && v[end] != ';' && v[end] != ' ' && v[end] != ',' && v[end] != '\r')
    ++end;
  return std::string(v.substr(start, end - start));
}

// Which of the headers a response must echo were present.
struct echo_seen {
  bool via = false, from = false, to = false, call_id = false, cseq = false;
  bool all() const { return via && from && to && call_id && cseq; }
};

// Walks the header lines (unfolding continuation lines) and fills the raw fields. With
// `build_echo` false (a response to one of our requests: the bulk of the traffic) only
// the From tag and the CSeq number are taken (all a response is matched by) and nothing is
// copied for an echo.
void scan_raw(std::string_view bytes, sip_message* m, std::string_view* start_line,
              echo_seen* seen, bool build_echo) {
  size_t eol = bytes.find('\n');
  *start_line = trim(bytes.substr(0, eol));
  size_t pos = eol;
  std::string_view name, value;  // views into `bytes`...
  std::string folded;            // ...unless a continuation line had to be joined
  auto flush = [&]() {
    if (name.empty()) return;
    std::string_view v = trim(folded.empty() ? value : std::string_view(folded));
    std::string_view full = echo_name(name);
    if (full.empty()) {
      if (ascii_iequal(name, "proxy-authorization")) m->proxy_authorization = std::string(v);
      else if (ascii_iequal(name, "authorization")) m->authorization = std::string(v);
    } else if (full == "Via") {
      seen->via = true;
      if (build_echo) m->echo.append("Via: ").append(v).append("\r\n");
    } else if (full == "From") {
      seen->from = true;
      if (build_echo) m->echo.append("From: ").append(v).append("\r\n");
      m->from_tag = tag_of(v);
    } else if (full == "To") {
      seen->to = true;
      if (build_echo) {
        m->to_line = std::string(v);
        m->to_tag = tag_of(v);
      }
    } else if (full == "Call-ID") {
      seen->call_id = true;
      if (build_echo) {
        m->echo.append("Call-ID: ").append(v).append("\r\n");
        m->call_id = std::string(v);
      }
    } else if (full == "CSeq") {
      seen->cseq = true;
      if (build_echo) m->echo.append("CSeq: ").append(v).append("\r\n");
      auto sp = v.find(' ');
      uint32_t n = 0;
      std::from_chars(v.data(), v.data() + (sp == std::string_view::npos ? v.size() : sp), n);
      m->cseq = n;
      if (build_echo && sp != std::string_view::npos)
        m->cseq_method = std::string(trim(v.substr(sp + 1)));
    }
    name = {};
    folded.clear();
  };
  while (pos != std::string_view::npos && pos + 1 < bytes.size()) {
    size_t start = pos + 1;
    size_t end = bytes.find('\n', start);
    std::string_view line = bytes.substr(start, end == std::string_view::npos ? bytes.size() - start : end - start);
    pos = end;
    if (line.empty() || line == "\r") break;  // end of headers
    if (line.front() == ' ' || line.front() == '\t') {  // folded continuation
      if (folded.empty()) folded = std::string(trim(value));
      folded.append(" ").append(trim(line));
      continue;
    }
    flush();
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    name = trim(line.substr(0, colon));
    value = line.substr(colon + 1);
  }
  flush();
}

std::string url_string(const url_t* u) {
  if (!u) return {};
  // Rebuild scheme:user@host[:port] without parameters: what SIPE compares.
  std::string s = u->url_scheme ? u->url_scheme : "sip";
  s += ":";
  if (u->url_user) {
    s += u->url_user;
    s += "@";
  }
  if (u->url_host) s += u->url_host;
  if (u->url_port) {
    s += ":";
    s += u->url_port;
  }
  return s;
}

struct msg_deleter {
  void operator()(msg_t* m) const { msg_destroy(m); }
};

}  // namespace

parse_result parse_message(std::string_view bytes, sip_message* out) {
  parse_result r;
  std::string_view start_line;
  echo_seen seen;
  const bool response = bytes.starts_with("SIP/2.0 ");
  scan_raw(bytes, out, &start_line, &seen, /*build_echo=*/!response);
  r.can_respond = seen.all();

  if (response) {
    // Light path for responses (see header comment).
    out->is_request = false;
    // The start line is trimmed: "SIP/2.0 " alone is 7 bytes long here (fuzzing found
    // that substr(8) threw out of the SIP thread and ended the server).
    std::string_view rest = start_line.substr(std::min<size_t>(8, start_line.size()));
    int code = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), code);
    if (ec != std::errc() || code < 100 || code > 699) {
      r.result = status::invalid_argument("malformed status line");
      return r;
    }
    out->status = code;
    out->reason = std::string(trim(std::string_view(p, rest.data() + rest.size() - p)));
    if (!seen.call_id || !seen.cseq) {
      r.result = status::invalid_argument("response without Call-ID or CSeq");
    }
    return r;
  }

  out->is_request = true;
  std::unique_ptr<msg_t, msg_deleter> msg(
      msg_make(sip_default_mclass(), 0, bytes.data(), static_cast<ssize_t>(bytes.size())));
  if (!msg) {
    r.result = status::invalid_argument("empty message");
    return r;
  }
  sip_t* sip = sip_object(msg.get());
  if (!sip || msg_has_error(msg.get()) || !sip->sip_request) {
    // sofia leaves sip_error->er_name unset or dangling for some bad headers (a fuzzed
    // packet crashed the server on it), so the reason does not name the header.
    r.result = status::invalid_argument("malformed SIP request");
    return r;
  }
  if (!sip->sip_via || !sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq) {
    r.result = status::invalid_argument("request lacks one of Via, From, To, Call-ID, CSeq");
    return r;
  }
  const sip_request_t* rq = sip->sip_request;
  out->method = rq->rq_method_name ? rq->rq_method_name : "";
  out->request_uri = url_string(rq->rq_url);
  out->cseq = sip->sip_cseq->cs_seq;
  out->cseq_method = sip->sip_cseq->cs_method_name ? sip->sip_cseq->cs_method_name : "";
  if (!ascii_iequal(out->cseq_method, out->method)) {
    r.result = status::invalid_argument("CSeq method does not match the request method");
    return r;
  }
  out->from_uri = url_string(sip->sip_from->a_url);
  out->from_tag = sip->sip_from->a_tag ? sip->sip_from->a_tag : "";
  out->to_uri = url_string(sip->sip_to->a_url);
  out->to_tag = sip->sip_to->a_tag ? sip->sip_to->a_tag : "";
  out->call_id = sip->sip_call_id->i_id ? sip->sip_call_id->i_id : "";
  if (sip->sip_contact) out->contact_uri = url_string(sip->sip_contact->m_url);
  if (sip->sip_contact) {
    // Keep transport/maddr parameters: they say how to reach the client.
    char buf[1024];
    issize_t n = url_e(buf, sizeof buf, sip->sip_contact->m_url);
    if (n > 0 && static_cast<size_t>(n) < sizeof buf) out->contact_uri.assign(buf, n);
  }
  out->via_branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";
  if (sip->sip_event && sip->sip_event->o_type) out->event = sip->sip_event->o_type;
  if (sip->sip_expires) out->expires = sip->sip_expires->ex_delta;
  if (sip->sip_content_type && sip->sip_content_type->c_type)
    out->content_type = sip->sip_content_type->c_type;
  if (sip->sip_user_agent && sip->sip_user_agent->g_string)
    out->user_agent = sip->sip_user_agent->g_string;
  if (sip->sip_payload && sip->sip_payload->pl_data)
    out->body.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
  return r;
}

parse_result parse_headers_only(std::string_view bytes, sip_message* out) {
  parse_result r;
  std::string_view start_line;
  echo_seen seen;
  scan_raw(bytes, out, &start_line, &seen, /*build_echo=*/true);
  r.can_respond = seen.all();
  out->is_request = !start_line.starts_with("SIP/2.0 ");
  if (out->is_request) out->method = std::string(start_line.substr(0, start_line.find(' ')));
  return r;
}

std::string build_response(const sip_message& req, int code, std::string_view reason,
                           std::string_view to_tag, std::string_view extra_headers,
                           std::string_view content_type, std::string_view body) {
  std::string out;
  out.reserve(256 + req.echo.size() + extra_headers.size() + body.size());
  out.append("SIP/2.0 ").append(std::to_string(code)).append(" ");
  out.append(reason.empty() ? reason_phrase(code) : reason).append("\r\n");
  out.append(req.echo);
  out.append("To: ").append(req.to_line);
  if (req.to_tag.empty() && !to_tag.empty()) out.append(";tag=").append(to_tag);
  out.append("\r\n");
  out.append(extra_headers);
  if (!body.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  out.append(body);
  return out;
}

const char* reason_phrase(int code) {
  switch (code) {
    case 100: return "Trying";
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 407: return "Proxy Authentication Required";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 420: return "Bad Extension";
    case 481: return "Call/Transaction Does Not Exist";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 489: return "Bad Event";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return code < 300 ? "OK" : "Error";
  }
}

}  // namespace pchat::sip
