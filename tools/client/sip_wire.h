// SIP on the wire, client side: a light message parser, a stream framer and the request /
// response builders the test and load client uses to look like the SIPE Lync plugin.
//
// Message grammar accepted (RFC 3261 §7 subset, xccos-wire.md §2.2):
//
//   message     = start-line *(header CRLF) CRLF body
//   start-line  = METHOD SP Request-URI SP "SIP/2.0"          (request)
//               | "SIP/2.0" SP 3DIGIT [SP reason-phrase]      (response; see below)
//   header      = name ":" *WSP value *(CRLF 1*WSP more-value) (continuation lines fold
//                                                              into one value, joined by SP)
//   body        = exactly Content-Length bytes (full name or compact "l")
//
// Lines end in CRLF; a bare LF is not a line end. A status line without reason phrase is
// accepted (reason() is then empty) so that the client can report it as a server fault
// rather than stall like SIPE does.
//
// Framing on a stream (TCP), as SIPE does it (sip_transport_input, sipmsg_parse_header):
//  - CR and LF bytes before a start line are keep-alives and are skipped;
//  - no Content-Length and no Content-Type: the body is empty;
//  - no Content-Length but a Content-Type: fatal ("Corrupted message received" in SIPE);
//  - a message (header block plus body) larger than the framer's limit, 1 MiB by default,
//    is fatal.
// Fatal means the stream cannot be resynchronised: the framer stays in the error state and
// the caller closes the connection.
// On a datagram (UDP) the body is the rest of the datagram, cut to Content-Length when
// present (RFC 3261 §18.3).
//
// Header lookups match names case-insensitively and accept the compact form for the full
// one and vice versa ("l" finds "Content-Length", "Content-Length" finds "l").
//
// Builders produce the exact text SIPE produces (sip_transport_request_timeout,
// sip_transport_response): fixed header order, full header names, Content-Length always,
// no Via branch unless the caller passes one (SIPE only brands out-of-dialog requests).
//
// Thread safety: plain values and pure functions; a framer is used by one thread.
// Errors are values (wire_status); nothing here throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/ascii.h"

namespace pchat::client {

// Largest message (header block + body) the client accepts; a bigger one is a server fault.
constexpr size_t kMaxSipMessageBytes = 1024 * 1024;

struct wire_status {
  enum class code {
    ok,
    bad_start_line,
    bad_header,
    bad_content_length,      // not a decimal number, or larger than the datagram
    missing_content_length,  // stream message with a Content-Type but no Content-Length
    too_large,
  };
  code c = code::ok;
  std::string reason;

  bool ok() const { return c == code::ok; }
  static wire_status success() { return {}; }
  static wire_status error(code c, std::string why) { return {c, std::move(why)}; }
};

struct sip_header {
  std::string name;  // as received (or as built)
  std::string value;
};

class sip_message {
 public:
  bool is_request() const { return status == 0; }
  bool is_response() const { return status != 0; }

  // Request line (requests only).
  std::string method;
  std::string request_uri;
  // Status line (responses only); status is 0 for requests.
  int status = 0;
  std::string reason;

  std::vector<sip_header> headers;
  std::string body;
  // False if the message had no Content-Length header (a server fault on every transport
  // for SIPE's purposes; the framer still delivers the message when it can).
  bool content_length_present = false;

  // First header with this name (full or compact, case-insensitive); nullptr if none.
  const std::string* header(std::string_view name) const;
  // Number of headers with this name.
  size_t header_count(std::string_view name) const;
  // Every value of this header, in order (each header line separately, no comma split).
  std::vector<std::string_view> header_values(std::string_view name) const;

