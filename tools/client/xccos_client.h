// pchat's XCCOS client: simulated Lync/SIPE users for the end-to-end tests and the load bench.
//
// A chat_client is one user on one sip_connection (its own, or one shared with other users in
// the bench's --route=frontend mode). It signs in with the ladder SIPE uses
// (xccos-wire.md §7) and then sends XCCOS commands in INFOs on the channel dialog:
//
//   idle ──start()──> connecting ──TCP up──> registering ──200 REGISTER──> subscribing
//     ──provisioning (200 piggy-back or NOTIFY)──> lookup: INVITE pool URI, ACK,
//     INFO cmd:requri ──rpl:requri──> channel: BYE lookup, INVITE channel URI ──200, ACK──>
//   ready ──sign_out()──> signing_out ──> signed_out
//   any state ──error / connection closed / server BYE──> failed (failure_reason())
//
// On the wire it behaves like SIPE 1.25 (src/core/sip-transport.c, sipe-groupchat.c):
// full header names, Content-Length always, reason phrases, no Via branch on in-dialog
// requests, `From: <sip:user@domain>;tag=..;epid=..`, `Content-Type: text/plain` INFOs, the
// REGISTER/SUBSCRIBE/INVITE headers and SDP SIPE sends. Every server request is answered
// 200 OK (BENOTIFY and ACK get no answer; unknown methods 501 as in SIPE), except an INFO on
// a Call-ID that is not the current session dialog, which gets 487 Request Terminated.
//
// Server behaviour a real SIPE client would choke on, or that breaks the reference rules
// (xccos-wire.md), is recorded as a fault (faults()): e.g. a response without reason
// phrase, a message without Content-Length, compact header names, a REGISTER 200 without
// `Expires`, a provisioning delivered twice, a non-200 to a command INFO, an XCCOS reply that
// answers nothing. Tests assert faults().empty().
//
// Commands are tracked per local command id (never 0): SIP status of the INFO, the XCCOS
// reply matched by commandid/@envid, and latencies. A command that expects a reply is
// complete when the SIP final response and the reply are both in, when the INFO fails, or
// when client_config::reply_timeout passes; a post (grpchat) or a raw INFO is complete at
// the SIP final response (a later rpl naming its envid is still attached to the record).
//
// Threading: everything here runs on the client_loop's thread (see client_loop.h); the
// blocking helpers run the loop themselves, so they move every client on that loop.
// Lifetime: the client_loop must outlive every chat_client on it; destroy a chat_client
// outside its own callbacks. It holds its connection by shared_ptr.
// Errors are values: commands return 0 when they cannot be sent, helpers return
// false/nullopt; nothing throws across this API except std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tools/client/client_codec.h"
#include "tools/client/client_loop.h"
#include "tools/client/sip_connection.h"
#include "tools/client/sip_wire.h"

