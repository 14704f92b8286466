// Compliance tests: the staging key and record codec, the store's staging queue and
// settings, the time encodings, the XML adapter (golden document, XSD validation with
// xmllint), the CSV adapter, the runner's delete-only-after-success and crash recovery, and
// capture through the actors (a post and its event in one synced write).
#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "actors/compliance_runner_actor.h"
#include "actors/commit_actor.h"
#include "actors/directory_actor.h"
#include "actors/identity_registry.h"
#include "actors/messages.h"
#include "actors/reader_actor.h"
#include "actors/server_context.h"
#include "actors/session_actor.h"
#include "compliance/adapter.h"
#include "compliance/backchat_content.h"
#include "compliance/csv_adapter.h"
#include "compliance/output_file.h"
#include "compliance/xml_adapter.h"
#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/xccos_codec.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/database.h"
#include "tests/support/actor_node.h"
#include "tests/support/compliance_xsd.h"
#include "tests/support/eventually.h"
#include "tests/support/read_file.h"
#include "tests/support/recording_sender.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xccos_commands.h"

using namespace pchat;
using namespace std::chrono_literals;
using storage::compliance_kind;
using storage::compliance_record;

namespace {

using pchat::testing::read_file;
using pchat::testing::temp_dir;

// These tests wait up to 10 s for a condition, polling every 5 ms.
template <class Pred>
bool eventually(Pred pred) {
  return pchat::testing::eventually(pred, 10s, 5ms);
}

// 2008-06-04T20:15:40.953548Z: the reference sample's instant at our clock's resolution.
constexpr int64_t kT0 = 1212610540953548;

compliance_record ev(uint64_t seq, compliance_kind k, const std::string& room,
                     const std::string& user, uint64_t id, const std::string& text,
                     int64_t ts) {
  compliance_record e;
  e.seq = seq;
  e.kind = k;
  e.room_id = room;
  e.room_uri = "ma-chan://example.com/" + room;  // as the runner gives it to adapters
  e.room_name = room == "r1" ? "Trading Floor" : "Ops";
  e.user_uri = user;
  e.message_id = id;
  e.text = text;
  e.ts_micros = ts;
  return e;
}

// An administrator's own event (admin:NAME), done to `target`, which held `previous`.
compliance_record admin_ev(uint64_t seq, compliance_kind k, const std::string& room, uint64_t id,
                           const std::string& text, const std::string& target,
                           const std::string& previous, int64_t ts) {
  compliance_record e = ev(seq, k, room, "admin:root", id, text, ts);
  e.target = target;
  e.previous = previous;
  return e;
}

// The known scenario: join, post, back-chat (holding what bob was sent), part, then
// an administrator replaces the post, clears the room and searches every room: each is the
// admin's own event, telling who acted, on whose message and what it said before.
std::vector<compliance_record> scenario() {
  std::vector<compliance_record> v = {
      ev(1, compliance_kind::join, "r1", "sip:alice@example.com", 0, "", kT0),
      ev(2, compliance_kind::chat, "r1", "sip:alice@example.com", 1, "Buy 100 <ACME> & hold",
         kT0 + 1000000),
      ev(3, compliance_kind::backchat, "r1", "sip:bob@example.com", 0,
         "[1] 2008-06-04T20:15:41Z sip:alice@example.com: Buy 100 <ACME> & hold\n", kT0 + 2000000),
      ev(4, compliance_kind::part, "r1", "sip:alice@example.com", 0, "", kT0 + 3000000),
      admin_ev(5, compliance_kind::admin_replace, "r1", 1,
               "This message was replaced by the Persistent Chat administrator.",
               "sip:alice@example.com", "Buy 100 <ACME> & hold", kT0 + 4000000),
      admin_ev(6, compliance_kind::admin_clear, "r1", 1,
               "cleared: posted on or before 2008-06-04T23:59:59Z", "sip:alice@example.com",
               "This message was replaced by the Persistent Chat administrator.", kT0 + 5000000),
      admin_ev(7, compliance_kind::admin_search, "", 0,
               "q=ACME room= author= from= to= limit=50 results=0", "", "", kT0 + 6000000),
  };
  v.back().room_name = "every room";
  return v;
}

}  // namespace

// ---- keys and codec

TEST(ComplianceKeys, KeyIsBigEndianSoQueueOrderIsSequenceOrder) {
  EXPECT_EQ(storage::keys::compliance_key(1), std::string("\0\0\0\0\0\0\0\x01", 8));
  EXPECT_LT(storage::keys::compliance_key(255), storage::keys::compliance_key(256));
  uint64_t seq = 0;
  ASSERT_TRUE(storage::keys::get_compliance_key(storage::keys::compliance_key(1ull << 40), &seq));
  EXPECT_EQ(seq, 1ull << 40);
  EXPECT_FALSE(storage::keys::get_compliance_key("short", &seq));
}

TEST(ComplianceRecord, RoundTripsEveryField) {
  compliance_record in = ev(42, compliance_kind::message_replaced, "r1", "sip:a@example.com", 7,
                            "new\ntext", -5);
  in.user_display = "Alice";
  std::string bytes;
  storage::put_compliance_record(&bytes, in);
  compliance_record out;
  ASSERT_TRUE(storage::get_compliance_record(bytes, &out).is_ok());
  EXPECT_EQ(out.seq, 42u);
  EXPECT_EQ(out.kind, compliance_kind::message_replaced);
  EXPECT_EQ(out.ts_micros, -5);
  EXPECT_EQ(out.room_id, "r1");
  EXPECT_EQ(out.room_uri, "") << "format 2 stores the room id only; the runner derives the URI";
  EXPECT_EQ(out.room_name, in.room_name);
  EXPECT_EQ(out.user_uri, in.user_uri);
  EXPECT_EQ(out.user_display, "Alice");
  EXPECT_EQ(out.message_id, 7u);
  EXPECT_EQ(out.text, "new\ntext");
}

TEST(ComplianceRecord, AnAdminEventKeepsItsTargetAndWhatWasThereBefore) {
  compliance_record in = ev(43, compliance_kind::admin_replace, "r1", "admin:root", 7, "redacted", 5);
  in.target = "sip:alice@example.com";
  in.previous = "the secret";
  std::string bytes;
  storage::put_compliance_record(&bytes, in);
  EXPECT_EQ(bytes.front(), '\x04') << "format 4 only for events with a target or a previous value";
  compliance_record out;
  ASSERT_TRUE(storage::get_compliance_record(bytes, &out).is_ok());
  EXPECT_EQ(out.kind, compliance_kind::admin_replace);
  EXPECT_EQ(out.user_uri, "admin:root");
  EXPECT_EQ(out.target, "sip:alice@example.com");
  EXPECT_EQ(out.previous, "the secret");
  // A user's event stays format 2 (older versions read it).
  std::string plain;
  storage::put_compliance_record(&plain, ev(44, compliance_kind::chat, "r1", "sip:a@example.com", 1, "x", 5));
  EXPECT_EQ(plain.front(), '\x02');
  // No format 3 (a compliance value starting 0x03 is a group) and truncated fields fail.
  std::string three = bytes;
  three[0] = '\x03';
  EXPECT_TRUE(storage::get_compliance_record(three, &out).is_corruption());
  EXPECT_TRUE(storage::get_compliance_record(bytes.substr(0, bytes.size() - 3), &out).is_corruption());
}

