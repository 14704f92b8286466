#include "actors/pref_writer.h"

#include <caf/all.hpp>

#include <map>
#include <string>

#include "actors/messages.h"
#include "storage/database.h"

namespace pchat::actors {

caf::behavior pref_writer(caf::event_based_actor*, storage::database* store, pref_quota quota) {
  return {
      [=](set_pref_atom, const std::string& user, const std::string& label,
          const std::string& value) -> caf::result<uint64_t> {
        // The quota over what is stored with `label` set to `value`: we are the node's only
        // writer of preferences, so what we read here is what the write replaces.
        std::map<std::string, uint64_t> sizes;
        if (auto s = store->preferences().sizes(user, &sizes); !s.is_ok())
          return make_error(errc::storage_failure, "preferences of " + user + ": " + s.to_string());
        sizes[label] = label.size() + value.size();
        uint64_t bytes = 0;
        for (auto& [l, n] : sizes) bytes += n;
        if (sizes.size() > quota.max_prefs_per_user)
          return make_error(errc::quota_exceeded, "preference quota: at most " +
                                                      std::to_string(quota.max_prefs_per_user) +
                                                      " preferences per user; replace or clear one");
        if (bytes > quota.max_pref_bytes_per_user)
          return make_error(errc::quota_exceeded,
                            "preference quota: at most " + std::to_string(quota.max_pref_bytes_per_user) +
                                " bytes of preferences per user (this would make " + std::to_string(bytes) + ")");
        if (auto s = store->preferences().put(user, label, value); !s.is_ok())
          return make_error(s.is_invalid_argument() ? errc::bad_request : errc::storage_failure,
                            "preference not stored: " + s.to_string());
        return uint64_t{0};
      },
  };
}

}  // namespace pchat::actors