namespace pchat::client {

// Contains "Sipe/" on purpose: a server may tailor behaviour to SIPE by User-Agent (e.g. no
// unsolicited rpl:bccontext after bjoin, xccos-wire.md §5.7). Override it to look like a
// Microsoft client.
inline constexpr std::string_view kDefaultUserAgent = "pchat-client/0.1 (Sipe/1.25.0 compatible)";

struct client_config {
  std::string user;  // "alice@example.com" (a leading "sip:" is accepted)
  // Digest password. A REGISTER challenged with 401/407 is re-sent once with credentials
  // (Authorization / Proxy-Authorization, RFC 2617 qop=auth, as SIPE answers a 407);
  // empty: no authentication (the sign-in fails on a challenge).
  std::string password;
  std::string user_agent = std::string(kDefaultUserAgent);
  // Chat lookup URI to use instead of provisioning's (SIPE's "groupchat_user" setting).
  std::string pool_uri_override;
  // 0: random identifiers. Equal non-zero seeds give equal Call-IDs, tags and envids, which
  // reproduces SIPE clients started in the same second (sipe-client-notes.md §3).
  uint64_t id_seed = 0;
  // After the channel INVITE SIPE sends cmd:bjoin for queued rooms, then cmd:getinv.
  std::vector<std::string> rooms_on_connect;
  bool getinv_on_connect = true;
  // SIPE sends cmd:bccontext (last 25) after every room a join/bjoin reply opens.
  bool backchat_after_join = false;
  int backchat_count = 25;
  bool reregister = true;       // re-REGISTER 30 s before Expires, as SIPE
  bool session_refresh = true;  // UPDATE every Session-Expires - 10 s, as SIPE
  // No final response within this time: the request fails with a local 408 (64*T1).
  std::chrono::milliseconds transaction_timeout{32000};
  // INFO answered but no XCCOS reply within this time: the command times out.
  std::chrono::milliseconds reply_timeout{30000};
  // No provisioning (piggy-back or NOTIFY) within this time after SUBSCRIBE: sign-in fails.
  std::chrono::milliseconds provisioning_timeout{10000};
  // Storage kept for tests; the bench sets these to 0 and uses callbacks.
  size_t max_stored_messages = 10000;
  size_t max_stored_roster = 10000;
  size_t max_command_history = 1024;
  size_t max_unsolicited = 256;
  bool track_members = true;  // per-room member lists (memory grows with room sizes)
  // A roster notice about this user itself is a fault (notices are for the other members),
  // unless the user is signed in more than once: then the other session's joins and parts
  // legitimately show up here.
  bool expect_other_sessions = false;
  size_t max_faults = 100;
};

enum class client_state {
  idle,
  connecting,
  registering,
  subscribing,
  lookup,   // INVITE to the pool URI, cmd:requri
  channel,  // INVITE to the channel URI
  ready,
  signing_out,
  signed_out,
  failed,
};
const char* to_string(client_state s);

// One command and what became of it.
struct command_result {
  uint64_t id = 0;      // local command id
  std::string command;  // "cmd:join", "grpchat", "raw", ...
  uint32_t envid = 0;   // envelope envid sent (raw: parsed from the body if possible)
  bool expects_reply = false;
  std::string room;  // room the command names, if any

  int sip_status = 0;      // final SIP status of the INFO; 0 = none yet / never
  std::string sip_reason;  // its reason phrase ("connection closed" etc. for local ends)
  bool replied = false;    // an XCCOS rpl arrived
  xccos_reply reply;       // valid if replied
  bool done = false;
  bool timed_out = false;  // no reply within reply_timeout

  steady_time sent_at{};
  std::chrono::microseconds sip_latency{0};    // send → SIP final response
  std::chrono::microseconds reply_latency{0};  // send → XCCOS reply

  bool sip_ok() const { return sip_status >= 200 && sip_status < 300; }
  // SIP 2xx, and for commands with a reply: reply code 200.
  bool ok() const { return done && sip_ok() && (!expects_reply || (replied && reply.code == 200)); }
};

struct join_result {
  int code = 0;           // XCCOS resp code
  std::string text;       // resp text
  joined_room_info room;  // first chanib (empty uri if none)
  std::vector<failed_room> failed;
  bool ok() const { return code == 200 && !room.uri.empty(); }
};

struct bjoin_result {
  int code = 0;
  std::string text;
  std::vector<joined_room_info> joined;
  std::vector<failed_room> failed;
};

// What the client believes about a room it joined.
struct room_state {
  std::string uri;
  std::string name;
  std::string topic;
  std::set<std::string> members;  // from rpl:join plus ntc:join/ntc:part (track_members)
  std::set<std::string> managers;
};

struct client_stats {
  uint64_t requests_in = 0;
  uint64_t responses_in = 0;
  uint64_t infos_in = 0;
  uint64_t stale_infos = 0;         // answered 487
  uint64_t retransmissions = 0;     // UDP request retransmissions sent
  uint64_t duplicate_requests = 0;  // UDP server retransmissions answered from cache
  uint64_t commands_sent = 0;
  uint64_t commands_failed = 0;
  uint64_t messages_in = 0;
  uint64_t messages_evicted = 0;  // pushed out of storage by max_stored_messages
  uint64_t faults = 0;
};

struct client_callbacks {
  // Sign-in finished: ready (true) or failed (false).
  std::function<void(class chat_client&, bool ok)> on_signed_in;
  std::function<void(class chat_client&, const command_result&)> on_command_complete;
  std::function<void(class chat_client&, const chat_post&)> on_message;
  std::function<void(class chat_client&, const roster_event&)> on_roster;
  // An rpl that answers no command of this client (e.g. rpl:bccontext pushed after bjoin).
  std::function<void(class chat_client&, const xccos_reply&)> on_unsolicited_reply;
  // The session ended without sign_out(): connection closed, server BYE, 481.
  std::function<void(class chat_client&, const std::string& reason)> on_disconnected;
};

class chat_client : private sip_connection::endpoint {
 public:
  // A user with a connection of its own.
  chat_client(client_loop& loop, const connection_config& conn, client_config cfg);
  // A user on a shared connection (frontend mode). REQUIRES: conn uses `loop`.
  chat_client(client_loop& loop, std::shared_ptr<sip_connection> conn, client_config cfg);
  ~chat_client();
  chat_client(const chat_client&) = delete;
  chat_client& operator=(const chat_client&) = delete;

