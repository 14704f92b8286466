#include "compliance/adapter.h"

#include "compliance/csv_adapter.h"
#include "compliance/xml_adapter.h"

namespace pchat::compliance {

std::unique_ptr<adapter> make_adapter(const std::string& type, const adapter_options& opts) {
  if (type == "xml") return make_xml_adapter(opts);
  if (type == "csv") return make_csv_adapter(opts);
  return nullptr;
}

}  // namespace pchat::compliance
