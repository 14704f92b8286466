// Server settings (config CF, keys.h config_key / scoped_config_key): the chat configuration
// (Set-CsPersistentChatConfiguration) at the global scope and at site scopes, and the
// compliance configuration (Set-CsPersistentChatComplianceConfiguration). Reads return the
// reference's defaults for settings never written, and corruption if a stored value does
// not parse or is out of range; puts validate first (invalid_argument names the setting and
// its range) and write every setting of one change in one synced write, so a reader never
// sees half of it.
//
// Thread safety: every method from any thread. Ownership: borrows the db and the writer.
#pragma once

#include <string>

#include "storage/records.h"
#include "status/status.h"

namespace pchat::storage {

class db;
class writer;

class configuration {
 public:
  configuration(db& d, writer& w) : db_(d), writer_(w) {}

  // The global scope.
  status get(chat_config* out) const;
  status put(const chat_config& c);
  // The same at a scope: identity "global" or "site:<name>" (New-/Set-/Get-/
  // Remove-CsPersistentChatConfiguration). A site scope exists once put; get_at on a
  // missing one is not_found (*exists false). The global one cannot be removed.
  status get_at(const std::string& identity, chat_config* out, bool* exists) const;
  status put_at(const std::string& identity, const chat_config& c);
  status remove_at(const std::string& identity);
  // *written: the settings at `identity` were ever put (a get returns stored values, not
  // only defaults). A put writes every setting of its scope, so this holds for all of them.
  status written_at(const std::string& identity, bool* written) const;
  static status validate(const chat_config& c);

  // *written (optional): the compliance settings were ever put (every one at once).
  status get_compliance(compliance_config* out, bool* written = nullptr) const;
  status put_compliance(const compliance_config& c);
  static status validate_compliance(const compliance_config& c);

 private:
  db& db_;
  writer& writer_;
};

}  // namespace pchat::storage