  client_callbacks& callbacks() { return callbacks_; }

  // ---- Sign-in / sign-out (non-blocking).
  // Starts the ladder; false if not idle or the connection is already closed.
  bool start();
  // BYE on the channel dialog and REGISTER Expires: 0, as SIPE at sign-out.
  bool sign_out();
  // Closes the connection (all users on it) without signing out: SIPE's usual sign-out.
  void drop_connection(const std::string& reason = "client closed the connection");

  // ---- Commands (non-blocking). Each returns a command id, or 0 if not ready / invalid.
  uint64_t get_server_info(std::string_view info_type = "123");
  uint64_t chansrch(std::string_view criteria, std::string_view qtype = "BYNAME",
                    bool extended = false);
  uint64_t join(std::string_view room_uri);  // 0 if not a ma-chan:// URI
  uint64_t bjoin(const std::vector<std::string>& room_uris);
  uint64_t part(std::string_view room_uri);
  uint64_t bccontext(std::string_view room_uri, int count);
  // grpchat with ts = now ("YYYY-MM-DDTHH:MM:SSZ"), or the given ts verbatim. Text goes out
  // as SIPE sends it (CR LF unescaped), so XML end-of-line handling makes it LF at the server.
  uint64_t post(std::string_view room_uri, std::string_view text, std::string_view ts = {});
  uint64_t get_pref(std::string_view label, std::string_view seqid = "1");
  uint64_t set_pref(std::string_view label, std::string_view content_base64,
                    std::string_view seqid = "1");
  uint64_t get_invites();
  // Any <cmd> element (id attribute `command_id`) in a fresh envelope; reply tracked.
  uint64_t send_command_xml(std::string_view command_id, std::string_view cmd_xml);
  // An INFO with an arbitrary body on the channel dialog (malformed-input tests). Complete
  // at the SIP final response; an rpl naming envid="N" of the body is attached later.
  uint64_t send_raw_info(std::string_view body, std::string_view content_type = "text/plain");
  // Arbitrary bytes on the connection (shared by every user of it).
  bool send_raw_bytes(std::string_view bytes);
  // CRLFCRLF on the connection now.
  void send_keepalive();

  // ---- Blocking helpers for tests: run the loop until done or `timeout` passes.
  bool sign_in(std::chrono::milliseconds timeout);
  bool sign_out_and_wait(std::chrono::milliseconds timeout);
  // Waits for completion of a command; nullopt on timeout or unknown id.
  std::optional<command_result> wait_command(uint64_t id, std::chrono::milliseconds timeout);
  std::optional<std::vector<room_info>> search_rooms(std::string_view criteria,
                                                     std::chrono::milliseconds timeout);
  // nullopt if no XCCOS reply came (timeout, SIP failure); else the reply's code and room.
  std::optional<join_result> join_and_wait(std::string_view room_uri,
                                           std::chrono::milliseconds timeout);
  std::optional<bjoin_result> bjoin_and_wait(const std::vector<std::string>& room_uris,
                                             std::chrono::milliseconds timeout);
  bool part_and_wait(std::string_view room_uri, std::chrono::milliseconds timeout);
  std::optional<std::vector<chat_post>> backchat_and_wait(std::string_view room_uri, int count,
                                                          std::chrono::milliseconds timeout);
  // True once the INFO carrying the post got a 2xx.
  bool post_and_wait_ack(std::string_view room_uri, std::string_view text,
                         std::chrono::milliseconds timeout);
  // First stored message with seq >= since_seq matching `pred` (already received ones
  // count). Use next_message_seq() before acting to wait only for newer ones.
  std::optional<chat_post> wait_for_message(const std::function<bool(const chat_post&)>& pred,
                                            std::chrono::milliseconds timeout,
                                            uint64_t since_seq = 0);
  std::optional<roster_event> wait_for_roster(const std::function<bool(const roster_event&)>& pred,
                                              std::chrono::milliseconds timeout,
                                              uint64_t since_seq = 0);