TEST(BackchatContent, ListsEveryMessageReturnedAndBoundsTheTextItKeeps) {
  std::vector<storage::message_record> sent;
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    storage::message_record m;
    m.seq = seq;
    m.author = "sip:alice@example.com";
    m.ts_micros = kT0;
    m.text = std::string(64 * 1024, static_cast<char>('a' + seq));  // the longest chat text
    sent.push_back(m);
  }
  std::string c = compliance::backchat_content(sent);
  EXPECT_LE(c.size(), compliance::kMaxBackchatContentBytes + 10 * 100) << "bounded";
  // The first three fit whole; every message is still named by its sequence, time and author.
  EXPECT_EQ(c.rfind("[1] 2008-06-04T20:15:40Z sip:alice@example.com: bbbb", 0), 0u);
  for (uint64_t seq = 1; seq <= 10; ++seq)
    EXPECT_NE(c.find("[" + std::to_string(seq) + "] 2008-06-04T20:15:40Z sip:alice@example.com: "),
              std::string::npos)
        << seq;
  EXPECT_NE(c.find("[10] 2008-06-04T20:15:40Z sip:alice@example.com: (text not recorded here: see its CHAT "
                   "event)\n"),
            std::string::npos);
  EXPECT_NE(c.find(std::string(64 * 1024, 'd')), std::string::npos);
  EXPECT_EQ(c.find(std::string(64 * 1024, 'k')), std::string::npos);
  EXPECT_EQ(compliance::backchat_content({}), "") << "nothing returned, nothing listed";
}

TEST(ComplianceRecord, FormatOneWithTheRoomUriIsStillRead) {
  // Bytes as version 1 wrote them: version seq kind ts room_uri room_name user_uri
  // user_display message_id text.
  std::string uri = "ma-chan://example.com/r1";
  compliance_record out;
  std::string bytes;
  bytes += '\x01';                      // format 1
  bytes += '\x2a';                      // seq 42
  bytes += '\x02';                      // chat
  bytes += '\x0a';                      // ts 5 (zigzag)
  bytes += char(uri.size()) + uri;      // room_uri
  bytes += std::string("\x03Ops", 4);   // room_name
  bytes += std::string("\x11sip:a@example.com", 18);
  bytes += '\x00';                      // user_display ""
  bytes += '\x07';                      // message_id 7
  bytes += std::string("\x02hi", 3);
  ASSERT_TRUE(storage::get_compliance_record(bytes, &out).is_ok());
  EXPECT_EQ(out.seq, 42u);
  EXPECT_EQ(out.kind, compliance_kind::chat);
  EXPECT_EQ(out.ts_micros, 5);
  EXPECT_EQ(out.room_uri, uri);
  EXPECT_EQ(out.room_id, "");
  EXPECT_EQ(out.room_name, "Ops");
  EXPECT_EQ(out.user_uri, "sip:a@example.com");
  EXPECT_EQ(out.message_id, 7u);
  EXPECT_EQ(out.text, "hi");
  bytes[0] = '\x03';
  EXPECT_TRUE(storage::get_compliance_record(bytes, &out).is_corruption());
}

TEST(ComplianceRecord, UnknownKindIsCorruption) {
  std::string bytes;
  storage::put_compliance_record(&bytes, ev(1, compliance_kind::chat, "r1", "u", 0, "", 0));
  bytes[2] = 14;  // version, seq (1 byte), kind: one past admin_membership
  compliance_record out;
  auto s = storage::get_compliance_record(bytes, &out);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_NE(s.reason().find("bad kind 14"), std::string::npos) << s.reason();
}

TEST(ComplianceRecord, TrailingBytesAreCorruption) {
  std::string bytes;
  storage::put_compliance_record(&bytes, ev(1, compliance_kind::chat, "r1", "u", 0, "", 0));
  bytes += 'x';
  compliance_record out;
  EXPECT_TRUE(storage::get_compliance_record(bytes, &out).is_corruption());
}

// ---- store

TEST(ComplianceStore, EventCommitsAtomicallyWithItsPost) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
  auto b = st->new_batch();
  storage::message_record m;
  m.seq = 1;
  m.author = "sip:a@example.com";
  m.text = "hi";
  st->messages().append(*b, "room", m);
  st->compliance().stage(*b, ev(1, compliance_kind::chat, "room", m.author, 1, "hi", 1));
  st->db().inject_write_failure_for_testing(true);
  EXPECT_FALSE(b->commit().is_ok());
  std::vector<compliance_record> staged;
  ASSERT_TRUE(st->compliance().read(0, 10, &staged).is_ok());
  EXPECT_TRUE(staged.empty()) << "a failed commit must stage neither the post nor its event";
  // A rejected event (seq 0) rejects the whole batch, the post too.
  temp_dir dir2("compliance");
  std::unique_ptr<storage::database> st2;
  ASSERT_TRUE(storage::database::open({dir2.path(), true}, &st2).is_ok());
  auto b2 = st2->new_batch();
  st2->messages().append(*b2, "room", m);
  st2->compliance().stage(*b2, ev(0, compliance_kind::chat, "room", m.author, 1, "hi", 1));
  EXPECT_TRUE(b2->commit().is_invalid_argument());
  uint64_t last = 9;
  ASSERT_TRUE(st2->messages().last_sequence("room", &last).is_ok());
  EXPECT_EQ(last, 0u);
}

TEST(ComplianceStore, SequenceSurvivesRestartEvenWhenTheQueueIsEmpty) {
  temp_dir dir("compliance");
  {
    std::unique_ptr<storage::database> st;
    ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
    auto b = st->new_batch();
    for (uint64_t i = 1; i <= 5; ++i) {  // one group commit each
      st->compliance().stage(*b, ev(i, compliance_kind::join, "r1", "sip:a@example.com", 0, "", 1));
      ASSERT_TRUE(b->commit().is_ok());
    }
    b.reset();
    ASSERT_TRUE(st->compliance().remove(1, 3).is_ok());
    uint64_t n = 0;
    ASSERT_TRUE(st->compliance().count(&n).is_ok());
    EXPECT_EQ(n, 2u);
    ASSERT_TRUE(st->compliance().remove(4, 5).is_ok());
    EXPECT_TRUE(st->compliance().remove(3, 2).is_invalid_argument());
  }
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
  uint64_t last = 0, n = 9;
  ASSERT_TRUE(st->compliance().count(&n).is_ok());
  EXPECT_EQ(n, 0u);
  ASSERT_TRUE(st->compliance().last_sequence(&last).is_ok());
  EXPECT_EQ(last, 5u) << "numbering must not restart at 1: output names would repeat";
}

