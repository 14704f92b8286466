#include "tools/client/xccos_client.h"

#include "protocol/sip/sip_digest.h"
#include "text/utc_time.h"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <random>
#include <utility>

namespace pchat::client {
namespace {

using namespace std::chrono_literals;
using clock = client_loop::clock;

// RFC 3261 timers: retransmit from T1, doubling; non-INVITE requests cap at T2.
constexpr std::chrono::milliseconds kT1{500};
constexpr std::chrono::milliseconds kT2{4000};
// UDP responses remembered to answer a server's retransmitted request.
constexpr size_t kRecentResponses = 16;

constexpr std::string_view kRegisterMethods =
    "INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY";
constexpr std::string_view kProvisioningEvent = "vnd-microsoft-provisioning-v2";
constexpr std::string_view kProvisioningType =
    "application/vnd-microsoft-roaming-provisioning-v2+xml";
// sipe_subscribe_roaming_provisioning_v2, verbatim.
constexpr std::string_view kProvisioningRequest =
    "<provisioningGroupList "
    "xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist\">"
    " <provisioningGroup name=\"ServerConfiguration\"/>"
    " <provisioningGroup name=\"meetingPolicy\"/>"
    " <provisioningGroup name=\"persistentChatConfiguration\"/>"
    " <provisioningGroup name=\"ucPolicy\"/>"
    "</provisioningGroupList>";
// SDP_ACCEPT_TYPES of a SIPE built without GMime (Debian's build).
constexpr std::string_view kSdpAcceptTypes =
    "text/plain text/html image/gif application/im-iscomposing+xml application/ms-imdn+xml "
    "text/x-msmsgsinvite";

std::atomic<uint64_t> g_client_counter{0};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string tx_key(std::string_view call_id, uint32_t cseq, std::string_view method) {
  std::string k = std::to_string(cseq);
  k.push_back(' ');
  k.append(method).push_back('\n');
  k.append(call_id);
  return k;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ascii_iequal(s.substr(0, prefix.size()), prefix);
}

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

long header_long(const sip_message& m, std::string_view name, bool& present) {
  const std::string* v = m.header(name);
  present = v != nullptr;
  if (!v) return 0;
  std::string_view s = trim_view(*v);
  long n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);  // strtol-like: leading digits only
  return n;
}

std::chrono::microseconds since(steady_time t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t);
}

}  // namespace

const char* to_string(client_state s) {
  switch (s) {
    case client_state::idle:
      return "idle";
    case client_state::connecting:
      return "connecting";
    case client_state::registering:
      return "registering";
    case client_state::subscribing:
      return "subscribing";
    case client_state::lookup:
      return "lookup";
    case client_state::channel:
      return "channel";
    case client_state::ready:
      return "ready";
    case client_state::signing_out:
      return "signing_out";
    case client_state::signed_out:
      return "signed_out";
    case client_state::failed:
      return "failed";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Construction and identity.

chat_client::chat_client(client_loop& loop, const connection_config& conn, client_config cfg)
    : chat_client(loop, sip_connection::open(loop, conn), std::move(cfg)) {
  owns_connection_ = true;
}

chat_client::chat_client(client_loop& loop, std::shared_ptr<sip_connection> conn, client_config cfg)
    : loop_(loop), conn_(std::move(conn)), cfg_(std::move(cfg)) {
  std::string_view user = cfg_.user;
  if (starts_with_ci(user, "sip:")) user.remove_prefix(4);
  self_uri_ = "sip:" + std::string(user);
  size_t at = user.find('@');
  domain_ = at == std::string_view::npos ? std::string() : std::string(user.substr(at + 1));
  init_identity();
  conn_->attach(this);
  conn_->bind_aor(self_uri_, this);
}

chat_client::~chat_client() {
  loop_.cancel_timer(reregister_timer_);
  loop_.cancel_timer(provisioning_timer_);
  loop_.cancel_timer(refresh_timer_);
  for (auto& [key, tx] : transactions_) {
    loop_.cancel_timer(tx.retransmit_timer);
    loop_.cancel_timer(tx.timeout_timer);
  }
  for (auto& [id, p] : pending_) loop_.cancel_timer(p.reply_timer);
  conn_->detach(this);
  if (owns_connection_) conn_->close("client destroyed");
}

void chat_client::init_identity() {
  if (cfg_.id_seed != 0) {
    rng_ = cfg_.id_seed;
  } else {
    std::random_device rd;
    rng_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
           (g_client_counter.fetch_add(1) * 0xD1B54A32D192ED03ull) ^
           static_cast<uint64_t>(clock::now().time_since_epoch().count());
  }
  char buf[64];
  // SIPE derives the epid from the user and host, so even clients whose random ids clash
  // have distinct epids (sipe-client-notes.md §3).
  std::snprintf(
      buf, sizeof buf, "%010llx",
      static_cast<unsigned long long>((fnv1a(self_uri_) ^ next_random()) & 0xFFFFFFFFFFull));
  epid_ = buf;
  uint64_t a = next_random(), b = next_random();
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  instance_uuid_ = buf;
  register_call_id_ = new_call_id();
  next_envid_ = static_cast<uint32_t>(next_random());
}

uint64_t chat_client::next_random() {
  return splitmix64(rng_);
}

std::string chat_client::new_tag() {
  // gentag(): "%04d%04d" of two 16-bit randoms.
  uint64_t r = next_random();
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04u%04u", static_cast<unsigned>(r & 0xFFFF),
                static_cast<unsigned>((r >> 16) & 0xFFFF));
  return buf;
}

std::string chat_client::new_call_id() {
  // gencallid(): "%04Xg%04Xa%04Xi%04Xm%04Xt%04Xb%04Xx%04Xx".
  uint64_t a = next_random(), b = next_random();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04Xg%04Xa%04Xi%04Xm%04Xt%04Xb%04Xx%04Xx",
                static_cast<unsigned>(a & 0xFFFF), static_cast<unsigned>((a >> 16) & 0xFFFF),
                static_cast<unsigned>((a >> 32) & 0xFFFF), static_cast<unsigned>(a >> 48),
                static_cast<unsigned>(b & 0xFFFF), static_cast<unsigned>((b >> 16) & 0xFFFF),
                static_cast<unsigned>((b >> 32) & 0xFFFF), static_cast<unsigned>(b >> 48));
  return buf;
}

std::string chat_client::new_branch() {
  // genbranch(): "z9hG4bK%04X%04X%04X%04X%04X".
  uint64_t a = next_random(), b = next_random();
  char buf[48];
  std::snprintf(buf, sizeof buf, "z9hG4bK%04X%04X%04X%04X%04X", static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>((a >> 16) & 0xFFFF),
                static_cast<unsigned>((a >> 32) & 0xFFFF), static_cast<unsigned>(a >> 48),
                static_cast<unsigned>(b & 0xFFFF));
  return buf;
}

std::string chat_client::contact() const {
  if (!contact_override_.empty()) return contact_override_;
  // sip_transport_default_contact.
  std::string c = "<" + self_uri_ + ":" + std::to_string(conn_->local_port()) +
                  ";maddr=" + conn_->local_ip() + ";transport=";
  c.append(conn_->via_transport()).append(">;proxy=replace");
  return c;
}

void chat_client::fault(std::string what) {
  ++stats_.faults;
  if (faults_.size() >= cfg_.max_faults) return;
  for (const auto& f : faults_) {
    if (f == what) return;
  }
  faults_.push_back(std::move(what));
}

