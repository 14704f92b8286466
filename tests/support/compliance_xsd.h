// The compliance XML adapter's output checked against its schema
// (compliance/xml_adapter.xsd) with xmllint, which must be installed (libxml2-utils).
// Blocking (runs the process), on the calling thread.
#pragma once

#include <string>

namespace pchat::testing {

// xmllint --noout --schema <the adapter's XSD> `path`: its exit code (0 = valid, -1 if it
// did not run to an exit); what it printed goes to *out.
int xmllint_compliance_xml(const std::string& path, std::string* out);

}  // namespace pchat::testing