TEST(ComplianceStore, DeliveryTotalsAreKeptWithEachDeleteAndSurviveAReopen) {
  temp_dir dir("compliance");
  {
    std::unique_ptr<storage::database> st;
    ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
    storage::delivery_totals t;
    ASSERT_TRUE(st->compliance().delivered_totals(&t).is_ok());
    EXPECT_EQ(t.batches, 0u);
    auto b = st->new_batch();
    for (uint64_t i = 1; i <= 5; ++i) {
      st->compliance().stage(*b, ev(i, compliance_kind::join, "r1", "sip:a@example.com", 0, "", 1));
      ASSERT_TRUE(b->commit().is_ok());
    }
    b.reset();
    ASSERT_TRUE(st->compliance().remove(1, 3, 3, 1000).is_ok());
    ASSERT_TRUE(st->compliance().remove(4, 5, 2, 2000).is_ok());
    ASSERT_TRUE(st->compliance().remove(4, 5).is_ok()) << "a re-run after a crash adds nothing";
  }
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
  storage::delivery_totals t;
  ASSERT_TRUE(st->compliance().delivered_totals(&t).is_ok());
  EXPECT_EQ(t.batches, 2u);
  EXPECT_EQ(t.events, 5u);
  EXPECT_EQ(t.last_success_micros, 2000);
}

TEST(ComplianceStore, OneBatchIsOneGroupReadAndDeletedWhole) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
  auto b = st->new_batch();
  st->compliance().stage(*b, ev(1, compliance_kind::join, "r1", "sip:a@example.com", 0, "", 1));
  ASSERT_TRUE(b->commit().is_ok());
  for (uint64_t i = 2; i <= 4; ++i)  // one synced batch: one stored group 2..4
    st->compliance().stage(*b, ev(i, compliance_kind::chat, "r1", "sip:a@example.com", i, "t" + std::to_string(i), 1));
  ASSERT_TRUE(b->commit().is_ok());
  st->compliance().stage(*b, ev(5, compliance_kind::part, "r1", "sip:a@example.com", 0, "", 1));
  ASSERT_TRUE(b->commit().is_ok());
  uint64_t n = 0, last = 0;
  ASSERT_TRUE(st->compliance().count(&n).is_ok());
  EXPECT_EQ(n, 5u);
  ASSERT_TRUE(st->compliance().last_sequence(&last).is_ok());
  EXPECT_EQ(last, 5u);
  std::vector<compliance_record> got;
  ASSERT_TRUE(st->compliance().read(0, 100, &got).is_ok());
  ASSERT_EQ(got.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(got[i].seq, i + 1);
  EXPECT_EQ(got[2].text, "t3");
  EXPECT_EQ(got[2].room_id, "r1");
  // A limit never ends a read inside a group; a start inside one begins there.
  ASSERT_TRUE(st->compliance().read(0, 2, &got).is_ok());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.back().seq, 4u);
  ASSERT_TRUE(st->compliance().read(3, 1, &got).is_ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.front().seq, 3u);
  // Deletes may not split a group.
  EXPECT_TRUE(st->compliance().remove(1, 3).is_invalid_argument());
  EXPECT_TRUE(st->compliance().remove(3, 5).is_invalid_argument());
  ASSERT_TRUE(st->compliance().count(&n).is_ok());
  EXPECT_EQ(n, 5u) << "a refused delete removes nothing";
  ASSERT_TRUE(st->compliance().remove(1, 4).is_ok());
  ASSERT_TRUE(st->compliance().read(0, 100, &got).is_ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.front().seq, 5u);
  // Events of one batch must be consecutive (the commit actor numbers them so).
  st->compliance().stage(*b, ev(6, compliance_kind::join, "r1", "sip:a@example.com", 0, "", 1));
  st->compliance().stage(*b, ev(8, compliance_kind::join, "r1", "sip:a@example.com", 0, "", 1));
  EXPECT_TRUE(b->commit().is_invalid_argument());
  ASSERT_TRUE(st->compliance().last_sequence(&last).is_ok());
  EXPECT_EQ(last, 5u);
}

TEST(ComplianceStore, ABigBatchIsSplitIntoGroupsOfAThousand) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
  auto b = st->new_batch();
  for (uint64_t i = 1; i <= 2500; ++i)  // e.g. clearing a big room: one event per message
    st->compliance().stage(*b, ev(i, compliance_kind::message_removed, "r1", "sip:a@example.com", i, "gone", 1));
  ASSERT_TRUE(b->commit().is_ok());
  uint64_t n = 0;
  ASSERT_TRUE(st->compliance().count(&n).is_ok());
  EXPECT_EQ(n, 2500u);
  std::vector<compliance_record> got;
  ASSERT_TRUE(st->compliance().read(0, 1, &got).is_ok());
  ASSERT_EQ(got.size(), 1000u) << "one whole group, not the whole batch";
  EXPECT_EQ(got.back().seq, 1000u);
  EXPECT_TRUE(st->compliance().remove(1001, 1500).is_invalid_argument());
  ASSERT_TRUE(st->compliance().remove(1, 2000).is_ok());
  ASSERT_TRUE(st->compliance().read(0, 10000, &got).is_ok());
  ASSERT_EQ(got.size(), 500u);
  EXPECT_EQ(got.front().seq, 2001u);
}

TEST(ComplianceStore, SettingsHaveTheReferenceDefaultsAndRanges) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path(), true}, &st).is_ok());
  storage::compliance_config c;
  ASSERT_TRUE(st->configuration().get_compliance(&c).is_ok());
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.adapter_type, "xml");
  EXPECT_EQ(c.run_interval_seconds, 900);
  EXPECT_FALSE(c.one_chat_room_per_output_file);
  c.run_interval_seconds = 59;
  EXPECT_TRUE(st->configuration().put_compliance(c).is_invalid_argument());
  c.run_interval_seconds = 30 * 24 * 3600 + 1;
  EXPECT_TRUE(st->configuration().put_compliance(c).is_invalid_argument());
  c.run_interval_seconds = 60;
  c.adapter_type = "pdf";
  EXPECT_TRUE(st->configuration().put_compliance(c).is_invalid_argument());
  c.adapter_type = "csv";
  c.enabled = true;
  c.add_user_details = true;
  c.output_directory = "/var/lib/pchat/out";
  ASSERT_TRUE(st->configuration().put_compliance(c).is_ok());
  storage::compliance_config back;
  ASSERT_TRUE(st->configuration().get_compliance(&back).is_ok());
  EXPECT_TRUE(back.enabled);
  EXPECT_EQ(back.adapter_type, "csv");
  EXPECT_EQ(back.run_interval_seconds, 60);
  EXPECT_TRUE(back.add_user_details);
  EXPECT_EQ(back.output_directory, "/var/lib/pchat/out");
}

// ---- XML adapter