chat_client::dialog* chat_client::session_dialog() {
  if (state_ == client_state::lookup) return &lookup_;
  if (!channel_.call_id.empty()) return &channel_;
  return nullptr;
}

// ---------------------------------------------------------------------------
// Requests and transactions.

bool chat_client::send_request(const request_args& a) {
  if (conn_->is_closed()) return false;
  std::string branch;
  std::string routed_headers;
  sip_request_spec spec;
  spec.method = a.method;
  spec.via_transport = conn_->via_transport();
  spec.via_host = conn_->local_ip();
  spec.via_port = conn_->local_port();
  spec.from_uri = self_uri_;
  spec.epid = epid_;
  spec.user_agent = cfg_.user_agent;
  spec.body = a.body;
  if (a.d) {
    // In-dialog: SIPE sends no branch at all (xccos-wire.md §2.2).
    dialog& d = *a.d;
    spec.request_uri = d.target.empty() ? std::string_view(d.remote_uri) : d.target;
    spec.to_uri = d.remote_uri;
    spec.to_tag = d.remote_tag;
    spec.from_tag = d.local_tag;
    spec.call_id = d.call_id;
    spec.cseq = ++d.cseq;
    if (!d.routes.empty()) {
      routed_headers = d.routes;
      routed_headers.append(a.extra_headers);
      spec.extra_headers = routed_headers;
    } else {
      spec.extra_headers = a.extra_headers;
    }
  } else {
    branch = new_branch();
    spec.branch = branch;
    spec.request_uri = a.request_uri;
    spec.to_uri = a.to_uri;
    spec.from_tag = a.local_tag;
    spec.call_id = a.call_id;
    spec.cseq = a.cseq;
    spec.extra_headers = a.extra_headers;
  }
  std::string bytes = build_request(spec);
  if (!conn_->send(bytes)) return false;

  std::string key = tx_key(spec.call_id, spec.cseq, a.method);
  transaction tx;
  tx.kind = a.kind;
  tx.method.assign(a.method);
  tx.call_id.assign(spec.call_id);
  tx.local_tag.assign(spec.from_tag);
  tx.cseq = spec.cseq;
  tx.command = a.command;
  if (conn_->transport() == transport_kind::udp) tx.bytes = std::move(bytes);
  tx.timeout_timer =
      loop_.add_timer(cfg_.transaction_timeout, [this, key] { on_transaction_timeout(key); });
  auto [it, inserted] = transactions_.insert_or_assign(std::move(key), std::move(tx));
  if (conn_->transport() == transport_kind::udp) arm_retransmit(it->first);
  return true;
}

void chat_client::arm_retransmit(const std::string& key) {
  auto it = transactions_.find(key);
  if (it == transactions_.end()) return;
  transaction& tx = it->second;
  tx.retransmit_timer = loop_.add_timer(tx.interval, [this, key] {
    auto it2 = transactions_.find(key);
    if (it2 == transactions_.end()) return;
    transaction& t = it2->second;
    t.retransmit_timer = 0;
    conn_->send(t.bytes);
    ++stats_.retransmissions;
    // INVITE keeps doubling (Timer A); other requests cap at T2 (Timer E).
    t.interval *= 2;
    if (t.method != "INVITE" && t.interval > kT2) t.interval = kT2;
    arm_retransmit(key);
  });
}

void chat_client::send_ack(const dialog& d) {
  // In-dialog, no branch, CSeq of the INVITE (SIPE resets the dialog CSeq before ACK).
  sip_request_spec spec;
  spec.method = "ACK";
  spec.request_uri = d.target.empty() ? std::string_view(d.remote_uri) : d.target;
  spec.via_transport = conn_->via_transport();
  spec.via_host = conn_->local_ip();
  spec.via_port = conn_->local_port();
  spec.from_uri = self_uri_;
  spec.from_tag = d.local_tag;
  spec.epid = epid_;
  spec.to_uri = d.remote_uri;
  spec.to_tag = d.remote_tag;
  spec.cseq = d.invite_cseq;
  spec.user_agent = cfg_.user_agent;
  spec.call_id = d.call_id;
  spec.extra_headers = d.routes;
  conn_->send(build_request(spec));
}

void chat_client::on_transaction_timeout(const std::string& key) {
  auto it = transactions_.find(key);
  if (it == transactions_.end()) return;
  transaction tx = std::move(it->second);
  transactions_.erase(it);
  loop_.cancel_timer(tx.retransmit_timer);
  const std::string what = tx.method + " got no final response within " +
                           std::to_string(cfg_.transaction_timeout.count()) + " ms";
  if (!conn_->is_closed()) fault(what);
  switch (tx.kind) {
    case tx_kind::reg:
      if (state_ == client_state::registering) fail_sign_in(what);
      break;
    case tx_kind::subscribe:
      if (!provisioned_) fail_sign_in(what);
      break;
    case tx_kind::invite_lookup:
    case tx_kind::invite_channel:
      if (state_ == client_state::lookup || state_ == client_state::channel) fail_sign_in(what);
      break;
    case tx_kind::unreg:
    case tx_kind::bye:
      if (state_ == client_state::signing_out) finish_sign_out_step();
      break;
    case tx_kind::info:
      on_info_response(tx.command, 408, "Request Timeout (no response)");
      break;
    case tx_kind::update:
      break;
  }
}

void chat_client::abort_transactions(const std::string& reason) {
  auto txs = std::move(transactions_);
  transactions_.clear();
  for (auto& [key, tx] : txs) {
    loop_.cancel_timer(tx.retransmit_timer);
    loop_.cancel_timer(tx.timeout_timer);
    if (tx.kind == tx_kind::info) on_info_response(tx.command, 0, reason);
  }
}

void chat_client::abort_commands(const std::string& reason) {
  std::vector<uint64_t> ids;
  ids.reserve(pending_.size());
  for (const auto& [id, p] : pending_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    if (it->second.result.sip_status == 0) it->second.result.sip_reason = reason;
    complete(id);
  }
}

void chat_client::respond(const sip_message& m, int status, std::string_view reason) {
  std::string bytes = build_response(m, status, reason, contact(), cfg_.user_agent);
  conn_->send(bytes);
  if (conn_->transport() == transport_kind::udp) {
    recent_responses_.emplace_back(tx_key(m.call_id(), m.cseq_number(), m.method),
                                   std::move(bytes));
    if (recent_responses_.size() > kRecentResponses) recent_responses_.pop_front();
  }
}

// ---------------------------------------------------------------------------
// Incoming messages.

void chat_client::check_message_faults(const sip_message& m) {
  if (m.is_response() && m.reason.empty()) {
    fault("response " + std::to_string(m.status) + " to " + std::string(m.cseq_method()) +
          " has no reason phrase (SIPE's parser stalls on it)");
  }
  if (!m.content_length_present) {
    fault((m.is_response() ? "response " + std::to_string(m.status) : m.method) +
          " without Content-Length (SIPE requires it)");
  }
  for (const auto& h : m.headers) {
    if (h.name.size() == 1) {
      fault("compact header name '" + h.name + "' (SIPE only understands full names)");
      break;
    }
  }
}

void chat_client::on_sip_message(const sip_message& m) {
  check_message_faults(m);
  if (m.is_response()) {
    ++stats_.responses_in;
    on_response(m);
  } else {
    ++stats_.requests_in;
    on_request(m);
  }
}

void chat_client::on_connected() {
  if (state_ == client_state::connecting) {
    state_ = client_state::registering;
    send_register(false);
  }
}

