// Online backup and restore end to end (issue 16 point 6), through the real interfaces only:
// a SIP client keeps posting while `pchatctl backup` runs against a live pchatd; the backup
// is restored with `pchatd --restore-from` into a fresh folder, a pchatd started on it, and
// every post acknowledged before the backup began is there (found by search: the restored
// node rebuilds its index from the store), as is an uploaded file. Then the refusals: the
// CLI's (a folder that is not empty, inside the data folder, not creatable, a full disk) and
// the restore's (a non-empty folder, a damaged or unfinished backup), each with its reason
// and nothing left behind.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/chat_clients.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tmpfs_mount.h"

using namespace std::chrono_literals;
using pchat::client::chat_client;
using pchat::testing::http;
using pchat::testing::json_field;
namespace fs = std::filesystem;

namespace {

std::string as(const std::string& user) { return "X-PChat-User: " + user; }

bool post_ok(chat_client& c, const std::string& room, const std::string& text) {
  auto r = c.wait_command(c.post(room, text), 15s);
  return r && r->sip_status == 200 && r->ok();
}

// Runs `pchatd <args>` to its end: its exit status and what it printed (stdout and stderr).
int run_pchatd(const std::string& args, std::string* out) {
  std::string cmd = std::string(PCHATD_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out->append(buf, n);
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The texts search finds for `word` in the room (the admin reads every room).
std::set<std::string> search_texts(const pchat::testing::server_process& s, const std::string& word) {
  std::set<std::string> out;
  auto j = pchat::testing::ctl_json_or_null(s, "search --query " + word + " --room Desk --limit 1000");
  if (j.is_object() && j["results"].is_array())
    for (auto& h : j["results"]) out.insert(h.value("text", ""));
  return out;
}

bool empty_folder(const std::string& d) { return fs::is_directory(d) && fs::is_empty(d); }

class BackupE2E : public ::testing::Test {
 protected:
  std::string room_id(const pchat::testing::server_process& s, const std::string& name) {
    int rc = 0;
    return json_field(s.ctl("--json room get --identity " + name, &rc), "id");
  }
  pchat::testing::temp_dir dir_{"backup"};
};

}  // namespace

TEST_F(BackupE2E, PostsFlowDuringTheBackupAndTheRestoredNodeHasEveryPostAcknowledgedBeforeIt) {
  pchat::testing::server_process server(dir_ / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  pchat::testing::ctl_ok(server, "category new --name Shared");
  pchat::testing::ctl_ok(server, "room new --name Desk --category Shared --privacy open");
  ASSERT_FALSE(HasFatalFailure());
  const std::string desk = room_id(server, "Desk");
  ASSERT_FALSE(desk.empty());
  const std::string room = "ma-chan://example.com/" + desk;

  // An uploaded file (a few MB, so the backup has something to read while posts go on).
  std::string bytes(3 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131) ^ (i >> 9));
  auto up = http(server.http_port(), "POST", "/files/v1/rooms/" + desk + "?name=plan.bin",
                 {as("sip:alice@example.com")}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string file_id = json_field(up.body, "id");
  ASSERT_FALSE(file_id.empty()) << up.body;

  pchat::testing::chat_clients clients;
  chat_client& alice = clients.add(server.sip_port(), "alice@example.com");
  ASSERT_TRUE(alice.sign_in(10s)) << alice.failure_reason();
  auto joined = alice.join_and_wait(room, 5s);
  ASSERT_TRUE(joined && joined->ok());
  std::set<std::string> before;  // acknowledged before the backup began
  for (int i = 0; i < 300; ++i) {
    std::string text = "pre-" + std::to_string(i) + " tokenpre";
    ASSERT_TRUE(post_ok(alice, room, text)) << i;
    before.insert(text);
  }

  // The backup runs in pchatd while this thread keeps posting.
  std::atomic<bool> done{false};
  int backup_rc = -1;
  std::string backup_out;
  const std::string bk = dir_ / "bk";
  std::thread backup([&] {
    backup_out = server.ctl("--json backup --dir " + bk, &backup_rc);
    done = true;
  });
  int during = 0;
  for (int i = 0; !done.load() && i < 20000; ++i) {
    if (!post_ok(alice, room, "during-" + std::to_string(i) + " tokendur")) break;
    ++during;
  }
  backup.join();
  ASSERT_EQ(backup_rc, 0) << backup_out;
  EXPECT_GE(during, 1) << "no post was acknowledged while the backup ran";
  std::printf("posts acknowledged while the backup ran: %d\n", during);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(post_ok(alice, room, "after-" + std::to_string(i) + " tokenafter"));
  auto summary = nlohmann::json::parse(backup_out, nullptr, false);
  ASSERT_TRUE(summary.is_object()) << backup_out;
  EXPECT_EQ(summary["totals"].value("blobs", 0), 1) << backup_out;
  EXPECT_EQ(summary["totals"].value("blob_bytes", 0u), bytes.size()) << backup_out;
  EXPECT_EQ(summary["node"].value("data_dir", ""), dir_ / "data") << backup_out;
  EXPECT_TRUE(fs::exists(bk + "/manifest.json"));
  pchat::testing::expect_clean(alice);
  clients.clear();

  // Restore into a fresh folder and start a node on it (the first node keeps running).
  std::string out;
  ASSERT_EQ(run_pchatd("--restore-from=" + bk + " --data-dir=" + (dir_ / "restored"), &out), 0) << out;
  EXPECT_NE(out.find("restored the backup"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ / "restored/search"));  // rebuilt at the first start
  EXPECT_FALSE(fs::exists(dir_ / "restored/admin.token"));  // a new one is made
  pchat::testing::server_process restored(dir_ / "restored");
  ASSERT_TRUE(restored.start()) << restored.stderr_text();

  std::set<std::string> found;
  EXPECT_TRUE(pchat::testing::eventually([&] { return (found = search_texts(restored, "tokenpre")) == before; }, 20s))
      << found.size() << " of " << before.size() << " posts acknowledged before the backup are found";
  EXPECT_TRUE(search_texts(restored, "tokenafter").empty());  // posted after the backup ended
  std::set<std::string> during_found = search_texts(restored, "tokendur");
  EXPECT_LE(during_found.size(), static_cast<size_t>(during));

  auto down = http(restored.http_port(), "GET", "/files/v1/rooms/" + desk + "/" + file_id, {as("sip:bob@example.com")});
  EXPECT_EQ(down.status, 200);
  EXPECT_TRUE(down.body == bytes) << "the restored file differs (" << down.body.size() << " bytes)";

  // A client of the restored node sees the history and can post on.
  pchat::testing::chat_clients again;
  chat_client& bob = again.add(restored.sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s)) << bob.failure_reason();
  auto rejoined = bob.join_and_wait(room, 5s);
  ASSERT_TRUE(rejoined && rejoined->ok());
  EXPECT_TRUE(post_ok(bob, room, "on the restored node"));
  again.clear();
  EXPECT_TRUE(restored.stop());
  EXPECT_TRUE(server.stop());
}

TEST_F(BackupE2E, TheCliAndTheRestoreRefuseBadFoldersAndDamagedBackupsWithReasons) {
  pchat::testing::server_process server(dir_ / "data");
  ASSERT_TRUE(server.start()) << server.stderr_text();
  int rc = 0;

  // No --dir: a usage error. A folder that is not empty, inside the data folder, or cannot
  // be made: refused by the server, with its reason, nothing written.
  std::string out = server.ctl("backup", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--dir"), std::string::npos) << out;
  fs::create_directories(dir_ / "full");
  std::ofstream(dir_ / "full/keep") << "x";
  out = server.ctl("backup --dir " + (dir_ / "full"), &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "full"), fs::directory_iterator{}), 1);
  out = server.ctl("backup --dir " + (dir_ / "data/inside"), &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("inside the data folder"), std::string::npos) << out;
  std::ofstream(dir_ / "plain") << "x";
  out = server.ctl("backup --dir " + (dir_ / "plain/sub"), &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot create backup folder"), std::string::npos) << out;
  out = server.ctl("backup --dir " + (dir_ / "x") + " --timeout 0", &rc);
  EXPECT_EQ(rc, 2) << out;

  // A good backup to damage below.
  pchat::testing::ctl_ok(server, "category new --name Shared");
  pchat::testing::ctl_ok(server, "room new --name Desk --category Shared --privacy open");
  ASSERT_FALSE(HasFatalFailure());
  auto up = http(server.http_port(), "POST", "/files/v1/rooms/" + room_id(server, "Desk") + "?name=a.txt",
                 {as("sip:alice@example.com")}, std::string(2 << 20, 'a'));
  ASSERT_EQ(up.status, 201) << up.body;
  out = server.ctl("backup --dir " + (dir_ / "bk"), &rc);
  ASSERT_EQ(rc, 0) << out;

  // A disk too small for it (another filesystem, so everything is copied): 507, the reason,
  // and the folder left as it was.
  pchat::testing::tmpfs_mount small(1 << 20);
  if (small.mounted()) {
    out = server.ctl("backup --dir " + small.path() + "/b", &rc);
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("(507)"), std::string::npos) << out;
    EXPECT_NE(out.find("No space left on device"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(small.path() + "/b"));
  } else {
    std::printf("the full-disk case is skipped: %s\n", small.reason().c_str());
  }
  EXPECT_TRUE(server.stop());

  // Restore: into a folder that is not empty (the live data folder), never.
  out.clear();
  EXPECT_EQ(run_pchatd("--restore-from=" + (dir_ / "bk") + " --data-dir=" + (dir_ / "data"), &out), 1) << out;
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  // A damaged backup: a file changed since it was written.
  std::string blob;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "bk/files"))
    if (e.is_regular_file()) blob = e.path().string();
  ASSERT_FALSE(blob.empty());
  std::ofstream(blob, std::ios::binary | std::ios::app) << "tampered";
  out.clear();
  EXPECT_EQ(run_pchatd("--restore-from=" + (dir_ / "bk") + " --data-dir=" + (dir_ / "r1"), &out), 1) << out;
  EXPECT_NE(out.find("backup damaged"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ / "r1"));
  // Not a backup (no manifest): an unfinished one or the wrong folder.
  fs::create_directories(dir_ / "empty-target");
  out.clear();
  EXPECT_EQ(run_pchatd("--restore-from=" + (dir_ / "full") + " --data-dir=" + (dir_ / "empty-target"), &out), 1)
      << out;
  EXPECT_NE(out.find("not a pchat backup"), std::string::npos) << out;
  EXPECT_TRUE(empty_folder(dir_ / "empty-target"));
}
