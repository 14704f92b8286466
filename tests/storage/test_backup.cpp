// storage/backup.h: a backup taken while a writer keeps writing holds everything written
// before it began and restores into a store that opens and reads it; uploaded blobs come
// back byte for byte; bad targets, a damaged backup and a non-empty restore folder are
// refused with reasons, and nothing is left behind by a failure.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/backup.h"
#include "storage/file_store.h"
#include "tests/storage/store_fixture.h"

namespace pchat::storage {
namespace {

using namespace store_fixture;
namespace fs = std::filesystem;

class BackupTest : public StoreTest {
 protected:
  backup_origin origin() const { return {"test", "127.0.0.1", "example.com", dir_.path()}; }
  std::string files_root() const { return dir_.path() + "/files"; }

  status backup(const std::string& target, std::string* manifest = nullptr) {
    std::atomic<bool> cancel{false};
    backup_totals t;
    return write_backup(*st_, files_root(), target, origin(), cancel, &t, manifest);
  }

  temp_dir out_;
};

TEST_F(BackupTest, TakenWhileWritingItRestoresEverythingWrittenBeforeItBegan) {
  fill("room1", 300);
  file_store blobs(files_root());
  std::string blob;
  ASSERT_TRUE(blobs.put("room1", "the bytes of an upload", "txt", &blob).is_ok());

  // A writer keeps appending to another room during the whole backup.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    for (uint64_t seq = 1; !stop.load() && seq <= 100000; ++seq) {
      if (!st_->messages().put("room2", make_message(seq)).is_ok()) return;
      written = seq;
    }
  });
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       written.load() < 20 && std::chrono::steady_clock::now() < until;)
    std::this_thread::yield();
  const uint64_t before = written.load();
  std::string manifest;
  status s = backup(out_ / "b", &manifest);
  stop = true;
  writer.join();
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_NE(manifest.find("\"blobs\":1"), std::string::npos) << manifest;
  EXPECT_TRUE(fs::exists(out_ / "b/manifest.json"));

  backup_totals checked;
  ASSERT_TRUE(verify_backup(out_ / "b", &checked).is_ok());
  EXPECT_EQ(checked.blobs, 1u);
  EXPECT_GT(checked.store_files, 0u);

  backup_totals restored;
  s = restore_backup(out_ / "b", out_ / "restored", &restored);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  std::unique_ptr<database> back;
  ASSERT_TRUE(database::open({out_ / "restored/store", false}, &back).is_ok());
  std::vector<message_record> all;
  ASSERT_TRUE(back->messages().read_from("room1", 1, 1000, &all).is_ok());
  EXPECT_EQ(seqs_of(all), range(1, 300));
  uint64_t last = 0;
  ASSERT_TRUE(back->messages().last_sequence("room2", &last).is_ok());
  EXPECT_GE(last, before);  // everything written before the backup began, and no hole:
  all.clear();
  ASSERT_TRUE(back->messages().read_from("room2", 1, 200000, &all).is_ok());
  EXPECT_EQ(seqs_of(all), range(1, last));
  std::string bytes;
  ASSERT_TRUE(file_store(out_ / "restored/files").get("room1", blob, &bytes).is_ok());
  EXPECT_EQ(bytes, "the bytes of an upload");
}

TEST_F(BackupTest, RefusesATargetThatIsNotEmptyRelativeOrInsideTheDataFolder) {
  fill("room1", 3);
  fs::create_directories(out_ / "full");
  std::ofstream(out_ / "full/keep") << "x";
  status s = backup(out_ / "full");
  EXPECT_TRUE(s.is_already_exists()) << s.to_string();
  EXPECT_NE(s.reason().find("not empty"), std::string::npos) << s.reason();
  EXPECT_TRUE(fs::exists(out_ / "full/keep"));
  EXPECT_EQ(std::distance(fs::directory_iterator(out_ / "full"), fs::directory_iterator{}), 1);

  s = backup("relative/dir");
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  s = backup(dir_ / "inside");
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.reason().find("inside the data folder"), std::string::npos) << s.reason();
  EXPECT_FALSE(fs::exists(dir_ / "inside"));

  std::ofstream(out_ / "file") << "x";  // a file where a folder should be made
  s = backup(out_ / "file/sub");
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.reason().find("cannot create backup folder"), std::string::npos) << s.reason();
}

TEST_F(BackupTest, ACancelledBackupLeavesNothing) {
  fill("room1", 10);
  std::atomic<bool> cancel{true};
  status s = write_backup(*st_, files_root(), out_ / "c", origin(), cancel, nullptr, nullptr);
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.reason().find("cancelled"), std::string::npos);
  EXPECT_FALSE(fs::exists(out_ / "c"));
}

TEST_F(BackupTest, RestoreRefusesANonEmptyFolderAndADamagedOrUnfinishedBackup) {
  fill("room1", 50);
  file_store blobs(files_root());
  std::string blob;
  ASSERT_TRUE(blobs.put("room1", "upload", "", &blob).is_ok());
  ASSERT_TRUE(backup(out_ / "b").is_ok());

  fs::create_directories(out_ / "busy");
  std::ofstream(out_ / "busy/x") << "x";
  status s = restore_backup(out_ / "b", out_ / "busy", nullptr);
  EXPECT_TRUE(s.is_already_exists()) << s.to_string();
  EXPECT_NE(s.reason().find("not empty"), std::string::npos);

  s = restore_backup(out_ / "nowhere", out_ / "r0", nullptr);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
  EXPECT_FALSE(fs::exists(out_ / "r0"));

  // A blob changed after the backup: the restore names it and leaves nothing.
  {
    std::ofstream f(out_ / ("b/files/room1/" + blob), std::ios::binary | std::ios::trunc);
    f << "uploaX";
  }
  s = restore_backup(out_ / "b", out_ / "r1", nullptr);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.reason().find("files/room1/" + blob), std::string::npos) << s.reason();
  EXPECT_FALSE(fs::exists(out_ / "r1"));
  EXPECT_TRUE(verify_backup(out_ / "b", nullptr).is_corruption());

  // A store file missing.
  fs::remove(out_ / ("b/files/room1/" + blob));
  std::string first_store_file;
  for (auto& e : fs::directory_iterator(out_ / "b/store"))
    if (e.path().extension() == ".sst" || e.path().filename().string().rfind("MANIFEST", 0) == 0) {
      first_store_file = e.path().string();
      break;
    }
  ASSERT_FALSE(first_store_file.empty());
  fs::remove(first_store_file);
  s = restore_backup(out_ / "b", out_ / "r2", nullptr);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.reason().find("missing"), std::string::npos) << s.reason();
  EXPECT_FALSE(fs::exists(out_ / "r2"));

  // No manifest: an unfinished backup.
  fs::remove(out_ / "b/manifest.json");
  s = restore_backup(out_ / "b", out_ / "r3", nullptr);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
  EXPECT_NE(s.reason().find("did not finish"), std::string::npos) << s.reason();
  // A manifest that is not JSON, or names a file outside the backup.
  std::ofstream(out_ / "b/manifest.json") << "{not json";
  EXPECT_TRUE(restore_backup(out_ / "b", out_ / "r4", nullptr).is_corruption());
  std::ofstream(out_ / "b/manifest.json", std::ios::trunc)
      << R"({"format":"pchat-backup","format_version":1,"files":[{"path":"store/../../etc/passwd","size":1,"crc32":1}]})";
  s = restore_backup(out_ / "b", out_ / "r5", nullptr);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_FALSE(fs::exists(out_ / "r5"));
}

}  // namespace
}  // namespace pchat::storage