void chat_client::on_closed(const std::string& reason) {
  const std::string why = "connection closed: " + reason;
  switch (state_) {
    case client_state::idle:
    case client_state::failed:
    case client_state::signed_out:
      break;
    case client_state::signing_out:
      // SIPE closes right after sending BYE and the de-REGISTER (sipe-client-notes.md §5).
      abort_transactions(why);
      state_ = client_state::signed_out;
      break;
    case client_state::ready:
      lose_session(why);
      break;
    default:
      fail_sign_in(why);
      break;
  }
  abort_transactions(why);
  abort_commands(why);
}

void chat_client::on_response(const sip_message& m) {
  auto it = transactions_.find(tx_key(m.call_id(), m.cseq_number(), m.cseq_method()));
  if (it == transactions_.end()) {
    // A retransmitted 2xx to an INVITE (our ACK was lost, UDP): ACK again.
    if (m.status >= 200 && m.status < 300 && m.cseq_method() == "INVITE") {
      for (dialog* d : {&lookup_, &channel_}) {
        if (d->confirmed && d->call_id == m.call_id() && d->invite_cseq == m.cseq_number()) {
          send_ack(*d);
          return;
        }
      }
    }
    if (conn_->transport() != transport_kind::udp) {
      fault("response " + std::to_string(m.status) + " to no pending request (CSeq " +
            std::to_string(m.cseq_number()) + " " + std::string(m.cseq_method()) + ")");
    }
    return;
  }
  transaction& live = it->second;
  if (m.status < 200) {
    live.provisional_seen = true;
    if (conn_->transport() == transport_kind::udp) {
      if (live.method == "INVITE") {
        loop_.cancel_timer(live.retransmit_timer);  // Timer A stops on a provisional
        live.retransmit_timer = 0;
      } else {
        live.interval = kT2;
      }
    }
    return;
  }
  transaction tx = std::move(live);
  transactions_.erase(it);
  loop_.cancel_timer(tx.retransmit_timer);
  loop_.cancel_timer(tx.timeout_timer);

  switch (tx.kind) {
    case tx_kind::reg:
    case tx_kind::unreg:
      conn_->unbind_route(tx.call_id, tx.local_tag, self_uri_);
      on_register_response(m, tx.kind);
      break;
    case tx_kind::subscribe:
      on_subscribe_response(m);
      break;
    case tx_kind::invite_lookup:
    case tx_kind::invite_channel:
      on_invite_response(m, tx.kind);
      break;
    case tx_kind::bye:
      if (tx.call_id == lookup_.call_id) conn_->unbind_route(tx.call_id, tx.local_tag, self_uri_);
      if (state_ == client_state::signing_out && tx.call_id == channel_.call_id) {
        finish_sign_out_step();
      }
      break;
    case tx_kind::info:
      on_info_response(tx.command, m.status, m.reason);
      break;
    case tx_kind::update:
      if (m.status == 481) lose_session("server answered 481 to the session refresh UPDATE");
      break;
  }
}

void chat_client::on_request(const sip_message& m) {
  if (conn_->transport() == transport_kind::udp) {
    const std::string key = tx_key(m.call_id(), m.cseq_number(), m.method);
    for (const auto& [k, bytes] : recent_responses_) {
      if (k == key) {
        ++stats_.duplicate_requests;
        conn_->send(bytes);
        return;
      }
    }
  }
  const std::string& method = m.method;
  if (method == "INFO") {
    on_info(m);
  } else if (method == "NOTIFY" || method == "BENOTIFY") {
    // BENOTIFY is by definition never answered.
    if (method == "NOTIFY") respond(m, 200, "OK");
    const std::string* event = m.header("Event");
    if (event && ascii_iequal(trim_view(*event), kProvisioningEvent)) on_provisioning(m, "NOTIFY");
  } else if (method == "BYE") {
    respond(m, 200, "OK");
    if (m.call_id() == channel_.call_id && channel_.confirmed) {
      channel_.active = false;
      if (state_ == client_state::ready) {
        lose_session("server sent BYE on the channel dialog");
      } else if (state_ == client_state::channel) {
        fail_sign_in("server sent BYE on the channel dialog");
      }
    } else if (m.call_id() == lookup_.call_id && state_ == client_state::lookup) {
      fail_sign_in("server sent BYE on the lookup dialog before rpl:requri");
    }
  } else if (method == "ACK") {
    // Nothing: ACKs are never answered.
  } else if (method == "OPTIONS" || method == "UPDATE" || method == "MESSAGE" ||
             method == "SUBSCRIBE" || method == "PRACK" || method == "CANCEL") {
    respond(m, 200, "OK");
  } else {
    respond(m, 501, "Not implemented");  // SIPE's text
  }
}

void chat_client::on_info(const sip_message& m) {
  ++stats_.infos_in;
  dialog* d = session_dialog();
  if (!d || m.call_id() != d->call_id || !d->active) {
    if (d && m.call_id() == d->call_id) {
      fault("server INFO on the " + std::string(d == &channel_ ? "channel" : "lookup") +
            " dialog after it ended (SIPE has no dialog left for it)");
    }
    // SIPE's answer to INFOs on a stale dialog: tells the server to drop it.
    ++stats_.stale_infos;
    respond(m, 487, "Request Terminated");
    return;
  }
  if (!ascii_iequal(m.from_uri(), d->remote_uri)) {
    // SIPE finds the session by From URI; no match → dropped without any response.
    fault("server INFO From <" + std::string(m.from_uri()) + "> is not the session URI <" +
          d->remote_uri + ">: SIPE drops it without a response");
    return;
  }
  respond(m, 200, "OK");
  const std::string* ct = m.header("Content-Type");
  if (!ct || !starts_with_ci(trim_view(*ct), "text/plain")) {
    fault("server INFO with Content-Type '" + (ct ? *ct : std::string("(none)")) +
          "' instead of text/plain");
  }
  push_batch batch;
  std::string error;
  if (!decode_push(m.body, batch, error)) {
    fault("undecodable server INFO body: " + error);
    return;
  }
  for (const auto& r : batch.replies) on_reply(r);
  for (auto& ev : batch.roster) on_roster_event(std::move(ev));
  if (batch.message) on_push_message(std::move(*batch.message));
}

// ---------------------------------------------------------------------------
// Sign-in ladder.

bool chat_client::start() {
  if (state_ != client_state::idle) return false;
  if (conn_->is_closed()) {
    fail_sign_in("connection closed: " + conn_->close_reason());
    return false;
  }
  if (domain_.empty()) {
    fail_sign_in("user '" + cfg_.user + "' has no @domain");
    return false;
  }
  if (conn_->is_open()) {
    state_ = client_state::registering;
    send_register(false);
  } else {
    state_ = client_state::connecting;
  }
  return true;
}

