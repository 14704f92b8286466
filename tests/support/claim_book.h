// A stand-in for etcd's room claims (docs/POOL.md "Room epoch") for in-process pool tests
// that run no etcd: the pool actor's claim message (messages.h claim_atom) answered the way
// actors/pool_actor.h answers it. The first claim of a free room wins a new, higher revision
// (its epoch); the holder claiming again gets the same epoch; anyone else is refused with
// the holder's name (errc::forbidden); a release deletes the claim of its epoch only. One
// book is shared by every node of a test; it can fail releases (failing_releases).
//
// Threads: the book is locked; claim_double actors run on any CAF worker.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "actors/messages.h"

namespace pchat::testing {

struct claim_book {
  std::mutex mu;
  uint64_t revision = 100;
  std::map<std::string, std::pair<std::string, uint64_t>> rooms;  // room -> holder, epoch
  // The next this many releases fail (etcd not reached: errc::busy, as the pool actor), deleting nothing.
  int failing_releases = 0;
  int releases_refused = 0;  // how many failed so far
  // The holder's lease is gone (it died, or was cut off): the room may be claimed again.
  void release(const std::string& room) {
    std::lock_guard<std::mutex> l(mu);
    rooms.erase(room);
  }
};

// The claims of node `node` (put it in the node's own view entry: node_entry::pool).
inline caf::behavior claim_double(caf::event_based_actor*, std::shared_ptr<claim_book> book, std::string node) {
  return {[=](actors::claim_atom, const std::string& room) -> caf::result<uint64_t> {
    std::lock_guard<std::mutex> l(book->mu);
    auto it = book->rooms.find(room);
    if (it == book->rooms.end()) {
      book->rooms[room] = {node, ++book->revision};
      return book->revision;
    }
    if (it->second.first == node) return it->second.second;
    return actors::make_error(actors::errc::forbidden, it->second.first);
  },
  // The claim of `epoch` is deleted (a newer one stays), as the pool actor's release.
  [=](actors::release_atom, const std::string& room, uint64_t epoch) -> caf::result<caf::ok_atom> {
    std::lock_guard<std::mutex> l(book->mu);
    if (book->failing_releases > 0) {
      --book->failing_releases;
      ++book->releases_refused;
      return actors::make_error(actors::errc::busy, "etcd not reached (claim_book::failing_releases)");
    }
    auto it = book->rooms.find(room);
    if (it != book->rooms.end() && it->second.second == epoch) book->rooms.erase(it);
    return caf::ok_atom::value;
  }};
}

}  // namespace pchat::testing
