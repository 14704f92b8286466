// libFuzzer target: decoding stored records (storage/record_codec), as every reader of the
// store does with bytes that an older version, a bug or a damaged disk may have written.
// A decode either fails with a corruption reason or yields a value whose encoding is
// canonical: encode(decode(x)) decodes again and encodes to the same bytes.
//
// Input layout: byte 0 picks the record type, the rest is the stored value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/record_codec.h"
#include "tests/fuzz/fuzz_check.h"

using namespace pchat::storage;
using pchat::status;

namespace {

// decode -> encode -> decode -> encode: the two encodings must be equal.
template <class Record>
void round_trip(std::string_view in, status (*get)(std::string_view, Record*),
                void (*put)(std::string*, const Record&)) {
  Record a;
  status s = get(in, &a);
  if (!s.is_ok()) {
    FUZZ_CHECK(!s.reason().empty());
    return;
  }
  std::string once;
  put(&once, a);
  Record b;
  FUZZ_CHECK(get(once, &b).is_ok());
  std::string twice;
  put(&twice, b);
  FUZZ_CHECK(once == twice);
}

// The dedup window's peek (seq and post id only) agrees with the full decode.
void message(std::string_view in) {
  round_trip<message_record>(in, get_message_record, put_message_record);
  message_record m;
  if (!get_message_record(in, &m).is_ok()) return;
  uint64_t seq = 0;
  post_id pid;
  FUZZ_CHECK(get_message_post_id(in, &seq, &pid).is_ok());
  FUZZ_CHECK(seq == m.seq && pid == m.pid);
}

void compliance(std::string_view in) {
  std::vector<compliance_record> events;
  status s = get_compliance_value(in, &events);
  uint64_t n = 0;
  status c = count_compliance_value(in, &n);
  if (!s.is_ok()) return;
  FUZZ_CHECK(c.is_ok());
  FUZZ_CHECK(n == events.size());
  std::string group;
  for (auto& e : events) {
    std::string one;
    put_compliance_record(&one, e);
    append_compliance_group(&group, one);
  }
  std::vector<compliance_record> again;
  FUZZ_CHECK(events.empty() || get_compliance_value(group, &again).is_ok());
  FUZZ_CHECK(again.size() == events.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 11) {
    case 0: round_trip<category_record>(in, get_category_record, put_category_record); break;
    case 1: round_trip<room_record>(in, get_room_record, put_room_record); break;
    case 2: round_trip<user_record>(in, get_user_record, put_user_record); break;
    case 3: round_trip<group_record>(in, get_group_record, put_group_record); break;
    case 4: round_trip<addin_record>(in, get_addin_record, put_addin_record); break;
    case 5: round_trip<invitation_record>(in, get_invitation_record, put_invitation_record); break;
    case 6: round_trip<policy_record>(in, get_policy_record, put_policy_record); break;
    case 7: message(in); break;
    case 8: round_trip<file_record>(in, get_file_record, put_file_record); break;
    case 9: compliance(in); break;
    case 10: {
      int v = 0;
      if (get_config_int("setting", in, &v).is_ok()) {
        std::string out;
        put_config_int(&out, v);
        int w = 0;
        FUZZ_CHECK(get_config_int("setting", out, &w).is_ok() && w == v);
      }
      break;
    }
  }
  return 0;
}