void chat_client::send_register(bool deregister) {
  // do_register: a new tag per REGISTER, one Call-ID per connection, CSeq counting up.
  std::string tag = new_tag();
  std::string headers;
  headers.reserve(512);
  headers.append("Contact: <sip:").append(conn_->local_ip()).append(":");
  headers.append(std::to_string(conn_->local_port())).append(";transport=");
  headers.append(conn_->via_transport()).append(";ms-opaque=d3470f2e1d>;methods=\"");
  headers.append(kRegisterMethods).append("\";proxy=replace;+sip.instance=\"<urn:uuid:");
  headers.append(instance_uuid_).append(">\"\r\n");
  headers.append(
      "Supported: gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence\r\n"
      "Event: registration\r\n"
      "Allow-Events: presence\r\n"
      "ms-keep-alive: UAC;hop-hop=yes\r\n");
  if (deregister) headers.append("Expires: 0\r\n");
  if (!auth_header_.empty()) {
    headers.append(auth_header_);
    auth_header_.clear();
  }
  conn_->bind_route(register_call_id_, tag, self_uri_, this);
  const std::string request_uri = "sip:" + domain_;
  request_args a;
  a.method = "REGISTER";
  a.request_uri = request_uri;
  a.to_uri = self_uri_;
  a.call_id = register_call_id_;
  a.local_tag = tag;
  a.cseq = ++register_cseq_;
  a.extra_headers = headers;
  a.kind = deregister ? tx_kind::unreg : tx_kind::reg;
  send_request(a);
}

std::string chat_client::digest_answer(const sip_message& m) {
  bool proxy = m.status == 407;
  const std::string* hv = m.header(proxy ? "Proxy-Authenticate" : "WWW-Authenticate");
  std::string challenge = hv ? *hv : std::string();
  auto param = [&](const std::string& name) {
    auto at = challenge.find(name + "=\"");
    if (at == std::string::npos) return std::string();
    at += name.size() + 2;
    return challenge.substr(at, challenge.find('"', at) - at);
  };
  std::string realm = param("realm"), nonce = param("nonce"), opaque = param("opaque");
  if (realm.empty() || nonce.empty()) return {};
  std::string username = self_uri_.substr(4);  // the sign-in name, user@domain
  std::string uri = "sip:" + domain_;
  char cnonce[17];
  std::random_device rd;
  std::snprintf(cnonce, sizeof cnonce, "%08x%08x", rd(), rd());
  std::string ha1 = sip::digest_ha1(username, realm, cfg_.password);
  std::string ha2 = sip::md5_hex("REGISTER:" + uri);
  std::string response = sip::md5_hex(ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + ha2);
  std::string v = "Digest username=\"" + username + "\", realm=\"" + realm + "\", nonce=\"" + nonce +
                  "\", uri=\"" + uri + "\", qop=auth, nc=00000001, cnonce=\"" + cnonce + "\", " +
                  (opaque.empty() ? std::string() : "opaque=\"" + opaque + "\", ") + "response=\"" + response + "\"";
  return std::string(proxy ? "Proxy-Authorization: " : "Authorization: ") + v + "\r\n";
}

