// The compliance adapter interface (the reference's IComplianceAdapter): the runner hands it
// one batch of staged events at a time, in sequence order, and deletes the batch from
// staging only after deliver() reported success.
//
// Exactly-once contract every adapter keeps, so that a crash at any point produces neither
// a loss nor a duplicate:
//   - every output file of a batch is written under a temporary name, fsynced, then renamed
//     to a final name derived from the batch's range [first_seq, last_seq] (output_file.h);
//     a final name therefore always holds complete output;
//   - deliver() leaves a final file that already exists alone, so delivering the same range
//     again after a crash completes the batch without writing anything twice;
//   - delivered_range_end(first) finds a batch started before a crash, so the runner re-runs
//     exactly that range rather than a larger one whose name would differ.
// Adapters are used by one thread (the runner) and may block on file I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/records.h"

namespace pchat::compliance {

// How the reference's outputs name an event kind: `event` is its own name (the CSV
// EventType: JOIN, ADMINREPLACE, ...); `xml_type` the XML Message type. An administrator's
// actions are their own types in both (ADMINREPLACE, ADMINCLEAR, ADMINSEARCH, ADMINROOM,
// ADMINMEMBERS: our extension of the reference's ComplianceMessageType, xml_adapter.xsd).
// Events staged by older versions (MESSAGE_REMOVED, MESSAGE_REPLACED, HISTORY_SEARCH) keep
// their old XML types (CHAT, BACKCHAT).
struct kind_names {
  const char* event;
  const char* xml_type;
};
kind_names names_of(storage::compliance_kind k);
// True for an administrator's own event (admin_replace and later kinds).
bool is_admin_event(storage::compliance_kind k);

struct batch {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::vector<storage::compliance_record> events;  // ascending seq, all within the range
};

// ok, or why the batch could not be delivered (logged and shown in `compliance status`).
struct adapter_result {
  std::string error;
  bool ok() const { return error.empty(); }
  static adapter_result success() { return {}; }
  static adapter_result failure(std::string why) { return {std::move(why)}; }
};

class adapter {
 public:
  virtual ~adapter() = default;
  virtual std::string type() const = 0;  // "xml", "csv", ...
  virtual adapter_result deliver(const batch& b) = 0;
  // last_seq of the batch starting at `first_seq` that has some final output already, or 0.
  virtual uint64_t delivered_range_end(uint64_t first_seq) = 0;
  // Removes temporary files a crash left behind (called once before the first batch).
  virtual void remove_stale_temporaries() = 0;

  // A pool room's CHAT events (docs/POOL.md "Compliance across the pool"), delivered in two
  // steps around the reservation in etcd: prepare writes the output of `b` (one room's
  // events, first_seq..last_seq its message seqs) where no reader looks (synced), publish
  // makes it final, discard drops it. resolve_pending() publishes each prepared range whose
  // name `reserved` accepts and discards the rest (after a crash between the steps).
  // The name of a range is the same on every node (output_file.h room_range_name).
  // Adapters that write no files answer failure (the events stay kept).
  virtual adapter_result prepare_room_range(const std::string& room_id, const batch& b);
  virtual adapter_result publish_room_range(const std::string& room_id, uint64_t first, uint64_t last);
  virtual void discard_room_range(const std::string& room_id, uint64_t first, uint64_t last);
  virtual std::string room_range(const std::string& room_id, uint64_t first, uint64_t last) const;
  template <class Reserved>
  adapter_result resolve_pending(Reserved reserved) {
    for (const auto& name : pending_ranges())
      if (adapter_result r = settle_pending(name, reserved(name)); !r.ok()) return r;
    return adapter_result::success();
  }

 protected:
  virtual std::vector<std::string> pending_ranges() const { return {}; }
  virtual adapter_result settle_pending(const std::string& name, bool publish);
};

// The switches of Set-CsPersistentChatComplianceConfiguration that shape the output.
struct adapter_options {
  std::string output_directory;
  bool one_chat_room_per_output_file = false;
  bool add_user_details = false;
  bool add_chat_room_details = false;
  bool create_file_attachments_manifest = false;
  std::string domain = "example.com";  // users of this domain are internal (AddUserDetails)
};

// What every adapter writing files in AdapterOutputDirectory shares: one document per batch
// (or per room with OneChatRoomPerOutputFile), the .ATTACH manifest with
// CreateFileAttachmentsManifest, final names from output_file.h written once each.
// A format only says how a set of events becomes one document, and its file extension.
class file_adapter : public adapter {
 public:
  explicit file_adapter(adapter_options opts) : opts_(std::move(opts)) {}
  adapter_result deliver(const batch& b) final;
  uint64_t delivered_range_end(uint64_t first_seq) final;
  void remove_stale_temporaries() final;
  adapter_result prepare_room_range(const std::string& room_id, const batch& b) final;
  adapter_result publish_room_range(const std::string& room_id, uint64_t first, uint64_t last) final;
  void discard_room_range(const std::string& room_id, uint64_t first, uint64_t last) final;
  std::string room_range(const std::string& room_id, uint64_t first, uint64_t last) const final;

 protected:
  std::vector<std::string> pending_ranges() const final;
  adapter_result settle_pending(const std::string& name, bool publish) final;
  // One output document holding `events` (ascending seq): a whole batch or one room's part.
  virtual std::string encode(const std::vector<storage::compliance_record>& events) const = 0;
  const adapter_options opts_;
};

// "xml" or "csv"; nullptr for an unknown type.
std::unique_ptr<adapter> make_adapter(const std::string& type, const adapter_options& opts);
// The adapter the compliance settings `c` name (c.output_directory resolved: not empty),
// for a server of `domain`; nullptr for an unknown type.
std::unique_ptr<adapter> make_adapter(const storage::compliance_config& c, const std::string& domain);

// The message id adapters show for an event: the message's for CHAT and admin removal or
// replacement, 0 for the rest (the reference's rule; file events keep their file id in
// message_id only for the runner).
uint64_t shown_message_id(const storage::compliance_record& e);

}  // namespace pchat::compliance
