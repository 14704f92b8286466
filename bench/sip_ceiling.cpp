#include "bench/sip_ceiling.h"

#include <deque>
#include <memory>
#include <vector>

#include "bench/process_probe.h"
#include "tools/client/client_loop.h"
#include "tools/client/sip_connection.h"
#include "tools/client/sip_wire.h"

namespace pchat::bench {

using client::sip_connection;
using client::sip_message;
using steady = std::chrono::steady_clock;

namespace {

// One INVITE dialog on its own connection, then a window of INFOs.
class info_dialog : public sip_connection::endpoint {
 public:
  info_dialog(client::client_loop& loop, uint16_t port, int index, const sip_ceiling_options& opt)
      : opt_(opt), index_(index) {
    client::connection_config cc;
    cc.server_port = port;
    cc.local_address = "127.0.0." + std::to_string(2 + index % std::max(1, opt.source_addresses));
    cc.keepalive_interval = std::chrono::milliseconds(0);
    conn_ = sip_connection::open(loop, cc);
    self_ = "sip:ceiling" + std::to_string(index) + "@example.com";
    peer_ = "sip:responder@127.0.0.1:" + std::to_string(port) + ";transport=tcp";
    call_id_ = "ceiling-" + std::to_string(index) + "-" +
               std::to_string(steady::now().time_since_epoch().count());
    tag_ = "t" + std::to_string(index);
    body_.assign(opt.body_bytes, 'x');
    conn_->attach(this);
    conn_->bind_route(call_id_, tag_, self_, this);
  }
  ~info_dialog() {
    conn_->detach(this);
    conn_->close("ceiling done");
  }
  bool established() const { return established_; }
  bool broken() const { return broken_; }
  void start_infos(bool on) {
    sending_ = on;
    while (sending_ && established_ && in_flight_.size() < static_cast<size_t>(opt_.window))
      send_info();
  }
  void set_counting(bool on) { counting_ = on; }
  uint64_t completed = 0;
  uint64_t failed = 0;
  latency_histogram latency;

 private:
  std::string request(std::string_view method, uint32_t cseq, std::string_view extra,
                      std::string_view body, bool with_to_tag) {
    std::string branch =
        "z9hG4bK" + std::to_string(index_) + "x" + std::to_string(cseq) + std::string(method);
    client::sip_request_spec s;
    s.method = method;
    s.request_uri = peer_;
    s.via_transport = "tcp";
    s.via_host = conn_->local_ip();
    s.via_port = conn_->local_port();
    s.branch = branch;
    s.from_uri = self_;
    s.from_tag = tag_;
    s.epid = "ceilingepid";
    s.to_uri = peer_;
    s.to_tag = with_to_tag ? std::string_view(remote_tag_) : std::string_view();
    s.cseq = cseq;
    s.user_agent = "pchat-bench";
    s.call_id = call_id_;
    s.extra_headers = extra;
    s.body = body;
    return client::build_request(s);
  }
  void send_info() {
    uint32_t cseq = ++cseq_;
    in_flight_.emplace_back(cseq, steady::now());
    conn_->send(request("INFO", cseq, "Content-Type: text/plain\r\n", body_, true));
  }
  void on_connected() override {
    std::string contact = "Contact: <sip:ceiling" + std::to_string(index_) + "@" +
                          conn_->local_ip() + ":" + std::to_string(conn_->local_port()) +
                          ";transport=tcp>\r\n";
    cseq_ = 1;
    conn_->send(request("INVITE", cseq_, contact, "", false));
  }
  void on_closed(const std::string&) override { broken_ = true; }
  void on_sip_message(const sip_message& m) override {
    if (m.is_request()) {
      // The responder sends nothing we must act on; answer anything politely.
      if (m.method != "ACK") conn_->send(client::build_response(m, 200, "OK", "", "pchat-bench"));
      return;
    }
    if (m.status < 200) return;
    if (m.cseq_method() == "INVITE") {
      if (m.status >= 300) {
        broken_ = true;
        return;
      }
      remote_tag_ = std::string(m.to_tag());
      std::string ack = request("ACK", 1, "", "", true);
      conn_->send(ack);
      established_ = true;
      return;
    }
    if (m.cseq_method() != "INFO") return;
    uint32_t cseq = m.cseq_number();
    for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
      if (it->first != cseq) continue;
      if (counting_) {
        if (m.status < 300) {
          ++completed;
          latency.record(steady::now() - it->second);
        } else {
          ++failed;
        }
      }
      in_flight_.erase(it);
      break;
    }
    if (sending_) send_info();
  }

  const sip_ceiling_options& opt_;
  int index_;
  std::shared_ptr<sip_connection> conn_;
  std::string self_, peer_, call_id_, tag_, remote_tag_, body_;
  uint32_t cseq_ = 0;
  bool established_ = false;
  bool broken_ = false;
  bool sending_ = false;
  bool counting_ = false;
  std::deque<std::pair<uint32_t, steady::time_point>> in_flight_;
};

}  // namespace

sip_ceiling_result measure_sip_ceiling(const sip_ceiling_options& opt) {
  sip_ceiling_result res;
  uint16_t port = pick_free_port();
  if (port == 0) {
    res.error = "no free port for the responder";
    return res;
  }
  child_process responder;
  if (!responder.start({opt.responder_path, "--port=" + std::to_string(port)},
                       opt.work_dir + "/responder.out", opt.work_dir + "/responder.err")) {
    res.error = "cannot start " + opt.responder_path + ": " + responder.error();
    return res;
  }
  if (responder.wait_for_keys({"sip-port"}, std::chrono::seconds(10)).empty()) {
    res.error = "pchat-sip-responder: " + responder.error();
    return res;
  }
  client::client_loop loop;
  std::vector<std::unique_ptr<info_dialog>> dialogs;
  for (int i = 0; i < opt.dialogs; ++i)
    dialogs.push_back(std::make_unique<info_dialog>(loop, port, i, opt));
  bool up = loop.run_until(
      [&] {
        for (auto& d : dialogs)
          if (!d->established() && !d->broken()) return false;
        return true;
      },
      std::chrono::seconds(10));
  size_t established = 0;
  for (auto& d : dialogs) established += d->established();
  if (!up || established == 0) {
    res.error = "responder dialogs did not come up (" + std::to_string(established) + " of " +
                std::to_string(opt.dialogs) + ")";
    responder.stop(std::chrono::seconds(5));
    return res;
  }
  for (auto& d : dialogs) d->start_infos(true);
  auto warm_until = steady::now() + opt.warmup;
  loop.run_until([] { return false; }, warm_until);
  for (auto& d : dialogs) d->set_counting(true);
  auto cpu0 = sample_process(responder.pid());
  auto t0 = steady::now();
  loop.run_until([] { return false; }, t0 + opt.seconds);
  auto t1 = steady::now();
  auto cpu1 = sample_process(responder.pid());
  for (auto& d : dialogs) {
    d->set_counting(false);
    d->start_infos(false);
    res.infos += d->completed;
    res.failures += d->failed + (d->broken() ? 1 : 0);
    res.latency.merge(d->latency);
  }
  res.seconds = std::chrono::duration<double>(t1 - t0).count();
  res.info_per_s = res.seconds > 0 ? res.infos / res.seconds : 0;
  res.responder_cpu_pct = cpu_percent(cpu0, cpu1);
  dialogs.clear();
  loop.run_once(0);
  responder.stop(std::chrono::seconds(5));
  res.ok = res.infos > 0;
  if (!res.ok) res.error = "no INFO completed";
  return res;
}

}  // namespace pchat::bench