TEST(XmlAdapter, KnownScenarioMatchesTheExpectedDocument) {
  compliance::adapter_options opts;
  std::string doc = compliance::encode_xml_document(scenario(), opts);
  const char* golden = PCHAT_SOURCE_DIR "/tests/compliance/golden_scenario.xml";
  // PCHAT_UPDATE_GOLDEN=1 rewrites the file; review its diff before committing it.
  if (std::getenv("PCHAT_UPDATE_GOLDEN") != nullptr) std::ofstream(golden) << doc;
  std::string expected = read_file(golden);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(doc, expected);
  // The golden document is valid under the (extended) XSD, and an auditor finds the admin's
  // events by their type and sender.
  std::string out;
  EXPECT_EQ(pchat::testing::xmllint_compliance_xml(golden, &out), 0) << out;
  for (const char* want : {"<Message type=\"ADMINREPLACE\" content=\"This message was replaced",
                           "<Message type=\"ADMINCLEAR\" content=\"cleared: posted on or before",
                           "<Message type=\"ADMINSEARCH\" content=\"q=ACME",
                           "<Sender UserName=\"admin:root\"",
                           "<Target uri=\"alice@example.com\" previous=\"Buy 100 &lt;ACME&gt; &amp; hold\" />",
                           "<Channel uri=\"ma-chan://example.com/\"",
                           "<Message type=\"BACKCHAT\" content=\"[1] 2008-06-04T20:15:41Z sip:alice@example.com: Buy 100"})
    EXPECT_NE(doc.find(want), std::string::npos) << want;
  EXPECT_EQ(doc.find("type=\"CHAT\" content=\"This message was replaced"), std::string::npos)
      << "an admin's replacement is not a post by the author";
}

TEST(XmlAdapter, TheXsdRefusesATargetOutsideAnEventAndAnUnknownAdminType) {
  temp_dir dir("compliance");
  std::string doc = compliance::encode_xml_document(scenario(), {});
  for (auto [from, to] : {std::pair<std::string, std::string>{"type=\"ADMINCLEAR\"", "type=\"ADMINSHOUT\""},
                          {"<Target uri=", "<Tagret uri="}}) {
    std::string bad = doc;
    bad.replace(bad.find(from), from.size(), to);
    std::string path = dir.path() + "/bad.xml";
    std::ofstream(path) << bad;
    std::string out;
    EXPECT_NE(pchat::testing::xmllint_compliance_xml(path, &out), 0) << to;
  }
}

TEST(XmlAdapter, OutputValidatesAgainstTheXsdWithEverySwitch) {
  temp_dir dir("compliance");
  auto events = scenario();
  events.push_back(ev(6, compliance_kind::file_upload, "r2", "sip:carol@fabrikam.com", 0,
                      "0988a0b0c0d0e0f0097c.txt", kT0 + 5000000));
  events.push_back(ev(8, compliance_kind::history_search, "r2", "sip:carol@fabrikam.com", 0,
                      "acme", kT0 + 7000000));
  events.push_back(admin_ev(9, compliance_kind::admin_room, "r2", 0, "changed: {\"privacy\":\"open\"}", "",
                            "{\"privacy\":\"closed\"}", kT0 + 8000000));
  events.push_back(admin_ev(10, compliance_kind::admin_membership, "r2", 0, "member added",
                            "group:desk", "", kT0 + 9000000));
  for (int mask = 0; mask < 8; ++mask) {
    compliance::adapter_options opts;
    opts.add_user_details = mask & 1;
    opts.add_chat_room_details = mask & 2;
    opts.create_file_attachments_manifest = mask & 4;
    std::string path = dir.path() + "/doc" + std::to_string(mask) + ".xml";
    std::ofstream(path) << compliance::encode_xml_document(events, opts);
    std::string out;
    EXPECT_EQ(pchat::testing::xmllint_compliance_xml(path, &out), 0) << "switches " << mask << ": " << out;
  }
  // And a document the XSD must reject, so the check above can fail.
  std::string bad = dir.path() + "/bad.xml";
  std::string doc = compliance::encode_xml_document(scenario(), {});
  doc.replace(doc.find("type=\"JOIN\""), 11, "type=\"SHOUT\"");
  std::ofstream(bad) << doc;
  std::string out;
  EXPECT_NE(pchat::testing::xmllint_compliance_xml(bad, &out), 0) << out;
}

TEST(XmlAdapter, UserAndRoomDetailsAddEmailInternalAndTheRoomName) {
  compliance::adapter_options opts;
  opts.add_user_details = true;
  opts.add_chat_room_details = true;
  auto events = scenario();
  events[2].user_uri = "sip:bob@fabrikam.com";
  std::string doc = compliance::encode_xml_document(events, opts);
  EXPECT_NE(doc.find("<Channel uri=\"ma-chan://example.com/r1\" name=\"Trading Floor\" />"),
            std::string::npos);
  EXPECT_NE(doc.find("email=\"alice@example.com\" internal=\"true\""), std::string::npos);
  EXPECT_NE(doc.find("email=\"bob@fabrikam.com\" internal=\"false\""), std::string::npos);
}

TEST(XmlAdapter, MultiLineTextSurvivesAttributeNormalisation) {
  auto events = scenario();
  events[1].text = "line1\nline2\t\"q\"\x01";
  std::string doc = compliance::encode_xml_document(events, {});
  EXPECT_NE(doc.find("content=\"line1&#xA;line2&#x9;&quot;q&quot;\xEF\xBF\xBD\""), std::string::npos)
      << doc;
}

TEST(XmlAdapter, OneChatRoomPerOutputFileWritesOneFilePerRoomNamedByRange) {
  temp_dir dir("compliance");
  compliance::adapter_options opts;
  opts.output_directory = dir.path();
  opts.one_chat_room_per_output_file = true;
  opts.create_file_attachments_manifest = true;
  auto a = compliance::make_adapter("xml", opts);
  compliance::batch b{1, 8, scenario()};
  b.events.push_back(ev(8, compliance_kind::file_download, "r2", "sip:c@example.com", 0,
                        "f00d.txt", kT0));
  ASSERT_TRUE(a->deliver(b).ok());
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0], "pchat-compliance-00000000000000000001-00000000000000000008-r1.xml");
  EXPECT_EQ(names[1], "pchat-compliance-00000000000000000001-00000000000000000008-r2.xml");
  EXPECT_EQ(names[2], "pchat-compliance-00000000000000000001-00000000000000000008.ATTACH");
  EXPECT_EQ(read_file(dir.path() + "/" + names[2]),
            "FILEDOWNLOAD\t2008-06-04T20:15:40.9535480Z\tma-chan://example.com/r2\t"
            "sip:c@example.com\tf00d.txt\t\n");
  // Events of no one room (an admin's search of every room) go to the batch's own file.
  EXPECT_EQ(names[3], "pchat-compliance-00000000000000000001-00000000000000000008.xml");
  EXPECT_NE(read_file(dir.path() + "/" + names[3]).find("ADMINSEARCH"), std::string::npos);
  EXPECT_EQ(a->delivered_range_end(1), 8u);
  EXPECT_EQ(a->delivered_range_end(2), 0u);
}

