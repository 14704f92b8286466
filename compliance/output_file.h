// Every on-disk name of the compliance output, and the one way its files are written.
//
//   final     := "pchat-compliance-" first "-" last [ "-" room ] "." ext
//   temporary := final ".tmp"
//   first, last := the batch's event sequence range, 20 decimal digits, zero-padded, so that
//                  names sort in delivery order
//   room      := the room id (the last path segment of its ma-chan URI), only with
//                OneChatRoomPerOutputFile; characters outside [A-Za-z0-9._-] become '_'
//   ext       := "xml" | "csv" | "ATTACH"
//
// A pool room's CHAT events (docs/POOL.md "Compliance across the pool") are named by the
// room and its message sequence range instead, the same on every node:
//   room range := "pchat-compliance-room-" room "-" first "-" last "." ext
//   pending    := room range ".pending"   (written and synced, not yet reserved in etcd)
//
// A final name only ever appears through rename(2) of a fully written and fsynced temporary
// file (then the directory is fsynced), so a final file is always complete.
#pragma once

#include "status/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace pchat::compliance {

std::string output_name(uint64_t first, uint64_t last, const std::string& room_id,
                        const std::string& ext);

// The room id of "ma-chan://domain/<id>" (the whole URI if it is not a room URI).
std::string room_id_of(const std::string& room_uri);

// True if `dir`/`name` exists.
bool output_exists(const std::string& dir, const std::string& name);

// Writes `content` to dir/name.tmp, fsyncs it, renames it to dir/name and fsyncs dir.
// Creates `dir` (with parents) if missing. Returns ok or io_error naming the path.
// Crash point "during_batch" fires after the temporary is synced, before the rename.
status write_atomically(const std::string& dir, const std::string& name,
                        const std::string& content);

// The room range name of `room_id`'s messages first..last (room as in output_name).
std::string room_range_name(const std::string& room_id, uint64_t first, uint64_t last,
                            const std::string& ext);
// Writes `content` to dir/name.pending and fsyncs it (creates `dir` if missing).
status write_pending(const std::string& dir, const std::string& name, const std::string& content);
// Renames dir/name.pending to dir/name and fsyncs dir. io_error if it fails.
status publish_pending(const std::string& dir, const std::string& name);
// Deletes dir/name.pending (absent: nothing).
void remove_pending(const std::string& dir, const std::string& name);
// The names (without ".pending") of every pending room range file in `dir`.
std::vector<std::string> pending_names(const std::string& dir);

// last of the first final name in `dir` whose range starts at `first`, or 0.
uint64_t find_range_end(const std::string& dir, uint64_t first);

// Deletes every "pchat-compliance-*.tmp" in `dir`; returns how many.
int remove_temporaries(const std::string& dir);

}  // namespace pchat::compliance