  std::string_view call_id() const;
  // CSeq "N METHOD": number (0 if absent/malformed) and method.
  uint32_t cseq_number() const;
  std::string_view cseq_method() const;
  // Tags of From and To ("" if none).
  std::string_view from_tag() const;
  std::string_view to_tag() const;
  // URIs inside From and To ("" if absent).
  std::string_view from_uri() const;
  std::string_view to_uri() const;
};

// Parses one header block: start line and headers, without the terminating empty line.
// The body and content_length_present are left alone.
wire_status parse_sip_head(std::string_view head, sip_message& out);

// Parses one UDP datagram (RFC 3261 §18.3). CR/LF keep-alives before the start line are
// skipped; a datagram that holds nothing else returns ok with an empty method and status 0.
wire_status parse_sip_datagram(std::string_view datagram, sip_message& out);

// Stream framer (TCP). Not thread-safe.
class sip_stream_framer {
 public:
  explicit sip_stream_framer(size_t max_message_bytes = kMaxSipMessageBytes)
      : max_message_(max_message_bytes) {}

  // Appends bytes just read. The buffer keeps only unconsumed bytes and gives its memory
  // back once drained, so an idle connection costs no buffer (the load client reads into
  // one shared scratch buffer per loop and appends what it got).
  void append(std::string_view bytes);

  enum class result { need_more, message, error };
  // Extracts the next complete message. After `error` every later call returns `error`.
  result next(sip_message& out);

  const wire_status& error() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }
  // CR/LF bytes skipped between messages so far (server keep-alives).
  uint64_t keepalive_bytes() const { return keepalive_bytes_; }

 private:
  std::string buf_;
  size_t pos_ = 0;            // start of unconsumed data
  size_t scan_from_ = 0;      // where the search for CRLFCRLF resumes (offset from pos_)
  size_t pending_total_ = 0;  // size of the message being waited for once its head is known
  size_t max_message_;
  uint64_t keepalive_bytes_ = 0;
  wire_status error_;
};

// ---- Small helpers on header values.

// Case-insensitive ASCII comparison.
using text::ascii_iequal;
// Compact form of a full header name ('\0' if none) and the reverse.
char compact_header_name(std::string_view full_name);
std::string_view full_header_name(char compact);

// URI of a name-addr / addr-spec value: inside <...> if present, else up to the first ';'.
std::string_view uri_of(std::string_view header_value);
// Value of a header parameter after the URI part (e.g. "tag"), "" if absent.
std::string_view header_param(std::string_view header_value, std::string_view param);

// ---- Builders.

// One request as SIPE writes it. Views must outlive the call only.
struct sip_request_spec {
  std::string_view method;
  std::string_view request_uri;
  std::string_view via_transport;  // "tcp" or "udp" (lower-case, as SIPE writes it)
  std::string_view via_host;
  uint16_t via_port = 0;
  std::string_view branch;    // empty on in-dialog requests: no ";branch=" at all
  std::string_view from_uri;  // "sip:alice@example.com"
  std::string_view from_tag;  // empty: no ";tag="
  std::string_view epid;
  std::string_view to_uri;
  std::string_view to_tag;  // empty until the dialog is confirmed
  uint32_t cseq = 1;
  std::string_view user_agent;
  std::string_view call_id;
  // Pre-formatted "Name: value\r\n" lines placed after Call-ID (routes first, as SIPE).
  std::string_view extra_headers;
  std::string_view body;
};

// Exact text:
//   METHOD URI SIP/2.0
//   Via: SIP/2.0/<transport> <host>:<port>[;branch=<branch>]
//   From: <from_uri>[;tag=<tag>];epid=<epid>
//   To: <to_uri>[;tag=<to_tag>]
//   Max-Forwards: 70
//   CSeq: <n> METHOD
//   User-Agent: <ua>
//   Call-ID: <id>
//   <extra_headers>Content-Length: <bytes>
//   (empty line) body
std::string build_request(const sip_request_spec& spec);

// A response to `request` as SIPE writes it (sip_transport_response): the request's Via,
// From, To, Call-ID, CSeq and Record-Route headers in their original order, then Contact
// (omitted if empty), Content-Length: 0 and User-Agent. No To-tag is added (SIPE adds none).
std::string build_response(const sip_message& request, int status, std::string_view reason,
                           std::string_view contact, std::string_view user_agent);

}  // namespace pchat::client