TEST(XmlAdapter, InvalidUtf8AndForbiddenCharactersBecomeReplacementCharactersAndTheFileValidates) {
  temp_dir dir("compliance");
  compliance::adapter_options opts;
  opts.output_directory = dir.path();
  opts.add_user_details = true;
  opts.add_chat_room_details = true;
  auto events = scenario();
  events[1].text = std::string("raw \xFF byte, nul ") + '\0' + " esc \x1B trunc \xC3";
  events[0].room_name = "room\x01";
  events[0].user_display = "Al\xFEice";
  compliance::batch b{1, 5, events};
  ASSERT_TRUE(compliance::make_adapter("xml", opts)->deliver(b).ok());
  const std::string path = dir.path() + "/" + compliance::output_name(1, 5, "", "xml");
  std::string out;
  EXPECT_EQ(pchat::testing::xmllint_compliance_xml(path, &out), 0) << out;
  const std::string doc = read_file(path);
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_NE(doc.find("content=\"raw " + r + " byte, nul " + r + " esc " + r + " trunc " + r + "\""),
            std::string::npos)
      << doc;
  EXPECT_NE(doc.find("name=\"room" + r + "\""), std::string::npos) << doc;
  EXPECT_NE(doc.find("UserName=\"Al" + r + "ice\""), std::string::npos) << doc;
}

// ---- CSV adapter

TEST(CsvAdapter, CellsThatASpreadsheetWouldRunAsFormulasAreNeutralised) {
  auto events = scenario();
  events[1].text = "=HYPERLINK(\"http://x\",\"y\")";
  events[0].room_name = "+cmd|' /C calc'!A0";
  events[2].user_display = "@SUM(1+1)";
  events[3].text = "-2+3";
  events[4].text = "\tx";
  events[4].previous = "=cmd";  // an admin event's target and previous cells are text cells too
  events.push_back(events[4]);
  events.back().seq = 6;
  events.back().text = "\rx";
  events.push_back(events[4]);
  events.back().seq = 7;
  events.back().text = "safe = 1 \xFF";
  std::string csv = compliance::encode_csv(events);
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",,\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'+cmd|' /C calc'!A0\","), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'@SUM(1+1)\","), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'-2+3\",,\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'\tx\",sip:alice@example.com,\"'=cmd\"\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"'\rx\",sip:alice@example.com,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",safe = 1 \xEF\xBF\xBD,sip:alice@example.com,"), std::string::npos) << csv;
  // After unquoting, no cell of the file starts with a formula character.
  std::istringstream in(csv);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.emplace_back();
      } else {
        cells.back() += c;
      }
    }
    for (const std::string& cell : cells) {
      if (!cell.empty()) {
        EXPECT_EQ(std::string_view("=+@\t").find(cell[0]), std::string_view::npos) << line;
      }
    }
  }
  // Numbers the adapter itself writes are left alone (a pre-1970 time is negative).
  auto old = scenario();
  old[0].ts_micros = -1000000;
  EXPECT_NE(compliance::encode_csv(old).find(",-1000,"), std::string::npos);
}

TEST(CsvAdapter, FileEventsShowMessageIdZeroAsInTheXml) {
  auto e = ev(9, compliance_kind::file_upload, "r1", "sip:a@example.com", 1795499659166563,
              "0988a0b0-c0d0-e0f0-0000-00000000097c.txt", kT0);
  std::string csv = compliance::encode_csv({e});
  EXPECT_EQ(csv.find("1795499659166563"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",0,0988a0b0-c0d0-e0f0-0000-00000000097c.txt"), std::string::npos) << csv;
}

TEST(CsvAdapter, WritesAHeaderAndQuotesFieldsPerRfc4180) {
  auto events = scenario();
  events[1].text = "a, \"b\"\nc";
  std::string csv = compliance::encode_csv(events);
  std::istringstream in(csv);
  std::string header, row1, row2;
  std::getline(in, header);
  EXPECT_EQ(header,
            "Event Id,Event Type,Time UTC,Time Since1970 Ms,Channel Uri,Channel Name,User Uri,"
            "User Display Name,Message Id,Content,Target Uri,Previous Content\r");
  std::getline(in, row1);
  EXPECT_EQ(row1,
            "1,JOIN,2008-06-04T20:15:40.9535480Z,1212610540953,ma-chan://example.com/r1,"
            "Trading Floor,sip:alice@example.com,sip:alice@example.com,0,,,\r");
  EXPECT_NE(csv.find(",1,\"a, \"\"b\"\"\nc\",,\r\n"), std::string::npos) << csv;
  // The admin's own events: the admin as the user, whose message and what it said.
  EXPECT_NE(csv.find("5,ADMINREPLACE,"), std::string::npos);
  EXPECT_NE(csv.find(",admin:root,admin:root,1,This message was replaced by the Persistent Chat "
                     "administrator.,sip:alice@example.com,Buy 100 <ACME> & hold\r\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("7,ADMINSEARCH,"), std::string::npos);
  EXPECT_NE(csv.find(",ma-chan://example.com/,every room,admin:root,"), std::string::npos) << csv;
}

// ---- runner

namespace {

// Wraps an adapter and fails the first `failures` deliveries (like a full disk).
class flaky_adapter final : public compliance::adapter {
 public:
  flaky_adapter(std::unique_ptr<compliance::adapter> inner, int failures)
      : inner_(std::move(inner)), failures_left_(failures) {}
  std::string type() const override { return inner_->type(); }
  compliance::adapter_result deliver(const compliance::batch& b) override {
    attempts++;
    if (failures_left_ > 0) {
      --failures_left_;
      return compliance::adapter_result::failure("injected failure");
    }
    return inner_->deliver(b);
  }
  uint64_t delivered_range_end(uint64_t first) override {
    return inner_->delivered_range_end(first);
  }
  void remove_stale_temporaries() override { inner_->remove_stale_temporaries(); }
  std::atomic<int> attempts{0};

 private:
  std::unique_ptr<compliance::adapter> inner_;
  int failures_left_;
};

// Every CSV row's event id in `dir`, counted.
std::map<uint64_t, int> delivered_ids(const std::string& dir) {
  std::map<uint64_t, int> ids;
  std::error_code ec;  // the adapter creates the directory with its first output
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const auto& f = *it;
    if (f.path().extension() != ".csv") continue;
    std::istringstream in(read_file(f.path().string()));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line))
      if (!line.empty()) ids[std::stoull(line.substr(0, line.find(',')))]++;
  }
  return ids;
}

actors::compliance_status runner_status(caf::actor_system& sys, const caf::actor& runner) {
  caf::scoped_actor self{sys};
  actors::compliance_status out;
  self->request(runner, 5s, actors::cstatus_atom::value)
      .receive([&](actors::compliance_status& s) { out = s; }, [&](caf::error&) {});
  return out;
}

