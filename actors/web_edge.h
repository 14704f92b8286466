// web_edge: the node's edge as its rooms see it once browsers take part (docs/WEB.md). A
// web session (actors/web_session_actor.h) is a room member like a SIP session: it joins
// with a dialog id and posts with a transaction id, and the room answers and fans out to
// those ids through server_context::edge as for any member. web_edge sits in front of the
// SIP edge and takes the ids it handed out (local part with bit 47 set; the SIP edge counts
// from 1 and never gets there): what a room sends to them becomes a message to the web
// session that owns them (web_answer_atom, web_info_atom); every other id goes on to the
// SIP edge unchanged. In a pool it is the local sender behind pool_edge, so rooms on other
// nodes reach a browser here as they reach a SIP client.
//
// A post's answer reaches its session whole (one web_answer_atom): the 200 with the post's
// echo (respond_then_send_info_many), the 200 or 503 alone, or the 200 with an XCCOS error
// reply (answer()): so the session says "acknowledged" only for a post the room accepted.
//
// Threads: every method from any thread (a mutex guards the tables; sends are CAF's).
#pragma once

#include <caf/actor.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/sip/sip_endpoint.h"

namespace pchat::actors {

class web_edge final : public sip::dialog_sender {
 public:
  static constexpr uint64_t kWebBit = uint64_t{1} << 47;
  // True for an id web_edge handed out (tagged or not).
  static bool is_web(uint64_t id) { return (id & kWebBit) != 0; }

  // REQUIRES: `next` (the SIP edge, or a test's recorder) outlives this.
  explicit web_edge(sip::dialog_sender& next) : next_(next) {}

  // A new dialog id (untagged) for the web session `session` of `user` (lower-case URI).
  uint64_t open_dialog(const caf::actor& session, const std::string& user);
  // The dialog and its transactions are gone: what the rooms still send to them is dropped.
  void close_dialog(uint64_t dialog);
  // A new transaction id (untagged) for a post of `dialog`; forgotten once answered.
  uint64_t new_txn(uint64_t dialog);
  // Ends the web sessions of `user` (closed_atom with `reason`): revocation.
  void end_user(const std::string& user, const std::string& reason);
  // Ends every web session (closed_atom with kServerStopping, actors/web_session_actor.h):
  // their sockets close with 1001 and their pages reconnect. Before the HTTP server stops.
  void end_all();
  // Open web dialogs now (metrics, tests), and those of `user`.
  size_t dialogs() const;
  size_t dialogs_of(const std::string& user) const;

  void respond(sip::txn_id txn, int code) override;
  void send_info(sip::dialog_id d, std::shared_ptr<const std::string> body) override;
  void send_info_many(std::vector<sip::dialog_id> targets, std::shared_ptr<const std::string> body) override;
  void respond_then_send_info_many(sip::txn_id txn, int code, std::vector<sip::dialog_id> targets,
                                   std::shared_ptr<const std::string> body) override;
  void answer(sip::txn_id txn, int code, sip::dialog_id d, std::shared_ptr<const std::string> reply) override;

 private:
  struct dialog {
    caf::actor session;
    std::string user;
  };
  // The session owning `txn`, forgetting the txn (invalid if unknown). The mutex is held.
  caf::actor take_txn(uint64_t txn, uint64_t* dialog_out);
  // Moves the web ids of `targets` out into the sessions they name (their order kept).
  std::vector<std::pair<uint64_t, caf::actor>> split(std::vector<sip::dialog_id>& targets);

  sip::dialog_sender& next_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, dialog> dialogs_;  // by untagged id
  std::unordered_map<uint64_t, uint64_t> txns_;   // txn -> its dialog
};

}  // namespace pchat::actors
