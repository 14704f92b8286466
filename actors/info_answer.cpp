#include "actors/info_answer.h"

#include <caf/all.hpp>

#include <memory>

#include "actors/messages.h"

namespace pchat::actors {
namespace {

xccos::result_code to_code(errc e) {
  switch (e) {
    case errc::not_found: return xccos::result_code::not_found;
    case errc::forbidden:
    case errc::not_joined: return xccos::result_code::forbidden;
    case errc::bad_request: return xccos::result_code::bad_request;
    case errc::quota_exceeded: return xccos::result_code::too_large;
    case errc::storage_failure:
    case errc::moved:
    case errc::busy: return xccos::result_code::unavailable;
  }
  return xccos::result_code::internal_error;
}

}  // namespace

info_answer error_answer(const std::string& command_id, xccos::reply_head h, const caf::error& err,
                         command_effect effect, caf::actor_system& sys) {
  errc code;
  std::string reason;
  if (decode_error(err, &code, &reason)) {
    if (code == errc::storage_failure && effect == command_effect::write) return {503, {}};
    h.code = to_code(code);
    h.text = std::move(reason);
  } else if (err == caf::sec::request_timeout) {
    h.code = xccos::result_code::unavailable;
    h.text = "the server did not finish " + command_id + " in time; retry";
  } else if (err == caf::sec::request_receiver_down) {
    h.code = xccos::result_code::unavailable;
    h.text = "the server is restarting the room; retry";
  } else {
    h.code = xccos::result_code::internal_error;
    h.text = sys.render(err);
  }
  return {200, xccos::encode_empty_reply(h)};
}

void send_answer(sip::dialog_sender& edge, sip::txn_id txn, sip::dialog_id dialog, info_answer a) {
  edge.answer(txn, a.sip_code, dialog,
              a.reply.empty() ? nullptr : std::make_shared<const std::string>(std::move(a.reply)));
}

}  // namespace pchat::actors
