#include "compliance/backchat_content.h"

#include "text/utc_time.h"

namespace pchat::compliance {

std::string backchat_content(const std::vector<storage::message_record>& returned) {
  std::string out;
  for (const auto& m : returned) {
    std::string head = "[" + std::to_string(m.seq) + "] " + utc::seconds_timestamp(m.ts_micros) +
                       " " + m.author + ": ";
    if (out.size() + head.size() + m.text.size() + 1 <= kMaxBackchatContentBytes) {
      out += head;
      out += m.text;
    } else {
      out += head;
      out += "(text not recorded here: see its CHAT event)";
    }
    out += '\n';
  }
  return out;
}

}  // namespace pchat::compliance