// A compliance runner on its own two-thread actor system, stopped when the test ends
// (also when an ASSERT returns early: the system would otherwise wait for it forever).
struct runner_rig {
  runner_rig(storage::database* st, actors::runner_options ro)
      : sys(two_threads(cfg)), runner(actors::spawn_compliance_runner(sys, st, std::move(ro))) {}
  ~runner_rig() { caf::anon_send_exit(runner, caf::exit_reason::user_shutdown); }
  static caf::actor_system_config& two_threads(caf::actor_system_config& c) {
    c.set("scheduler.max-threads", 2);
    return c;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::actor runner;
};

// Runner options for tests: adapter `type` writing per `opts`, a RunInterval long enough
// that only the first run (at start) delivers.
actors::runner_options runner_for(const std::string& type, const compliance::adapter_options& opts,
                                      const std::string& domain = "example.com") {
  actors::runner_options ro;
  ro.domain = domain;
  ro.output = compliance::make_adapter(type, opts);
  ro.run_interval = 10s;
  return ro;
}

// Stages events first..last, one group commit each (or all in one when `one_group`).
void stage(storage::database& st, uint64_t first, uint64_t last, bool one_group = false) {
  auto b = st.new_batch();
  for (uint64_t i = first; i <= last; ++i) {
    st.compliance().stage(*b, ev(i, compliance_kind::chat, "r1", "sip:a@example.com", i, "m", kT0));
    if (!one_group) {
      ASSERT_TRUE(b->commit().is_ok());
    }
  }
  if (one_group) {
    ASSERT_TRUE(b->commit().is_ok());
  }
}

}  // namespace

TEST(ComplianceRunner, AdapterFailingThreeTimesThenSucceedingDeliversEveryEventExactlyOnce) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  stage(*st, 1, 50);
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  auto flaky = std::make_shared<flaky_adapter>(compliance::make_adapter("csv", opts), 3);
  actors::runner_options ro;
  ro.domain = "example.com";
  ro.output = flaky;
  ro.run_interval = 200ms;
  ro.backoff_base = 5ms;
  ro.max_batch_events = 20;
  runner_rig rig(st.get(), ro);
  // While failing, the batch stays staged and status shows the error.
  ASSERT_TRUE(eventually([&] { return flaky->attempts >= 2; }));
  auto s = runner_status(rig.sys, rig.runner);
  EXPECT_EQ(s.last_error, "injected failure");
  EXPECT_GE(s.consecutive_failures, 1u);
  ASSERT_TRUE(eventually([&] {
    uint64_t n = 1;
    return st->compliance().count(&n).is_ok() && n == 0;
  }));
  stage(*st, 51, 60);  // more arrive later, delivered at the next interval
  ASSERT_TRUE(eventually([&] { return delivered_ids(opts.output_directory).size() == 60; }));
  auto ids = delivered_ids(opts.output_directory);
  for (uint64_t i = 1; i <= 60; ++i) EXPECT_EQ(ids[i], 1) << "event " << i;
  s = runner_status(rig.sys, rig.runner);
  EXPECT_EQ(s.last_error, "");
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_EQ(s.delivered_through, 60u);
  EXPECT_EQ(s.events_delivered, 60u);
  EXPECT_GE(flaky->attempts, 3 + 4);  // 3 failures, then batches of 20, 20, 10, 10
}

namespace {
// An encoder with a bug: its document would not parse.
class broken_encoder final : public compliance::file_adapter {
 public:
  using file_adapter::file_adapter;
  std::string type() const override { return "xml"; }

 protected:
  std::string encode(const std::vector<compliance_record>&) const override {
    return "<Conversations>\xFF</Conversations>";
  }
};
}  // namespace

TEST(ComplianceRunner, ARecordWithByte0xFFFromAnOlderVersionIsDeliveredAsValidXml) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  // Staged as an older version did, before text was checked on entry.
  auto b = st->new_batch();
  st->compliance().stage(*b, ev(1, compliance_kind::chat, "r1", "sip:a@example.com", 1, "ok", kT0));
  st->compliance().stage(*b, ev(2, compliance_kind::chat, "r1", "sip:a@example.com", 2,
                       std::string("bad \xFF byte and \x01"), kT0));
  ASSERT_TRUE(b->commit().is_ok());
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  runner_rig rig(st.get(), runner_for("xml", opts));
  const std::string path = opts.output_directory + "/" + compliance::output_name(1, 2, "", "xml");
  ASSERT_TRUE(eventually([&] { return runner_status(rig.sys, rig.runner).delivered_through == 2; }));
  std::string out;
  EXPECT_EQ(pchat::testing::xmllint_compliance_xml(path, &out), 0) << out;
  EXPECT_NE(read_file(path).find("content=\"bad \xEF\xBF\xBD byte and \xEF\xBF\xBD\""), std::string::npos);
  auto s = runner_status(rig.sys, rig.runner);
  EXPECT_EQ(s.last_error, "");
  EXPECT_EQ(s.events_delivered, 2u);
}

TEST(ComplianceRunner, OutputThatWouldNotParseIsNotWrittenAndTheBatchIsNotReportedDelivered) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  stage(*st, 1, 3);
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  actors::runner_options ro = runner_for("xml", opts);
  ro.output = std::make_shared<broken_encoder>(opts);
  runner_rig rig(st.get(), ro);
  ASSERT_TRUE(eventually([&] { return runner_status(rig.sys, rig.runner).consecutive_failures >= 1; }));
  auto s = runner_status(rig.sys, rig.runner);
  EXPECT_NE(s.last_error.find("would hold invalid UTF-8 or a control character"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.batches_delivered, 0u);
  EXPECT_EQ(s.events_delivered, 0u);
  EXPECT_EQ(s.delivered_through, 0u);
  EXPECT_EQ(s.queue_depth, 3u);
  EXPECT_FALSE(std::filesystem::exists(opts.output_directory + "/" +
                                       compliance::output_name(1, 3, "", "xml")));
}

TEST(ComplianceRunner, AGroupLargerThanABatchIsDeliveredWholeAndOnce) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  stage(*st, 1, 3);
  stage(*st, 4, 30, true);  // one group commit of 27 events
  stage(*st, 31, 32);
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  actors::runner_options ro = runner_for("csv", opts);
  ro.max_batch_events = 5;
  runner_rig rig(st.get(), ro);
  ASSERT_TRUE(eventually([&] { return delivered_ids(opts.output_directory).size() == 32; }));
  auto ids = delivered_ids(opts.output_directory);
  for (uint64_t i = 1; i <= 32; ++i) EXPECT_EQ(ids[i], 1) << "event " << i;
  // Batches: 1..3 and the group after it (limit 5 reached inside the group), then 31..32.
  EXPECT_TRUE(compliance::output_exists(opts.output_directory, compliance::output_name(1, 30, "", "csv")));
  EXPECT_TRUE(compliance::output_exists(opts.output_directory, compliance::output_name(31, 32, "", "csv")));
  uint64_t n = 9;
  ASSERT_TRUE(eventually([&] { return st->compliance().count(&n).is_ok() && n == 0; }));
}