void chat_client::on_register_response(const sip_message& m, tx_kind kind) {
  if (kind == tx_kind::unreg) {
    if (state_ == client_state::signing_out) finish_sign_out_step();
    return;
  }
  const bool initial = state_ == client_state::registering;
  if ((m.status == 401 || m.status == 407) && !cfg_.password.empty() && !auth_tried_) {
    auth_header_ = digest_answer(m);
    if (!auth_header_.empty()) {
      auth_tried_ = true;
      send_register(false);
      return;
    }
  }
  if (m.status != 200) {
    std::string why = "REGISTER answered " + std::to_string(m.status) + " " + m.reason;
    if (m.status == 401 || m.status == 407)
      why += cfg_.password.empty() ? " (no password configured)" : " (credentials refused)";
    if (initial) {
      fail_sign_in(why);
    } else {
      fault("re-" + why);
    }
    return;
  }
  // process_register_response: the whole success path is inside `if (expires)`.
  bool present = false;
  long expires = header_long(m, "Expires", present);
  if (expires <= 0) {
    std::string why = "REGISTER 200 has no non-zero Expires header (SIPE ignores such a 200)";
    fault(why);
    if (initial) fail_sign_in(why);
    return;
  }
  bool ocs2007 = false;
  for (std::string_view v : m.header_values("Supported")) {
    if (ascii_iequal(trim_view(v), "msrtc-event-categories")) ocs2007 = true;
  }
  bool provisioning_allowed = false;
  for (std::string_view v : m.header_values("Allow-Events")) {
    // SIPE splits on ',' without trimming: " vnd-..." after a comma does not count.
    while (true) {
      size_t comma = v.find(',');
      if (ascii_iequal(v.substr(0, comma), kProvisioningEvent)) provisioning_allowed = true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  if (!ocs2007) {
    std::string why =
        "REGISTER 200 lacks its own 'Supported: msrtc-event-categories' line (SIPE stays in "
        "OCS2005 mode and never starts group chat)";
    fault(why);
    if (initial) fail_sign_in(why);
    return;
  }
  if (!provisioning_allowed) {
    std::string why =
        "REGISTER 200 Allow-Events does not list vnd-microsoft-provisioning-v2 as a comma "
        "item without blanks (SIPE never subscribes to provisioning)";
    fault(why);
    if (initial) fail_sign_in(why);
    return;
  }
  // A Contact naming our +sip.instance with a gruu becomes our Contact, as in SIPE.
  for (std::string_view c : m.header_values("Contact")) {
    if (c.find(instance_uuid_) == std::string_view::npos) continue;
    size_t g = c.find("gruu=\"");
    if (g == std::string_view::npos) continue;
    size_t end = c.find('"', g + 6);
    if (end != std::string_view::npos) {
      contact_override_ = "<" + std::string(c.substr(g + 6, end - g - 6)) + ">";
    }
  }
  register_expires_ = static_cast<int>(expires);
  if (cfg_.reregister && state_ != client_state::signing_out) {
    loop_.cancel_timer(reregister_timer_);
    auto delay = std::chrono::seconds(expires > 30 ? expires - 30 : expires);
    reregister_timer_ = loop_.add_timer(delay, [this] {
      reregister_timer_ = 0;
      if (state_ != client_state::failed && state_ != client_state::signing_out &&
          state_ != client_state::signed_out) {
        send_register(false);
      }
    });
  }
  if (initial) {
    state_ = client_state::subscribing;
    send_subscribe();
  }
}

void chat_client::send_subscribe() {
  subscribe_call_id_ = new_call_id();
  subscribe_tag_ = new_tag();
  conn_->bind_route(subscribe_call_id_, subscribe_tag_, self_uri_, this);
  std::string headers;
  headers.reserve(512);
  headers.append("Event: ").append(kProvisioningEvent).append("\r\n");
  headers.append("Accept: ").append(kProvisioningType).append("\r\n");
  headers.append(
      "Supported: com.microsoft.autoextend\r\n"
      "Supported: ms-benotify\r\n"
      "Proxy-Require: ms-benotify\r\n"
      "Supported: ms-piggyback-first-notify\r\n"
      "Expires: 0\r\n");
  headers.append("Content-Type: ").append(kProvisioningType).append("\r\n");
  headers.append("Contact: ").append(contact()).append("\r\n");
  request_args a;
  a.method = "SUBSCRIBE";
  a.request_uri = self_uri_;
  a.to_uri = self_uri_;
  a.call_id = subscribe_call_id_;
  a.local_tag = subscribe_tag_;
  a.cseq = 1;
  a.extra_headers = headers;
  a.body = kProvisioningRequest;
  a.kind = tx_kind::subscribe;
  send_request(a);
  provisioning_timer_ = loop_.add_timer(cfg_.provisioning_timeout, [this] {
    provisioning_timer_ = 0;
    if (!provisioned_ && state_ == client_state::subscribing) {
      fail_sign_in("no provisioning (piggy-backed 200 or NOTIFY) within " +
                   std::to_string(cfg_.provisioning_timeout.count()) +
                   " ms: SIPE never starts group chat without it");
    }
  });
}

void chat_client::on_subscribe_response(const sip_message& m) {
  if (m.status < 200 || m.status >= 300) {
    if (!provisioned_ && state_ == client_state::subscribing) {
      fail_sign_in("provisioning SUBSCRIBE answered " + std::to_string(m.status) + " " + m.reason);
    }
    return;
  }
  bool present = false;
  if (header_long(m, "Expires", present) != 0) {
    fault(
        "SUBSCRIBE 200 has a non-zero Expires (SIPE would re-subscribe and restart group "
        "chat each time)");
  }
  if (m.header("ms-piggyback-cseq")) {
    // process_subscribe_response → process_incoming_notify reads Event from the 200 itself.
    const std::string* event = m.header("Event");
    if (event && ascii_iequal(trim_view(*event), kProvisioningEvent)) {
      on_provisioning(m, "piggy-backed 200");
    } else {
      fault(
          "piggy-backed provisioning 200 without 'Event: vnd-microsoft-provisioning-v2' "
          "(SIPE ignores its body)");
    }
  } else if (!m.body.empty()) {
    fault("SUBSCRIBE 200 carries a body but no ms-piggyback-cseq (SIPE ignores the body)");
  }
}

void chat_client::on_provisioning(const sip_message& m, std::string_view via) {
  if (provisioned_) {
    fault("provisioning delivered twice (again in a " + std::string(via) +
          "): SIPE would re-run group chat start-up");
    return;
  }
  provisioned_ = true;
  loop_.cancel_timer(provisioning_timer_);
  provisioning_timer_ = 0;
  std::string error;
  if (!parse_provisioning(m.body, provisioning_, error)) fault(error);
  for (const auto& name : provisioning_.unwanted_server_config) {
    fault("provisioning ServerConfiguration has " + name + " (starts unrelated work in SIPE)");
  }
  if (!cfg_.pool_uri_override.empty()) {
    pool_uri_ = cfg_.pool_uri_override;
  } else if (provisioning_.enabled && !provisioning_.pool_uri.empty()) {
    std::string_view uri = trim_view(provisioning_.pool_uri);
    if (starts_with_ci(uri, "sip:")) uri.remove_prefix(4);
    pool_uri_ = "sip:" + std::string(uri);
  } else {
    pool_uri_ = "sip:ocschat@" + domain_;
    fault("provisioning has no enabled DefaultPersistentChatPoolUri; SIPE falls back to " +
          pool_uri_);
  }
  if (pool_uri_.find('@') == std::string::npos) {
    fault("chat pool URI '" + pool_uri_ + "' has no user@host (SIPE splits it at '@')");
  }
  if (state_ == client_state::subscribing) start_lookup();
}

void chat_client::start_lookup() {
  state_ = client_state::lookup;
  lookup_ = dialog();
  lookup_.call_id = new_call_id();
  lookup_.local_tag = new_tag();
  lookup_.remote_uri = pool_uri_;
  lookup_.active = true;
  conn_->bind_route(lookup_.call_id, lookup_.local_tag, self_uri_, this);
  send_invite(lookup_, tx_kind::invite_lookup);
}

void chat_client::send_invite(dialog& d, tx_kind kind) {
  // The dialog's remote_uri is the Request-URI and To of the initial INVITE.
  const std::string& ip = conn_->local_ip();
  std::string headers =
      "Supported: ms-sender\r\nContact: " + contact() + "\r\nContent-Type: application/sdp\r\n";
  // sipe_im_invite's SDP; "message" is the OCS2007 media name.
  std::string sdp;
  sdp.reserve(256);
  sdp.append("v=0\r\no=- 0 0 IN IP4 ").append(ip).append("\r\ns=session\r\nc=IN IP4 ");
  sdp.append(ip).append("\r\nt=0 0\r\nm=message ").append(std::to_string(conn_->local_port()));
  sdp.append(" sip null\r\na=accept-types:").append(kSdpAcceptTypes).append("\r\n");
  d.invite_cseq = d.cseq + 1;
  request_args a;
  a.d = &d;
  a.method = "INVITE";
  a.extra_headers = headers;
  a.body = sdp;
  a.kind = kind;
  send_request(a);
}

void chat_client::on_invite_response(const sip_message& m, tx_kind kind) {
  const bool lookup = kind == tx_kind::invite_lookup;
  dialog& d = lookup ? lookup_ : channel_;
  const bool current = lookup ? state_ == client_state::lookup : state_ == client_state::channel;
  const std::string stage = lookup ? "lookup INVITE to " : "channel INVITE to ";
  if (m.status >= 300) {
    if (current) {
      fail_sign_in(stage + d.remote_uri + " answered " + std::to_string(m.status) + " " + m.reason);
    }
    return;
  }
  // 2xx: the dialog is confirmed whatever our state, so that it can be ACKed.
  d.remote_tag.assign(m.to_tag());
  if (const std::string* c = m.header("Contact")) d.target.assign(uri_of(*c));
  d.routes.clear();
  std::vector<std::string> routes;
  for (std::string_view rr : m.header_values("Record-Route")) {
    while (true) {
      size_t comma = rr.find(',');
      std::string_view one = trim_view(rr.substr(0, comma));
      if (!one.empty()) routes.emplace_back(one);
      if (comma == std::string_view::npos) break;
      rr.remove_prefix(comma + 1);
    }
  }
  for (auto it = routes.rbegin(); it != routes.rend(); ++it) {
    d.routes.append("Route: ").append(*it).append("\r\n");  // UAC: reversed (RFC 3261 12.1.2)
  }
  d.confirmed = true;
  d.cseq = d.invite_cseq;
  send_ack(d);
  if (!current) return;

  if (!ascii_iequal(m.to_uri(), d.remote_uri)) {
    std::string why = stage + d.remote_uri + ": 200 has To <" + std::string(m.to_uri()) +
                      "> (SIPE finds the session by the To URI and would never match it)";
    fault(why);
    fail_sign_in(why);
    return;
  }
  if (d.remote_tag.empty()) fault(stage + d.remote_uri + ": 200 without a To tag");
  if (lookup) {
    // SIPE reads Session-Expires only from the lookup 200 (xccos-wire.md §4.6).
    bool present = false;
    long se = header_long(m, "Session-Expires", present);
    session_expires_ = present ? static_cast<int>(se) : 0;
    requri_command_ = send_info_command("cmd:requri", encode_requri_cmd(), true, "", true);
    if (requri_command_ == 0) fail_sign_in("could not send cmd:requri");
  } else {
    on_channel_ready();
  }
}

void chat_client::on_requri_reply(const xccos_reply& r) {
  if (r.code != 200) {
    fail_sign_in("rpl:requri answered " + std::to_string(r.code) + " " + r.text);
    return;
  }
  if (!starts_with_ci(r.channel_uri, "sip:")) {
    std::string why = "rpl:requri uib uri '" + r.channel_uri +
                      "' is not a full sip: URI (SIPE could not match the channel session)";
    fault(why);
    fail_sign_in(why);
    return;
  }
  channel_uri_ = r.channel_uri;
  // chatserver_response_uri: BYE the lookup session, then INVITE the channel URI at once.
  request_args bye;
  bye.d = &lookup_;
  bye.method = "BYE";
  bye.kind = tx_kind::bye;
  send_request(bye);
  lookup_.active = false;
  state_ = client_state::channel;
  channel_ = dialog();
  channel_.call_id = new_call_id();
  channel_.local_tag = new_tag();
  channel_.remote_uri = channel_uri_;
  channel_.active = true;
  conn_->bind_route(channel_.call_id, channel_.local_tag, self_uri_, this);
  send_invite(channel_, tx_kind::invite_channel);
}

void chat_client::on_channel_ready() {
  state_ = client_state::ready;
  if (!signed_in_reported_) {
    signed_in_reported_ = true;
    if (callbacks_.on_signed_in) callbacks_.on_signed_in(*this, true);
  }
  if (state_ != client_state::ready) return;  // the callback may have signed out
  schedule_session_refresh();
  if (!cfg_.rooms_on_connect.empty()) bjoin(cfg_.rooms_on_connect);
  if (cfg_.getinv_on_connect) get_invites();
}

void chat_client::schedule_session_refresh() {
  if (!cfg_.session_refresh || session_expires_ <= 10) return;
  loop_.cancel_timer(refresh_timer_);
  refresh_timer_ = loop_.add_timer(std::chrono::seconds(session_expires_ - 10), [this] {
    refresh_timer_ = 0;
    if (state_ != client_state::ready) return;
    // groupchat_update_cb: a bodiless UPDATE on the channel dialog.
    request_args a;
    a.d = &channel_;
    a.method = "UPDATE";
    a.kind = tx_kind::update;
    send_request(a);
    schedule_session_refresh();
  });
}

void chat_client::fail_sign_in(const std::string& reason) {
  if (state_ == client_state::failed) return;
  state_ = client_state::failed;
  failure_reason_ = reason;
  loop_.cancel_timer(provisioning_timer_);
  provisioning_timer_ = 0;
  loop_.cancel_timer(refresh_timer_);
  refresh_timer_ = 0;
  loop_.cancel_timer(reregister_timer_);
  reregister_timer_ = 0;
  abort_commands(reason);
  if (!signed_in_reported_) {
    signed_in_reported_ = true;
    if (callbacks_.on_signed_in) callbacks_.on_signed_in(*this, false);
  }
}

void chat_client::lose_session(const std::string& reason) {
  if (state_ == client_state::failed || state_ == client_state::signed_out) return;
  state_ = client_state::failed;
  failure_reason_ = reason;
  loop_.cancel_timer(refresh_timer_);
  refresh_timer_ = 0;
  loop_.cancel_timer(reregister_timer_);
  reregister_timer_ = 0;
  rooms_.clear();
  abort_commands(reason);
  if (callbacks_.on_disconnected) callbacks_.on_disconnected(*this, reason);
}

bool chat_client::sign_out() {
  if (state_ == client_state::idle || state_ == client_state::failed ||
      state_ == client_state::signing_out || state_ == client_state::signed_out ||
      conn_->is_closed()) {
    return false;
  }
  state_ = client_state::signing_out;
  loop_.cancel_timer(refresh_timer_);
  refresh_timer_ = 0;
  loop_.cancel_timer(reregister_timer_);
  reregister_timer_ = 0;
  sign_out_pending_ = 0;
  if (channel_.confirmed && channel_.active) {
    request_args bye;
    bye.d = &channel_;
    bye.method = "BYE";
    bye.kind = tx_kind::bye;
    if (send_request(bye)) ++sign_out_pending_;
    channel_.active = false;
  }
  send_register(true);
  ++sign_out_pending_;
  rooms_.clear();
  return true;
}

void chat_client::finish_sign_out_step() {
  if (--sign_out_pending_ <= 0 && state_ == client_state::signing_out) {
    state_ = client_state::signed_out;
  }
}

void chat_client::drop_connection(const std::string& reason) {
  conn_->close(reason);
}

// ---------------------------------------------------------------------------
// Commands.

uint64_t chat_client::send_info_command(std::string_view command, std::string_view inner,
                                        bool expects_reply, std::string_view room, bool ladder) {
  // The ladder's cmd:requri goes on the lookup dialog; everything else needs the channel.
  if (ladder ? state_ != client_state::lookup : state_ != client_state::ready) return 0;
  dialog* d = session_dialog();
  if (!d || !d->confirmed || conn_->is_closed()) return 0;
  const uint32_t envid = next_envid_++;
  const std::string body = encode_envelope(envid, inner);
  const uint64_t id = next_command_++;
  pending_command pc;
  pc.result.id = id;
  pc.result.command.assign(command);
  pc.result.envid = envid;
  pc.result.expects_reply = expects_reply;
  pc.result.room.assign(room);
  pc.result.sent_at = clock::now();
  pending_.emplace(id, std::move(pc));
  pending_by_envid_[envid] = id;
  request_args a;
  a.d = d;
  a.method = "INFO";
  a.extra_headers = "Content-Type: text/plain\r\n";
  a.body = body;
  a.kind = tx_kind::info;
  a.command = id;
  if (!send_request(a)) {
    pending_.erase(id);
    pending_by_envid_.erase(envid);
    return 0;
  }
  ++stats_.commands_sent;
  if (expects_reply) {
    pending_[id].reply_timer = loop_.add_timer(cfg_.reply_timeout, [this, id] {
      auto it = pending_.find(id);
      if (it == pending_.end()) return;
      it->second.reply_timer = 0;
      it->second.result.timed_out = true;
      fault("no XCCOS reply to " + it->second.result.command + " within " +
            std::to_string(cfg_.reply_timeout.count()) + " ms");
      complete(id);
    });
  }
  return id;
}

uint64_t chat_client::get_server_info(std::string_view info_type) {
  return send_info_command("cmd:getserverinfo", encode_getserverinfo_cmd(domain_, info_type), true,
                           "");
}

uint64_t chat_client::chansrch(std::string_view criteria, std::string_view qtype, bool extended) {
  return send_info_command("cmd:chansrch", encode_chansrch_cmd(qtype, criteria, extended), true,
                           "");
}

uint64_t chat_client::join(std::string_view room_uri) {
  std::string inner = encode_join_cmd(room_uri);
  if (inner.empty()) return 0;
  return send_info_command("cmd:join", inner, true, room_uri);
}

uint64_t chat_client::bjoin(const std::vector<std::string>& room_uris) {
  return send_info_command("cmd:bjoin", encode_bjoin_cmd(room_uris), true, "");
}

uint64_t chat_client::part(std::string_view room_uri) {
  return send_info_command("cmd:part", encode_part_cmd(room_uri), true, room_uri);
}

uint64_t chat_client::bccontext(std::string_view room_uri, int count) {
  return send_info_command("cmd:bccontext", encode_bccontext_cmd(room_uri, count), true, room_uri);
}

uint64_t chat_client::post(std::string_view room_uri, std::string_view text, std::string_view ts) {
  std::string stamp =
      ts.empty() ? utc::seconds_timestamp(utc::now_micros()) : std::string(ts);
  return send_info_command("grpchat", encode_grpchat(room_uri, self_uri_, stamp, text), false,
                           room_uri);
}

uint64_t chat_client::get_pref(std::string_view label, std::string_view seqid) {
  return send_info_command("cmd:getpref", encode_getpref_cmd(label, seqid), true, "");
}

uint64_t chat_client::set_pref(std::string_view label, std::string_view content_base64,
                               std::string_view seqid) {
  return send_info_command("cmd:setpref", encode_setpref_cmd(label, seqid, content_base64), true,
                           "");
}

uint64_t chat_client::get_invites() {
  return send_info_command("cmd:getinv", encode_getinv_cmd(domain_), true, "");
}

uint64_t chat_client::send_command_xml(std::string_view command_id, std::string_view cmd_xml) {
  return send_info_command(command_id, cmd_xml, true, "");
}

uint64_t chat_client::send_raw_info(std::string_view body, std::string_view content_type) {
  if (state_ != client_state::ready) return 0;
  dialog* d = session_dialog();
  if (!d || !d->confirmed || conn_->is_closed()) return 0;
  const uint64_t id = next_command_++;
  pending_command pc;
  pc.result.id = id;
  pc.result.command = "raw";
  pc.result.sent_at = clock::now();
  // An envid in the body lets a reply to it be attached to this record.
  size_t pos = body.find("envid=\"");
  if (pos != std::string_view::npos) {
    std::string_view rest = body.substr(pos + 7);
    uint32_t envid = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), envid);
    if (ec == std::errc() && ptr < rest.data() + rest.size() && *ptr == '"') {
      pc.result.envid = envid;
      pending_by_envid_[envid] = id;
    }
  }
  const uint32_t envid = pc.result.envid;
  pending_.emplace(id, std::move(pc));
  std::string headers =
      content_type.empty() ? std::string() : "Content-Type: " + std::string(content_type) + "\r\n";
  request_args a;
  a.d = d;
  a.method = "INFO";
  a.extra_headers = headers;
  a.body = body;
  a.kind = tx_kind::info;
  a.command = id;
  if (!send_request(a)) {
    pending_.erase(id);
    if (envid != 0) pending_by_envid_.erase(envid);
    return 0;
  }
  ++stats_.commands_sent;
  return id;
}

