// pchat-rocksdb-ceiling: raw RocksDB synced WriteBatch throughput on this machine
// (issue 5, item 4): the durable-write ceiling pchat's commit path is compared with.
//
//   pchat-rocksdb-ceiling [--dir=D] [--records=N] [--batch=B] [--value-bytes=V] [--json]
//
// Writes N records of V bytes (the size of a stored chat message) in batches of B, each
// batch one synced write, and prints records/s and batches/s.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  std::string dir;
  long records = 200000, batch = 256, value_bytes = 200;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) { return a.rfind(k, 0) == 0 ? a.substr(std::strlen(k)) : std::string(); };
    if (!val("--dir=").empty()) dir = val("--dir=");
    else if (!val("--records=").empty()) records = std::atol(val("--records=").c_str());
    else if (!val("--batch=").empty()) batch = std::atol(val("--batch=").c_str());
    else if (!val("--value-bytes=").empty()) value_bytes = std::atol(val("--value-bytes=").c_str());
    else if (a == "--json") json = true;
  }
  bool temp = dir.empty();
  if (temp) dir = (std::filesystem::temp_directory_path() / ("pchat-rocks-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.IncreaseParallelism(2);
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(o, dir, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), s.ToString().c_str());
    return 1;
  }
  std::string value(static_cast<size_t>(value_bytes), 'x');
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto t0 = std::chrono::steady_clock::now();
  long written = 0, batches = 0;
  while (written < records) {
    rocksdb::WriteBatch b;
    for (long i = 0; i < batch && written < records; ++i, ++written) {
      char key[48];
      std::snprintf(key, sizeof key, "room%04ld%012ld", written % 100, written);
      b.Put(key, value);
    }
    s = db->Write(wo, &b);
    if (!s.ok()) {
      std::fprintf(stderr, "write: %s\n", s.ToString().c_str());
      return 1;
    }
    ++batches;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  delete db;
  if (temp) std::filesystem::remove_all(dir);
  if (json)
    std::printf("{\"records_per_s\": %.0f, \"batches_per_s\": %.0f, \"batch\": %ld, \"value_bytes\": %ld}\n",
                written / secs, batches / secs, batch, value_bytes);
  else
    std::printf("rocksdb synced batches: %ld records of %ld B in batches of %ld: %.0f records/s, %.0f syncs/s\n",
                written, value_bytes, batch, written / secs, batches / secs);
  return 0;
}
