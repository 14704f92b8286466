// The one result type of pchat: ok, or a kind of failure with a human-readable reason.
// Every layer returns it (protocol decoding, storage, search, actors, app); errors are
// values, nothing throws across a layer's interface. No dependencies, so any folder may
// include it.
//
// Thread safety: a plain value; copy it freely.
#pragma once

#include <string>
#include <utility>

namespace pchat {

class status {
 public:
  // invalid_argument: the input was refused (a malformed XCCOS body, a bad key, bad JSON);
  // the others describe the state of what was asked for or of the machine.
  enum class code { ok, not_found, invalid_argument, already_exists, corruption, io_error };

  status() = default;
  static status ok() { return {}; }
  static status not_found(std::string why) { return {code::not_found, std::move(why)}; }
  static status invalid_argument(std::string why) {
    return {code::invalid_argument, std::move(why)};
  }
  static status already_exists(std::string why) { return {code::already_exists, std::move(why)}; }
  static status corruption(std::string why) { return {code::corruption, std::move(why)}; }
  static status io_error(std::string why) { return {code::io_error, std::move(why)}; }

  bool is_ok() const { return code_ == code::ok; }
  bool is_not_found() const { return code_ == code::not_found; }
  bool is_invalid_argument() const { return code_ == code::invalid_argument; }
  bool is_already_exists() const { return code_ == code::already_exists; }
  bool is_corruption() const { return code_ == code::corruption; }
  bool is_io_error() const { return code_ == code::io_error; }
  code kind() const { return code_; }
  // The reason alone, without the kind ("" when ok), e.g. "missing chanUri".
  const std::string& reason() const { return reason_; }
  // "OK" or "<Kind>: <reason>", e.g. "IO error: While fsync: No space left on device".
  std::string to_string() const;

 private:
  status(code c, std::string why) : code_(c), reason_(std::move(why)) {}
  code code_ = code::ok;
  std::string reason_;
};

}  // namespace pchat