bool chat_client::send_raw_bytes(std::string_view bytes) {
  return conn_->send(bytes);
}

void chat_client::send_keepalive() {
  conn_->send_keepalive();
}

void chat_client::on_info_response(uint64_t command, int status, std::string_view reason) {
  auto it = pending_.find(command);
  if (it == pending_.end()) {
    // Completed already (reply timeout): still record the SIP outcome.
    auto h = history_.find(command);
    if (h != history_.end()) {
      h->second.sip_status = status;
      h->second.sip_reason.assign(reason);
      h->second.sip_latency = since(h->second.sent_at);
    }
    return;
  }
  pending_command& p = it->second;
  p.sip_final = true;
  p.result.sip_status = status;
  p.result.sip_reason.assign(reason);
  p.result.sip_latency = since(p.result.sent_at);
  const bool ok = status >= 200 && status < 300;
  const std::string cmd = p.result.command;
  if (!ok && status != 0 && status != 481 && status != 408 && cmd != "raw") {
    // xccos-wire.md §4.5: every INFO gets 200 at SIP level; errors travel in <resp>.
    fault("INFO carrying " + cmd + " answered " + std::to_string(status) + " " +
          std::string(reason) + " (the server must 200 every INFO and report errors in resp)");
  }
  maybe_complete(command);
  if (status == 481 && state_ == client_state::ready) {
    // SIPE BYEs the dialog and starts over; the session is gone either way.
    lose_session("server answered 481 to an INFO: channel dialog gone");
  }
}

