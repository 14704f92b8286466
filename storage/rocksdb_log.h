// RocksDB's info log, sent to pchatd's log instead of a LOG file in the data folder.
//
// Why: on a full disk RocksDB's own LOG file is the first write to fail, and Debian's
// librocksdb (built with assertions) aborts the process on the next line written to a log
// file that has seen an error. Lines go to log/log.h under component "rocksdb": WARN and
// above at info, the rest at debug (RocksDB is chatty; pchatd logs the edges it acts on).
// Thread-safe (RocksDB logs from its background threads).
#pragma once

#include <memory>

namespace rocksdb {
class Logger;
}

namespace pchat::storage {

std::shared_ptr<rocksdb::Logger> make_rocksdb_logger();

}  // namespace pchat::storage