  // ---- State and observations.
  client_state state() const { return state_; }
  bool is_ready() const { return state_ == client_state::ready; }
  const std::string& failure_reason() const { return failure_reason_; }
  const std::string& self_uri() const { return self_uri_; }  // "sip:alice@example.com"
  const std::string& domain() const { return domain_; }
  const std::string& pool_uri() const { return pool_uri_; }
  const std::string& channel_uri() const { return channel_uri_; }
  const std::string& channel_call_id() const { return channel_.call_id; }
  // The channel dialog's tags (ours: From of our requests; the server's: its To tag).
  const std::string& channel_local_tag() const { return channel_.local_tag; }
  const std::string& channel_remote_tag() const { return channel_.remote_tag; }
  const provisioning_info& provisioning() const { return provisioning_; }
  int register_expires() const { return register_expires_; }
  sip_connection& connection() { return *conn_; }
  client_loop& loop() { return loop_; }

  const std::map<std::string, room_state>& rooms() const { return rooms_; }
  bool in_room(std::string_view uri) const { return rooms_.count(std::string(uri)) != 0; }
  const std::deque<chat_post>& messages() const { return messages_; }
  uint64_t next_message_seq() const { return message_seq_ + 1; }
  const std::deque<roster_event>& roster_events() const { return roster_; }
  uint64_t next_roster_seq() const { return roster_seq_ + 1; }
  const std::deque<xccos_reply>& unsolicited_replies() const { return unsolicited_; }
  // A command by id: in flight or in the bounded history; nullptr if unknown or evicted.
  const command_result* find_command(uint64_t id) const;
  size_t commands_in_flight() const { return pending_.size(); }
  const std::vector<std::string>& faults() const { return faults_; }
  const client_stats& stats() const { return stats_; }

 private:
  struct dialog {
    std::string call_id;
    std::string local_tag;
    std::string remote_tag;
    std::string remote_uri;  // the session peer (To of our INVITE)
    std::string target;      // Contact of the 2xx: Request-URI of in-dialog requests
    std::string routes;      // pre-formatted Route headers
    uint32_t cseq = 0;
    uint32_t invite_cseq = 0;
    bool confirmed = false;
    bool active = false;
  };
  enum class tx_kind { reg, unreg, subscribe, invite_lookup, invite_channel, bye, info, update };
  // What send_request needs besides the dialog (in-dialog) or the ids (out of dialog).
  struct request_args {
    dialog* d = nullptr;  // in-dialog: Call-ID, tags, CSeq, target and routes come from it
    std::string_view method;
    std::string_view request_uri;  // out of dialog only
    std::string_view to_uri;       // out of dialog only
    std::string_view call_id;      // out of dialog only
    std::string_view local_tag;    // out of dialog only
    uint32_t cseq = 1;             // out of dialog only
    std::string_view extra_headers;
    std::string_view body;
    tx_kind kind = tx_kind::info;
    uint64_t command = 0;
  };
  struct transaction {
    tx_kind kind = tx_kind::info;
    std::string method;
    std::string call_id;
    std::string local_tag;
    uint32_t cseq = 0;
    uint64_t command = 0;
    std::string bytes;  // kept for UDP retransmission only
    client_loop::timer_id retransmit_timer = 0;
    client_loop::timer_id timeout_timer = 0;
    std::chrono::milliseconds interval{500};
    bool provisional_seen = false;
  };
  struct pending_command {
    command_result result;
    bool sip_final = false;
    bool retain = false;  // a blocking helper waits for it: keep it even with no history
    client_loop::timer_id reply_timer = 0;
  };

  // sip_connection::endpoint
  void on_sip_message(const sip_message& m) override;
  void on_connected() override;
  void on_closed(const std::string& reason) override;

  void init_identity();
  uint64_t next_random();
  std::string new_tag();
  std::string new_call_id();
  std::string new_branch();