void chat_client::on_reply(const xccos_reply& r) {
  uint64_t id = 0;
  uint32_t envid = 0;
  bool has_envid = false;
  if (!r.cmd_envid.empty()) {
    auto [ptr, ec] =
        std::from_chars(r.cmd_envid.data(), r.cmd_envid.data() + r.cmd_envid.size(), envid);
    has_envid = ec == std::errc() && ptr == r.cmd_envid.data() + r.cmd_envid.size();
    if (!has_envid)
      fault("rpl " + r.id + " has a non-numeric commandid envid '" + r.cmd_envid + "'");
  }
  if (has_envid) {
    auto it = pending_by_envid_.find(envid);
    if (it != pending_by_envid_.end() && pending_.count(it->second)) id = it->second;
  } else if (r.cmd_envid.empty()) {
    // SIPE ignores commandid; match the oldest waiting command of this kind.
    for (const auto& [pid, p] : pending_) {
      if (p.result.expects_reply && !p.result.replied &&
          reply_matches_command(r.id, p.result.command) && (id == 0 || pid < id)) {
        id = pid;
      }
    }
    if (id != 0) fault("rpl " + r.id + " without commandid envid (matched by id)");
  }
  if (id == 0) {
    if (has_envid) {
      // A late reply to a finished post / raw INFO / timed-out command.
      for (auto& [hid, h] : history_) {
        if (h.envid == envid && !h.replied) {
          h.replied = true;
          h.reply = r;
          h.reply_latency = since(h.sent_at);
          if (h.expects_reply) fault("rpl " + r.id + " arrived after its command timed out");
          return;
        }
      }
    }
    if (cfg_.max_unsolicited > 0) {
      unsolicited_.push_back(r);
      if (unsolicited_.size() > cfg_.max_unsolicited) unsolicited_.pop_front();
    }
    if (callbacks_.on_unsolicited_reply) callbacks_.on_unsolicited_reply(*this, r);
    return;
  }
  pending_command& p = pending_[id];
  if (p.result.replied) {
    fault("second rpl for " + p.result.command + " (envid " + std::to_string(p.result.envid) + ")");
    return;
  }
  if (p.result.expects_reply && !reply_matches_command(r.id, p.result.command)) {
    fault("reply " + r.id + " answers " + p.result.command);
  }
  if (!r.has_resp) fault("rpl " + r.id + " without <resp> (SIPE takes it as code 500)");
  p.result.replied = true;
  p.result.reply = r;
  p.result.reply_latency = since(p.result.sent_at);
  const std::string command = p.result.command;
  const std::string room = p.result.room;
  // Effects first (room state, ladder), so completion callbacks see them; `p` may dangle
  // after this call (new commands are added to pending_).
  apply_reply(command, room, id, r);
  maybe_complete(id);
}

void chat_client::apply_reply(const std::string& command, const std::string& room, uint64_t id,
                              const xccos_reply& r) {
  if (command == "cmd:requri") {
    if (id == requri_command_ && state_ == client_state::lookup) on_requri_reply(r);
    return;
  }
  if ((command == "cmd:join" || command == "cmd:bjoin") && r.code == 200) {
    for (const auto& j : r.joined) {
      room_state& s = rooms_[j.uri];
      s.uri = j.uri;
      s.name = j.name;
      s.topic = j.topic;
      s.members.clear();
      s.managers.clear();
      if (cfg_.track_members) {
        s.members.insert(j.members.begin(), j.members.end());
        s.managers.insert(j.managers.begin(), j.managers.end());
      }
    }
    if (cfg_.backchat_after_join) {
      for (const auto& j : r.joined) bccontext(j.uri, cfg_.backchat_count);
    }
  } else if (command == "cmd:part" && r.code == 200) {
    rooms_.erase(r.room_uri.empty() ? room : r.room_uri);
  }
}

void chat_client::maybe_complete(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  const pending_command& p = it->second;
  bool done;
  if (!p.result.expects_reply) {
    done = p.sip_final;
  } else {
    done = p.sip_final && (p.result.replied || !p.result.sip_ok());
  }
  if (done) complete(id);
}

void chat_client::complete(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  pending_command p = std::move(it->second);
  pending_.erase(it);
  loop_.cancel_timer(p.reply_timer);
  auto e = pending_by_envid_.find(p.result.envid);
  if (e != pending_by_envid_.end() && e->second == id) pending_by_envid_.erase(e);
  p.result.done = true;
  if (!p.result.ok()) ++stats_.commands_failed;
  if (p.retain) retained_[id] = p.result;
  if (cfg_.max_command_history > 0) {
    history_[id] = p.result;
    while (history_.size() > cfg_.max_command_history) history_.erase(history_.begin());
  }
  if (callbacks_.on_command_complete) callbacks_.on_command_complete(*this, p.result);
}

