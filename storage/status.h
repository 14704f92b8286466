// storage's results are the one pchat::status (status/status.h); this name stays so that
// storage code and its callers read `storage::status` while the store is being split.
#pragma once

#include "status/status.h"

namespace pchat::storage {

using status = ::pchat::status;

}  // namespace pchat::storage
