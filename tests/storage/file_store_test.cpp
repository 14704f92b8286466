// The file store's streaming writer: bytes on disk as they arrive, a blob only on commit.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "storage/file_store.h"
#include "tests/support/temp_dir.h"

namespace {

class FileStoreTest : public ::testing::Test {
 protected:
  size_t incoming() const {
    std::error_code ec;
    size_t n = 0;
    for (auto it = std::filesystem::directory_iterator(dir_ / "files/.incoming", ec);
         !ec && it != std::filesystem::directory_iterator(); ++it) ++n;
    return n;
  }
  pchat::testing::temp_dir dir_{"filestore"};
};

}  // namespace

TEST_F(FileStoreTest, AWriterCommitsPiecesIntoOneBlob) {
  pchat::storage::file_store files(dir_ / "files");
  std::unique_ptr<pchat::storage::file_store::writer> w;
  ASSERT_TRUE(files.begin(&w).is_ok());
  ASSERT_TRUE(w->append("hello ").is_ok());
  ASSERT_TRUE(w->append("world").is_ok());
  EXPECT_EQ(w->size(), 11u);
  EXPECT_EQ(incoming(), 1u);
  std::string blob;
  ASSERT_TRUE(w->commit("room1", ".txt", &blob).is_ok());
  EXPECT_EQ(incoming(), 0u) << "the temporary file became the blob";
  EXPECT_EQ(blob.substr(blob.size() - 4), ".txt");
  std::string bytes;
  ASSERT_TRUE(files.get("room1", blob, &bytes).is_ok());
  EXPECT_EQ(bytes, "hello world");
  int fd = -1;
  uint64_t size = 0;
  ASSERT_TRUE(files.open("room1", blob, &fd, &size).is_ok());
  EXPECT_EQ(size, 11u);
  char buf[5];
  EXPECT_EQ(pread(fd, buf, 5, 6), 5);
  EXPECT_EQ(std::string(buf, 5), "world");
  close(fd);
  EXPECT_TRUE(files.open("room1", "missing", &fd, &size).is_not_found());
}

TEST_F(FileStoreTest, AnUncommittedWriterLeavesNothing) {
  pchat::storage::file_store files(dir_ / "files");
  {
    std::unique_ptr<pchat::storage::file_store::writer> w;
    ASSERT_TRUE(files.begin(&w).is_ok());
    ASSERT_TRUE(w->append("partial").is_ok());
  }
  EXPECT_EQ(incoming(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "files/room1"));
}

TEST_F(FileStoreTest, UnfinishedUploadsAreDiscardedAndRoomIdsCannotNameTheirFolder) {
  pchat::storage::file_store files(dir_ / "files");
  std::filesystem::create_directories(dir_ / "files/.incoming");
  { std::ofstream(dir_ / "files/.incoming/crashed.tmp") << "x"; }
  ASSERT_TRUE(files.discard_unfinished().is_ok());
  EXPECT_EQ(incoming(), 0u);
  std::string blob;
  EXPECT_TRUE(files.put(".incoming", "x", "", &blob).is_invalid_argument());
  std::unique_ptr<pchat::storage::file_store::writer> w;
  ASSERT_TRUE(files.begin(&w).is_ok());
  EXPECT_TRUE(w->commit("../x", "", &blob).is_invalid_argument());
}
