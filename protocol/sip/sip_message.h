// One received SIP message, decoded into owned values.
//
// Requests are parsed by sofia-sip's SIP parser (msg_make + sip_object), which validates
// the grammar; responses to our own requests take a light path that reads only the status
// line, Call-ID, CSeq and From tag, because they are the bulk of the traffic (one per
// fan-out delivery) and need nothing else (stack-notes §5: the SIP thread is the budget).
//
// The header lines that a response must echo (Via, From, To, Call-ID, CSeq) are kept as
// received, each re-emitted under its full name (SIPE does not understand compact forms).
//
// Thread safety: plain values; parse functions are reentrant.
#pragma once

#include "status/status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pchat::sip {

struct sip_message {
  bool is_request = false;
  // request
  std::string method;       // upper-case as sent, e.g. "INFO"
  std::string request_uri;
  // response
  int status = 0;
  std::string reason;

  std::string call_id;
  uint32_t cseq = 0;
  std::string cseq_method;
  std::string from_uri;     // sip:alice@example.com (no parameters)
  std::string from_tag;
  std::string to_uri;
  std::string to_tag;
  std::string contact_uri;  // first Contact URL, empty if none
  std::string via_branch;   // empty when the client sent none (SIPE in-dialog)
  std::string event;        // Event header value without parameters
  int64_t expires = -1;     // Expires header, -1 if absent
  std::string content_type;
  std::string user_agent;
  std::string authorization;        // Authorization header value, raw
  std::string proxy_authorization;  // Proxy-Authorization header value, raw
  std::string body;

  // Echo block for responses: "Via: ...\r\n" (every Via, in order), "From: ...\r\n",
  // "Call-ID: ...\r\n", "CSeq: ...\r\n"; the To line is kept apart because a response
  // may need to add our tag to it.
  std::string echo;
  std::string to_line;  // the To header value as received
};

struct parse_result {
  status result;  // ok, or invalid_argument with the reason
  bool ok() const { return result.is_ok(); }
  // True when enough was recovered (Via, From, To, Call-ID, CSeq) to address a 400.
  bool can_respond = false;
};

// Parses a complete message (one frame). For requests, uses sofia-sip's parser.
parse_result parse_message(std::string_view bytes, sip_message* out);

// Reads only the start line and the echo headers, without sofia (used for messages whose
// body was refused as oversized, so that they can still be answered 413).
parse_result parse_headers_only(std::string_view bytes, sip_message* out);

// Builds a response to `req`. `to_tag` is added to the To header when the request had
// none. `extra_headers` are complete lines ending in CRLF. Always carries a reason phrase
// and Content-Length (xccos-wire.md §2.2).
std::string build_response(const sip_message& req, int code, std::string_view reason,
                           std::string_view to_tag, std::string_view extra_headers,
                           std::string_view content_type = {}, std::string_view body = {});

// The standard reason phrase for a status code ("OK", "Not Found", ...).
const char* reason_phrase(int code);

}  // namespace pchat::sip
