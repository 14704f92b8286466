// The bench's ledger of posts and their deliveries: which receivers must get each post,
// which did, how late, and how many came twice.
//
// A post gets a dense id when it is sent (record_send). Its text carries that id and the
// send time (steady clock, nanoseconds: the bench is one process), see post_text():
//
//   "pb <post-id> <send-ns> " followed by 'x' padding up to the requested size
//
// Receivers are named by their position in the room's member list (0..room_size-1). Every
// post keeps two bitsets over those positions:
//   received  set by record_delivery; a second delivery to a set bit is a duplicate;
//   expected  fixed by record_ack (the SIP 2xx for the post): the members the caller says
//             were joined before the post was sent and had not started leaving by the ack.
//             A post that was not acknowledged is expected nowhere.
// A delivery to a position that is not expected is counted as unexpected (legitimate around
// joins and parts, a fault otherwise); lost = expected and not received once the caller has
// finalised.
//
// Steps: posts are attributed to the step open when they are sent (begin_step), so a
// profile that raises the rate in steps gets latency and loss per step. Step 0 exists from
// the start ("warm-up").
//
// Threading: one thread (the client loop's).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/latency_histogram.h"

namespace pchat::bench {

struct step_totals {
  std::string label;
  double offered_posts_per_s = 0;
  double seconds = 0;  // posting time of the step (set by the caller)
  uint64_t posts_sent = 0;
  uint64_t posts_deferred = 0;  // due but not sent: every candidate poster's window was full
  uint64_t posts_acked = 0;     // SIP 2xx
  uint64_t posts_503 = 0;
  uint64_t posts_failed = 0;  // other non-2xx, local timeouts, XCCOS errors
  uint64_t expected = 0;      // deliveries owed (sum over acked posts)
  uint64_t deliveries = 0;    // first deliveries to an expected receiver
  uint64_t unexpected = 0;    // deliveries to receivers not expected
  uint64_t duplicated = 0;
  uint64_t lost = 0;          // expected, not received (after finalize)
  uint64_t pending = 0;       // expected, not yet received (before finalize)
  latency_histogram latency;  // send → delivery at each receiver
  latency_histogram ack;      // send → SIP 2xx at the poster
  int64_t first_send_ns = 0;
  int64_t last_send_ns = 0;

  void merge(const step_totals& o);
};

class delivery_ledger {
 public:
  delivery_ledger();

  // Opens a new step; later sends belong to it. Returns its index.
  uint32_t begin_step(std::string label, double offered_posts_per_s);
  uint32_t current_step() const { return static_cast<uint32_t>(steps_.size() - 1); }
  step_totals& step(uint32_t i) { return steps_[i]; }
  const std::vector<step_totals>& steps() const { return steps_; }

  // A post to a room of `room_size` members is about to be sent.
  uint32_t record_send(uint32_t room, uint32_t room_size, int64_t send_ns);
  // The text to send for post `id` (see the file comment).
  static std::string post_text(uint32_t id, int64_t send_ns, size_t bytes);
  // Parses a post text; false if it is not one of ours.
  static bool parse_post_text(std::string_view text, uint32_t& id, int64_t& send_ns);

  void record_deferred() { ++steps_.back().posts_deferred; }
  // The post's INFO got its final response (status, and whether an XCCOS error rode on it).
  // `expected(pos)` says whether the member at `pos` must receive the post.
  void record_ack(uint32_t id, int sip_status, bool xccos_ok, int64_t ack_ns,
                  const std::function<bool(uint32_t pos)>& expected);
  // A delivery of post `id` to the member at `pos` of room `room`, sent at `send_ns` (from
  // the text). Returns false if the id is unknown or names another room (misrouted).
  bool record_delivery(uint32_t id, uint32_t room, uint32_t pos, int64_t send_ns, int64_t now_ns);

  uint32_t room_of(uint32_t id) const { return posts_[id].room; }
  int64_t send_ns_of(uint32_t id) const { return posts_[id].send_ns; }
  size_t post_count() const { return posts_.size(); }
  uint64_t unacked() const { return unacked_; }
  // Deliveries owed by acknowledged posts and not yet received.
  uint64_t pending_deliveries() const { return pending_; }
  bool settled() const { return unacked_ == 0 && pending_ == 0; }
  uint64_t misrouted() const { return misrouted_; }

  // Fixes lost counts of every step from what is still missing now. Call once, at the end.
  void finalize();
  // Sum of every step except those listed.
  step_totals total(const std::vector<uint32_t>& exclude = {}) const;

 private:
  struct post_record {
    uint32_t room = 0;
    uint32_t step = 0;
    uint32_t size = 0;
    int64_t send_ns = 0;
    bool acked = false;  // final response seen
    bool ok = false;     // 2xx and no XCCOS error
    std::vector<uint64_t> received;
    std::vector<uint64_t> expected;  // empty until acked
  };
  static bool test(const std::vector<uint64_t>& bits, uint32_t pos) {
    return (bits[pos >> 6] >> (pos & 63)) & 1;
  }

  std::vector<post_record> posts_;
  std::vector<step_totals> steps_;
  uint64_t unacked_ = 0;
  uint64_t pending_ = 0;
  uint64_t misrouted_ = 0;
};

}  // namespace pchat::bench
