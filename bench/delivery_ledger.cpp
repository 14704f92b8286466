#include "bench/delivery_ledger.h"

#include <algorithm>
#include <bit>
#include <charconv>

namespace pchat::bench {

void step_totals::merge(const step_totals& o) {
  seconds += o.seconds;
  posts_sent += o.posts_sent;
  posts_deferred += o.posts_deferred;
  posts_acked += o.posts_acked;
  posts_503 += o.posts_503;
  posts_failed += o.posts_failed;
  expected += o.expected;
  deliveries += o.deliveries;
  unexpected += o.unexpected;
  duplicated += o.duplicated;
  lost += o.lost;
  pending += o.pending;
  latency.merge(o.latency);
  ack.merge(o.ack);
  if (o.first_send_ns && (!first_send_ns || o.first_send_ns < first_send_ns))
    first_send_ns = o.first_send_ns;
  last_send_ns = std::max(last_send_ns, o.last_send_ns);
}

delivery_ledger::delivery_ledger() {
  begin_step("warm-up", 0);
}

uint32_t delivery_ledger::begin_step(std::string label, double offered_posts_per_s) {
  step_totals s;
  s.label = std::move(label);
  s.offered_posts_per_s = offered_posts_per_s;
  steps_.push_back(std::move(s));
  return current_step();
}

uint32_t delivery_ledger::record_send(uint32_t room, uint32_t room_size, int64_t send_ns) {
  post_record p;
  p.room = room;
  p.step = current_step();
  p.size = room_size;
  p.send_ns = send_ns;
  p.received.assign((room_size + 63) / 64, 0);
  posts_.push_back(std::move(p));
  auto& st = steps_.back();
  ++st.posts_sent;
  if (!st.first_send_ns) st.first_send_ns = send_ns;
  st.last_send_ns = send_ns;
  ++unacked_;
  return static_cast<uint32_t>(posts_.size() - 1);
}

std::string delivery_ledger::post_text(uint32_t id, int64_t send_ns, size_t bytes) {
  std::string t = "pb " + std::to_string(id) + " " + std::to_string(send_ns) + " ";
  if (t.size() < bytes) t.append(bytes - t.size(), 'x');
  return t;
}

bool delivery_ledger::parse_post_text(std::string_view text, uint32_t& id, int64_t& send_ns) {
  if (text.substr(0, 3) != "pb ") return false;
  const char* p = text.data() + 3;
  const char* end = text.data() + text.size();
  auto r1 = std::from_chars(p, end, id);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ' ') return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, send_ns);
  return r2.ec == std::errc();
}

void delivery_ledger::record_ack(uint32_t id, int sip_status, bool xccos_ok, int64_t ack_ns,
                                 const std::function<bool(uint32_t)>& expected) {
  if (id >= posts_.size() || posts_[id].acked) return;
  auto& p = posts_[id];
  auto& st = steps_[p.step];
  p.acked = true;
  --unacked_;
  bool sip_ok = sip_status >= 200 && sip_status < 300;
  p.ok = sip_ok && xccos_ok;
  if (sip_status == 503) ++st.posts_503;
  if (!p.ok) {
    if (sip_status != 503) ++st.posts_failed;
    p.expected.assign(p.received.size(), 0);
    return;
  }
  ++st.posts_acked;
  st.ack.record(std::chrono::nanoseconds(ack_ns - p.send_ns));
  p.expected.assign(p.received.size(), 0);
  uint64_t owed = 0;
  for (uint32_t pos = 0; pos < p.size; ++pos) {
    if (!expected(pos)) continue;
    p.expected[pos >> 6] |= uint64_t{1} << (pos & 63);
    ++st.expected;
    if (test(p.received, pos)) {
      ++st.deliveries;
    } else {
      ++owed;
    }
  }
  // Deliveries that came before the ack to members now found not expected.
  for (uint32_t pos = 0; pos < p.size; ++pos)
    if (test(p.received, pos) && !test(p.expected, pos)) ++st.unexpected;
  pending_ += owed;
  st.pending += owed;
}

bool delivery_ledger::record_delivery(uint32_t id, uint32_t room, uint32_t pos, int64_t send_ns,
                                      int64_t now_ns) {
  if (id >= posts_.size() || posts_[id].room != room || pos >= posts_[id].size) {
    ++misrouted_;
    return false;
  }
  auto& p = posts_[id];
  auto& st = steps_[p.step];
  st.latency.record(std::chrono::nanoseconds(now_ns - send_ns));
  if (test(p.received, pos)) {
    ++st.duplicated;
    return true;
  }
  p.received[pos >> 6] |= uint64_t{1} << (pos & 63);
  if (!p.acked) return true;  // counted when the ack fixes who is expected
  if (test(p.expected, pos)) {
    ++st.deliveries;
    --pending_;
    --st.pending;
  } else {
    ++st.unexpected;
  }
  return true;
}

void delivery_ledger::finalize() {
  for (auto& st : steps_) {
    st.lost = st.pending;
    st.pending = 0;
  }
  pending_ = 0;
}

step_totals delivery_ledger::total(const std::vector<uint32_t>& exclude) const {
  step_totals t;
  t.label = "total";
  for (uint32_t i = 0; i < steps_.size(); ++i)
    if (std::find(exclude.begin(), exclude.end(), i) == exclude.end()) t.merge(steps_[i]);
  return t;
}

}  // namespace pchat::bench
