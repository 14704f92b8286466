// How the outcome of a client's XCCOS command becomes its answer: the one mapping used by
// whoever holds the command's INFO (messages.h, "Who answers an INFO"): the session for
// every command, the room for a post handed to it.
//
//   done:   SIP 200, then the command's reply INFO (none for an accepted post: its echo
//           in the fan-out is the reply)
//   error:  SIP 200 with the error inside XCCOS (xccos-wire.md §4.5: a non-200 makes SIPE
//           schedule UPDATEs): our errc by its code, an actor that did not answer in time
//           or is gone as 503 "retry", anything else as 500
//   a write the store refused (errc::storage_failure for a post or setpref): SIP 503 and
//           no reply INFO: nothing was stored, the client sends it again
#pragma once

#include <caf/fwd.hpp>

#include <string>

#include "protocol/sip/sip_endpoint.h"
#include "protocol/xccos/xccos_codec.h"

namespace pchat::actors {

struct info_answer {
  int sip_code = 200;
  std::string reply;  // the reply INFO's body; "" for none
};

// What a command stands for: a write (a post, setpref) turns a store failure into SIP 503.
enum class command_effect { read, write };

// The answer to the command `command_id` ("cmd:join", "grpchat", ...) whose reply head is
// `h` (id, envid, seqid, the reply's envid) and which failed with `err`. `sys` renders the
// errors that are not ours.
info_answer error_answer(const std::string& command_id, xccos::reply_head h, const caf::error& err,
                         command_effect effect, caf::actor_system& sys);

// Sends `a` for the INFO `txn` of dialog `dialog`: the SIP response, then the reply INFO,
// both through the edge's one queue (the client sees them in that order).
void send_answer(sip::dialog_sender& edge, sip::txn_id txn, sip::dialog_id dialog, info_answer a);

}  // namespace pchat::actors
