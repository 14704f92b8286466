#include "tests/support/compliance_xsd.h"

#include <sys/wait.h>

#include <cstdio>

namespace pchat::testing {

int xmllint_compliance_xml(const std::string& path, std::string* out) {
  std::string cmd = "xmllint --noout --schema " PCHAT_SOURCE_DIR "/compliance/xml_adapter.xsd '" +
                    path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  out->clear();
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = p ? pclose(p) : -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace pchat::testing