  // Ladder steps.
  void send_register(bool deregister);
  // Credentials answering the challenge in `m` (401/407) for a REGISTER; empty if none.
  std::string digest_answer(const sip_message& m);
  std::string auth_header_;   // added to the next REGISTER (once)
  bool auth_tried_ = false;
  void on_register_response(const sip_message& m, tx_kind kind);
  void send_subscribe();
  void on_subscribe_response(const sip_message& m);
  void on_provisioning(const sip_message& m, std::string_view via);
  void start_lookup();
  void send_invite(dialog& d, tx_kind kind);
  void on_invite_response(const sip_message& m, tx_kind kind);
  void on_requri_reply(const xccos_reply& r);
  void on_channel_ready();
  void schedule_session_refresh();
  void fail_sign_in(const std::string& reason);
  void lose_session(const std::string& reason);

  // Requests and transactions.
  std::string contact() const;
  // Sends a request and opens its client transaction. Returns false if not sent.
  bool send_request(const request_args& a);
  void send_ack(const dialog& d);
  void arm_retransmit(const std::string& key);
  void on_transaction_timeout(const std::string& key);
  void on_response(const sip_message& m);
  void on_request(const sip_message& m);
  void on_info(const sip_message& m);
  void respond(const sip_message& m, int status, std::string_view reason);
  dialog* session_dialog();

  // Commands.
  uint64_t send_info_command(std::string_view command, std::string_view inner, bool expects_reply,
                             std::string_view room, bool ladder = false);
  void on_info_response(uint64_t command, int status, std::string_view reason);
  void abort_transactions(const std::string& reason);
  void abort_commands(const std::string& reason);
  void finish_sign_out_step();
  void on_reply(const xccos_reply& r);
  void apply_reply(const std::string& command, const std::string& room, uint64_t id,
                   const xccos_reply& r);
  void maybe_complete(uint64_t id);
  void complete(uint64_t id);
  command_result* find_mutable(uint64_t id);
  void on_push_message(chat_post p);
  void on_roster_event(roster_event ev);
  void check_message_faults(const sip_message& m);
  void fault(std::string what);
  std::optional<command_result> take_result(uint64_t id);

  client_loop& loop_;
  std::shared_ptr<sip_connection> conn_;
  bool owns_connection_ = false;
  client_config cfg_;
  client_callbacks callbacks_;

  client_state state_ = client_state::idle;
  std::string failure_reason_;
  bool signed_in_reported_ = false;

  // Identity.
  uint64_t rng_ = 0;
  std::string self_uri_;
  std::string domain_;
  std::string epid_;
  std::string instance_uuid_;
  std::string contact_override_;  // <gruu> from the REGISTER 200, if any
  std::string register_call_id_;
  std::string register_tag_;
  uint32_t register_cseq_ = 0;
  int register_expires_ = 0;
  client_loop::timer_id reregister_timer_ = 0;
  uint32_t next_envid_ = 0;

  // Provisioning and session.
  std::string subscribe_call_id_;
  std::string subscribe_tag_;
  client_loop::timer_id provisioning_timer_ = 0;
  bool provisioned_ = false;
  provisioning_info provisioning_;
  std::string pool_uri_;
  std::string channel_uri_;
  dialog lookup_;
  dialog channel_;
  int session_expires_ = 0;
  client_loop::timer_id refresh_timer_ = 0;
  uint64_t requri_command_ = 0;
  int sign_out_pending_ = 0;

  std::unordered_map<std::string, transaction> transactions_;  // key: Call-ID, CSeq, method
  std::unordered_map<uint64_t, pending_command> pending_;
  std::unordered_map<uint32_t, uint64_t> pending_by_envid_;
  std::map<uint64_t, command_result> history_;
  std::map<uint64_t, command_result> retained_;
  uint64_t next_command_ = 1;
  // UDP: responses to recent server requests, to answer their retransmissions.
  std::deque<std::pair<std::string, std::string>> recent_responses_;

  std::map<std::string, room_state> rooms_;
  std::deque<chat_post> messages_;
  uint64_t message_seq_ = 0;
  std::deque<roster_event> roster_;
  uint64_t roster_seq_ = 0;
  std::deque<xccos_reply> unsolicited_;
  std::vector<std::string> faults_;
  client_stats stats_;
};

}  // namespace pchat::client