TEST(ComplianceRunner, DeliveryAddsTheRoomUriAndTheUsersDisplayName) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  storage::user_record ann;
  ann.uri = "sip:a@example.com";
  ann.display_name = "Ann Analyst";
  ASSERT_TRUE(st->identities().put_user(ann).is_ok());
  auto b = st->new_batch();
  compliance_record known = ev(1, compliance_kind::chat, "r1", "sip:a@example.com", 1, "m", kT0);
  known.room_uri.clear();  // as staged: the room id only
  compliance_record stranger = ev(2, compliance_kind::chat, "r1", "sip:z@example.com", 2, "m", kT0);
  stranger.room_uri.clear();
  st->compliance().stage(*b, known);
  st->compliance().stage(*b, stranger);
  ASSERT_TRUE(b->commit().is_ok());
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  actors::runner_options ro = runner_for("csv", opts, "chat.example.org");
  runner_rig rig(st.get(), ro);
  std::string out_file = opts.output_directory + "/" + compliance::output_name(1, 2, "", "csv");
  bool delivered = eventually([&] { return std::filesystem::exists(out_file); });
  ASSERT_TRUE(delivered);
  std::string csv = read_file(out_file);
  EXPECT_NE(csv.find("ma-chan://chat.example.org/r1"), std::string::npos) << csv;
  EXPECT_NE(csv.find("Ann Analyst"), std::string::npos) << csv;
  // Not in the directory: the address stands in for the name.
  EXPECT_NE(csv.find("sip:z@example.com,sip:z@example.com"), std::string::npos) << csv;
}

TEST(ComplianceRunner, TheManifestNamesTheUploadedFileBehindTheStoredName) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  storage::file_record f;
  f.id = st->files().new_id();
  f.room_id = "r1";
  f.name = "Q3 report.txt";
  f.blob = "0988a0b0-c0d0-e0f0-0000-00000000097c.txt";
  f.uploader = "sip:a@example.com";
  auto b = st->new_batch();
  st->files().put(*b, f);
  compliance_record up = ev(1, compliance_kind::file_upload, "r1", "sip:a@example.com", f.id, f.blob, kT0);
  up.room_uri.clear();
  st->compliance().stage(*b, up);
  ASSERT_TRUE(b->commit().is_ok());
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  opts.create_file_attachments_manifest = true;
  actors::runner_options ro = runner_for("xml", opts);
  runner_rig rig(st.get(), ro);
  std::string manifest = opts.output_directory + "/" + compliance::output_name(1, 1, "", "ATTACH");
  std::string doc = opts.output_directory + "/" + compliance::output_name(1, 1, "", "xml");
  // The batch is delivered when its last file is renamed into place; wait for both.
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(manifest) && std::filesystem::exists(doc); }));
  EXPECT_EQ(read_file(manifest), "FILEUPLOAD\t2008-06-04T20:15:40.9535480Z\tma-chan://example.com/r1\t"
                                 "sip:a@example.com\t0988a0b0-c0d0-e0f0-0000-00000000097c.txt\tQ3 report.txt\n");
  std::string xml = read_file(doc);
  EXPECT_NE(xml.find("<Message type=\"FILEUPLOAD\" content=\"0988a0b0-c0d0-e0f0-0000-00000000097c.txt\" id=\"0\">"),
            std::string::npos) << xml;
}

TEST(ComplianceRunner, OutputLeftByACrashBeforeTheDeleteIsCompletedNotDuplicated) {
  temp_dir dir("compliance");
  std::unique_ptr<storage::database> st;
  ASSERT_TRUE(storage::database::open({dir.path() + "/store", true}, &st).is_ok());
  stage(*st, 1, 8);
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  // The previous process delivered [1, 5] (renamed) and died before deleting; it also left
  // a temporary of its next batch. Events 6..8 arrived after.
  {
    auto a = compliance::make_adapter("csv", opts);
    std::vector<compliance_record> first5;
    ASSERT_TRUE(st->compliance().read(1, 5, &first5).is_ok());
    ASSERT_TRUE(a->deliver({1, 5, first5}).ok());
    std::ofstream(opts.output_directory + "/" +
                  compliance::output_name(6, 7, "", "csv") + ".tmp") << "partial";
  }
  actors::runner_options ro = runner_for("csv", opts);
  runner_rig rig(st.get(), ro);
  ASSERT_TRUE(eventually([&] { return delivered_ids(opts.output_directory).size() == 8; }));
  auto ids = delivered_ids(opts.output_directory);
  for (uint64_t i = 1; i <= 8; ++i) EXPECT_EQ(ids[i], 1) << "event " << i;
  EXPECT_TRUE(compliance::output_exists(opts.output_directory, compliance::output_name(6, 8, "", "csv")));
  for (auto& f : std::filesystem::directory_iterator(opts.output_directory))
    EXPECT_NE(f.path().extension(), ".tmp") << f.path();
}

// ---- capture through the actors

namespace {

using pchat::testing::recording_sender;

using pchat::testing::backchat_cmd;
using pchat::testing::join_cmd;
using pchat::testing::part_cmd;
using pchat::testing::post_cmd;

// A node without SIP, compliance on or off.
struct node : pchat::testing::actor_node {
  node(const std::string& dir, bool compliance_on) : actor_node(dir, compliance_on) {}
  // ChatHistory off by default: such posts are not stored but captured all the same
  // (reference §4.1); rooms whose history is edited afterwards need it on.
  std::string make_room(const std::string& name, bool chat_history = false) {
    return actor_node::make_room(name, chat_history);
  }
  std::vector<compliance_record> staged() {
    std::vector<compliance_record> out;
    EXPECT_TRUE(store->compliance().read(0, 1000, &out).is_ok());
    return out;
  }
  uint64_t replace(const actors::message_filter& f) {
    caf::scoped_actor self{*sys};
    uint64_t n = 0;
    self->request(ctx->directory, 5s, actors::replace_atom::value, f)
        .receive([&](uint64_t r) { n = r; }, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return n;
  }
};

std::vector<compliance_kind> kinds(const std::vector<compliance_record>& v) {
  std::vector<compliance_kind> k;
  for (auto& e : v) k.push_back(e.kind);
  return k;
}

}  // namespace

TEST(ComplianceCapture, AcknowledgedPostHasItsEventStagedInTheSameWrite) {
  temp_dir dir("compliance");
  node n(dir.path(), true);
  std::string uri = n.make_room("Capture");
  auto alice = n.session(1, "sip:alice@example.com");
  ASSERT_TRUE(n.join(alice, 1, uri));
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "durable")), 200);
  // No waiting: the 200 above implies the event is already on disk.
  auto staged = n.staged();
  auto chat = std::find_if(staged.begin(), staged.end(),
                           [](auto& e) { return e.kind == compliance_kind::chat; });
  ASSERT_NE(chat, staged.end());
  EXPECT_EQ(chat->text, "durable");
  EXPECT_EQ(chat->message_id, 1u);
  EXPECT_EQ("ma-chan://example.com/" + chat->room_id, uri);
  EXPECT_EQ(chat->room_uri, "") << "derived at delivery, not stored";
  EXPECT_EQ(chat->room_name, "Capture");
  EXPECT_EQ(chat->user_uri, "sip:alice@example.com");
  // A failed commit: the post is refused (503) and neither it nor its event is stored.
  n.store->db().inject_write_failure_for_testing(true);
  EXPECT_EQ(n.cmd(alice, post_cmd(uri, "lost")), 503);
  for (auto& e : n.staged()) EXPECT_NE(e.text, "lost");
}

