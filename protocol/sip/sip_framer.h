// Stream framing for SIP over TCP: turns a byte stream into complete messages.
//
// Rules (RFC 3261 §18.3 plus what real clients do, xccos-wire.md §2.1):
//  - CR/LF between messages are keep-alives and are skipped (SIPE sends CRLFCRLF every 60 s);
//  - a message is its header block up to the first empty line, then exactly Content-Length
//    body bytes (full name or compact "l"); a stream message without Content-Length has an
//    empty body;
//  - a header block longer than max_header_bytes is a framing error (the stream cannot be
//    resynchronised: the caller closes the connection);
//  - a body longer than max_body_bytes is reported as an oversized frame carrying only the
//    header block; its body bytes are then skipped so the connection stays usable.
//
// Not thread-safe: one framer per connection, used by the thread that reads it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pchat::sip {

struct frame {
  std::string_view bytes;     // the whole message (headers only when oversized)
  bool oversized = false;     // body exceeded the limit and is being skipped
  size_t declared_body = 0;   // Content-Length as declared
};

class sip_framer {
 public:
  sip_framer(size_t max_header_bytes, size_t max_body_bytes)
      : max_header_(max_header_bytes), max_body_(max_body_bytes) {}

  // Appends freshly read bytes. REQUIRES: no frame returned by next() is still in use.
  void append(const char* data, size_t len);

  enum class result { need_more, message, error };
  // Extracts the next complete message into *out. The view stays valid until the next
  // append() or next() call. On `error`, error_reason() says why.
  result next(frame* out);
  const std::string& error_reason() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  size_t skip_ = 0;  // body bytes of an oversized message still to discard
  size_t max_header_;
  size_t max_body_;
  std::string error_;
};

// Finds the Content-Length value in a header block; returns false if absent or malformed
// (malformed sets *bad = true).
bool find_content_length(std::string_view headers, size_t* value, bool* bad);

}  // namespace pchat::sip
