#include "actors/node_metrics.h"

#include <caf/all.hpp>

#include "actors/messages.h"

namespace pchat::actors {

const char* name_of(post_outcome o) {
  switch (o) {
    case post_outcome::accepted: return "accepted";
    case post_outcome::not_found: return "not_found";
    case post_outcome::forbidden: return "forbidden";
    case post_outcome::not_joined: return "not_joined";
    case post_outcome::storage_failure: return "storage_failure";
    case post_outcome::bad_request: return "bad_request";
    case post_outcome::busy: return "busy";
    case post_outcome::quota_exceeded: return "quota_exceeded";
    case post_outcome::moved: return "moved";
    case post_outcome::timeout: return "timeout";
    case post_outcome::room_down: return "room_down";
    case post_outcome::other:
    case post_outcome::count_: break;
  }
  return "other";
}

namespace {

post_outcome outcome_of(const caf::error& err) {
  if (err.category() == caf::atom("pchat")) {  // ours (messages.cpp: make_error); no copy
    switch (static_cast<errc>(err.code())) {
      case errc::not_found: return post_outcome::not_found;
      case errc::forbidden: return post_outcome::forbidden;
      case errc::not_joined: return post_outcome::not_joined;
      case errc::storage_failure: return post_outcome::storage_failure;
      case errc::bad_request: return post_outcome::bad_request;
      case errc::busy: return post_outcome::busy;
      case errc::quota_exceeded: return post_outcome::quota_exceeded;
      case errc::moved: return post_outcome::moved;
    }
    return post_outcome::other;
  }
  if (err == caf::sec::request_timeout) return post_outcome::timeout;
  if (err == caf::sec::request_receiver_down) return post_outcome::room_down;
  return post_outcome::other;
}

}  // namespace

void node_metrics::count_post(const caf::error* err) noexcept {
  post_outcome o = err == nullptr ? post_outcome::accepted : outcome_of(*err);
  posts[static_cast<size_t>(o)].add();
}

}  // namespace pchat::actors