TEST(ComplianceCapture, ComplianceOffWritesNothing) {
  temp_dir dir("compliance");
  node n(dir.path(), false);
  std::string uri = n.make_room("Off");
  auto alice = n.session(1, "sip:alice@example.com");
  ASSERT_TRUE(n.join(alice, 1, uri));
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "x")), 200);
  ASSERT_EQ(n.cmd(alice, backchat_cmd(uri, 5)), 200);
  EXPECT_TRUE(n.staged().empty());
}

TEST(ComplianceCapture, ScenarioIsStagedInOrderAndReplacementShowsInBackchat) {
  temp_dir dir("compliance");
  node n(dir.path(), true);
  std::string uri = n.make_room("Scenario", true);
  auto alice = n.session(1, "sip:alice@example.com");
  auto bob = n.session(2, "sip:bob@example.com");
  ASSERT_TRUE(n.join(alice, 1, uri));
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "secret plan")), 200);
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "lunch?")), 200);
  ASSERT_TRUE(n.join(bob, 2, uri));
  ASSERT_EQ(n.cmd(bob, backchat_cmd(uri, 10)), 200);
  ASSERT_TRUE(n.edge.wait_info(2, "rpl:bccontext"));
  ASSERT_EQ(n.cmd(alice, part_cmd(uri)), 200);
  ASSERT_TRUE(n.edge.wait_info(1, "rpl:part"));
  actors::message_filter f;
  f.room = "Scenario";
  f.contains = "secret";
  f.replacement = "This message was replaced by the Persistent Chat administrator.";
  f.admin = "admin:root";
  EXPECT_EQ(n.replace(f), 1u);
  EXPECT_EQ(n.replace(f), 0u) << "replacing again changes nothing";
  // Back-chat (from the room's cache) shows the replacement, not the original.
  auto carol = n.session(3, "sip:carol@example.com");
  ASSERT_TRUE(n.join(carol, 3, uri));
  ASSERT_EQ(n.cmd(carol, backchat_cmd(uri, 10)), 200);
  EXPECT_TRUE(n.edge.wait_info(3, "replaced by the Persistent Chat administrator"));
  EXPECT_FALSE(n.edge.wait_info(3, "secret plan", 100ms));
  std::vector<compliance_record> staged;
  ASSERT_TRUE(eventually([&] {
    staged = n.staged();
    return staged.size() >= 9;
  }));
  using K = compliance_kind;
  std::vector<K> want = {K::join, K::chat,     K::chat, K::join,
                         K::backchat, K::part, K::admin_replace, K::join, K::backchat};
  auto got = kinds(staged);
  got.resize(std::min(got.size(), want.size()));
  EXPECT_EQ(got, want);
  for (size_t i = 1; i < staged.size(); ++i) EXPECT_EQ(staged[i].seq, staged[i - 1].seq + 1);
  // Bob's back-chat holds the two posts he was sent; the admin's replacement is the admin's.
  EXPECT_NE(staged[4].text.find("] "), std::string::npos);
  EXPECT_NE(staged[4].text.find("sip:alice@example.com: secret plan\n"), std::string::npos) << staged[4].text;
  EXPECT_NE(staged[4].text.find("sip:alice@example.com: lunch?\n"), std::string::npos) << staged[4].text;
  EXPECT_EQ(staged[4].user_uri, "sip:bob@example.com");
  EXPECT_EQ(staged[6].message_id, 1u);
  EXPECT_EQ(staged[6].user_uri, "admin:root");
  EXPECT_EQ(staged[6].target, "sip:alice@example.com");
  EXPECT_EQ(staged[6].previous, "secret plan");
  EXPECT_EQ(staged[6].text, f.replacement);
  // Carol's back-chat (from the cache) shows the replacement, as she saw it.
  EXPECT_NE(staged[8].text.find("replaced by the Persistent Chat administrator"), std::string::npos);
  EXPECT_EQ(staged[8].text.find("secret plan"), std::string::npos);
  // Deliver through the XML adapter: the file validates against the XSD.
  compliance::adapter_options opts;
  opts.output_directory = dir.path() + "/out";
  auto a = compliance::make_adapter("xml", opts);
  ASSERT_TRUE(a->deliver({staged.front().seq, staged.back().seq, staged}).ok());
  std::string path = opts.output_directory + "/" +
                     compliance::output_name(staged.front().seq, staged.back().seq, "", "xml");
  std::string out;
  EXPECT_EQ(pchat::testing::xmllint_compliance_xml(path, &out), 0) << out;
  std::string doc = read_file(path);
  EXPECT_NE(doc.find("type=\"CHAT\" content=\"secret plan\" id=\"1\""), std::string::npos);
  EXPECT_NE(doc.find("type=\"ADMINREPLACE\" content=\"This message was replaced"), std::string::npos);
}

TEST(ComplianceCapture, AClearIsTheAdminsEventPerMessageWithWhatItSaid) {
  temp_dir dir("compliance");
  node n(dir.path(), true);
  std::string uri = n.make_room("Cleared", true);
  auto alice = n.session(1, "sip:alice@example.com");
  ASSERT_TRUE(n.join(alice, 1, uri));
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "first")), 200);
  ASSERT_EQ(n.cmd(alice, post_cmd(uri, "second")), 200);
  caf::scoped_actor self{*n.sys};
  uint64_t removed = 0;
  self->request(n.ctx->directory, 5s, actors::clear_atom::value, std::string("Cleared"),
                std::numeric_limits<int64_t>::max() - 1, std::string("admin:carol"))
      .receive([&](uint64_t r) { removed = r; }, [&](caf::error& e) { ADD_FAILURE() << n.sys->render(e); });
  EXPECT_EQ(removed, 2u);
  std::vector<compliance_record> cleared;
  ASSERT_TRUE(eventually([&] {
    cleared.clear();
    for (auto& e : n.staged())
      if (e.kind == compliance_kind::admin_clear) cleared.push_back(e);
    return cleared.size() == 2;
  }));
  EXPECT_EQ(cleared[0].user_uri, "admin:carol");
  EXPECT_EQ(cleared[0].target, "sip:alice@example.com");
  EXPECT_EQ(cleared[0].previous, "first");
  EXPECT_EQ(cleared[0].message_id, 1u);
  EXPECT_EQ(cleared[1].previous, "second");
  EXPECT_EQ(cleared[1].text.rfind("cleared: posted on or before ", 0), 0u) << cleared[1].text;
}