command_result* chat_client::find_mutable(uint64_t id) {
  auto p = pending_.find(id);
  if (p != pending_.end()) return &p->second.result;
  auto h = history_.find(id);
  if (h != history_.end()) return &h->second;
  auto r = retained_.find(id);
  return r != retained_.end() ? &r->second : nullptr;
}

const command_result* chat_client::find_command(uint64_t id) const {
  return const_cast<chat_client*>(this)->find_mutable(id);
}

void chat_client::on_push_message(chat_post p) {
  if (p.room.empty() || p.author.empty()) {
    fault("grpchat push without chanUri or author (SIPE drops it)");
  } else if (!rooms_.count(p.room)) {
    fault("grpchat push for room " + p.room + " this user has not joined (SIPE drops it)");
  }
  p.received = clock::now();
  p.seq = ++message_seq_;
  ++stats_.messages_in;
  if (cfg_.max_stored_messages > 0) {
    messages_.push_back(p);
    if (messages_.size() > cfg_.max_stored_messages) {
      messages_.pop_front();
      ++stats_.messages_evicted;
    }
  }
  if (callbacks_.on_message) callbacks_.on_message(*this, p);
}

void chat_client::on_roster_event(roster_event ev) {
  ev.received = clock::now();
  ev.seq = ++roster_seq_;
  if (ascii_iequal(ev.user, self_uri_) && !cfg_.expect_other_sessions) {
    fault(std::string(ev.what == roster_event::kind::join ? "ntc:join" : "ntc:part") +
          " about the user itself (notices are for the other members)");
  }
  auto room = rooms_.find(ev.room);
  if (room == rooms_.end()) {
    fault("roster notice for room " + ev.room + " this user has not joined");
  } else if (cfg_.track_members) {
    if (ev.what == roster_event::kind::join) {
      (ev.manager ? room->second.managers : room->second.members).insert(ev.user);
    } else {
      room->second.members.erase(ev.user);
      room->second.managers.erase(ev.user);
    }
  }
  if (cfg_.max_stored_roster > 0) {
    roster_.push_back(ev);
    if (roster_.size() > cfg_.max_stored_roster) roster_.pop_front();
  }
  if (callbacks_.on_roster) callbacks_.on_roster(*this, ev);
}

// ---------------------------------------------------------------------------
// Blocking helpers.

bool chat_client::sign_in(std::chrono::milliseconds timeout) {
  if (state_ == client_state::idle && !start()) return false;
  loop_.run_until(
      [this] {
        return state_ == client_state::ready || state_ == client_state::failed ||
               state_ == client_state::signed_out;
      },
      timeout);
  return state_ == client_state::ready;
}

bool chat_client::sign_out_and_wait(std::chrono::milliseconds timeout) {
  if (!sign_out()) return false;
  return loop_.run_until([this] { return state_ != client_state::signing_out; }, timeout) &&
         state_ == client_state::signed_out;
}

std::optional<command_result> chat_client::take_result(uint64_t id) {
  auto r = retained_.find(id);
  if (r != retained_.end()) {
    command_result out = std::move(r->second);
    retained_.erase(r);
    return out;
  }
  auto h = history_.find(id);
  if (h != history_.end()) return h->second;
  return std::nullopt;
}

std::optional<command_result> chat_client::wait_command(uint64_t id,
                                                        std::chrono::milliseconds timeout) {
  if (id == 0) return std::nullopt;
  auto it = pending_.find(id);
  if (it == pending_.end()) return take_result(id);
  it->second.retain = true;
  loop_.run_until([this, id] { return pending_.count(id) == 0; }, timeout);
  auto still = pending_.find(id);
  if (still != pending_.end()) {
    still->second.retain = false;
    return std::nullopt;
  }
  return take_result(id);
}

std::optional<std::vector<room_info>> chat_client::search_rooms(std::string_view criteria,
                                                                std::chrono::milliseconds timeout) {
  auto r = wait_command(chansrch(criteria), timeout);
  if (!r || !r->replied || r->reply.code != 200) return std::nullopt;
  return std::move(r->reply.rooms);
}

std::optional<join_result> chat_client::join_and_wait(std::string_view room_uri,
                                                      std::chrono::milliseconds timeout) {
  auto r = wait_command(join(room_uri), timeout);
  if (!r || !r->replied) return std::nullopt;
  join_result out;
  out.code = r->reply.code;
  out.text = r->reply.text;
  if (!r->reply.joined.empty()) out.room = r->reply.joined.front();
  out.failed = r->reply.failed;
  return out;
}

std::optional<bjoin_result> chat_client::bjoin_and_wait(const std::vector<std::string>& room_uris,
                                                        std::chrono::milliseconds timeout) {
  auto r = wait_command(bjoin(room_uris), timeout);
  if (!r || !r->replied) return std::nullopt;
  bjoin_result out;
  out.code = r->reply.code;
  out.text = r->reply.text;
  out.joined = std::move(r->reply.joined);
  out.failed = std::move(r->reply.failed);
  return out;
}

bool chat_client::part_and_wait(std::string_view room_uri, std::chrono::milliseconds timeout) {
  auto r = wait_command(part(room_uri), timeout);
  return r && r->ok();
}

std::optional<std::vector<chat_post>> chat_client::backchat_and_wait(
    std::string_view room_uri, int count, std::chrono::milliseconds timeout) {
  auto r = wait_command(bccontext(room_uri, count), timeout);
  if (!r || !r->replied || r->reply.code != 200) return std::nullopt;
  return std::move(r->reply.messages);
}

bool chat_client::post_and_wait_ack(std::string_view room_uri, std::string_view text,
                                    std::chrono::milliseconds timeout) {
  auto r = wait_command(post(room_uri, text), timeout);
  return r && r->sip_ok();
}

std::optional<chat_post> chat_client::wait_for_message(
    const std::function<bool(const chat_post&)>& pred, std::chrono::milliseconds timeout,
    uint64_t since_seq) {
  std::optional<chat_post> found;
  uint64_t next = since_seq;  // first seq not yet examined
  auto scan = [&] {
    if (messages_.empty()) return false;
    const uint64_t first = messages_.front().seq;
    if (next < first) next = first;
    for (size_t i = next - first; i < messages_.size(); ++i) {
      next = messages_[i].seq + 1;
      if (pred(messages_[i])) {
        found = messages_[i];
        return true;
      }
    }
    return false;
  };
  loop_.run_until(scan, timeout);
  return found;
}

std::optional<roster_event> chat_client::wait_for_roster(
    const std::function<bool(const roster_event&)>& pred, std::chrono::milliseconds timeout,
    uint64_t since_seq) {
  std::optional<roster_event> found;
  uint64_t next = since_seq;
  auto scan = [&] {
    if (roster_.empty()) return false;
    const uint64_t first = roster_.front().seq;
    if (next < first) next = first;
    for (size_t i = next - first; i < roster_.size(); ++i) {
      next = roster_[i].seq + 1;
      if (pred(roster_[i])) {
        found = roster_[i];
        return true;
      }
    }
    return false;
  };
  loop_.run_until(scan, timeout);
  return found;
}

}  // namespace pchat::client
