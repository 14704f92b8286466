// The file store: the bytes of files uploaded to rooms, on disk as <root>/<room_id>/<blob>.
// Their metadata (name, size, uploader) is a file_record in the store (store.h add_file).
//
// Durability: put() writes a temporary name, fsyncs it, renames it into place and fsyncs
// the directory before it returns, so a blob that put() reported is complete and survives
// a crash; a crash during put() leaves at most a "*.tmp" file, which get() never returns.
//
// Thread-safe: no shared state (blob names are random).
#pragma once

#include <string>
#include <string_view>

#include "storage/status.h"

namespace pchat::storage {

class file_store {
 public:
  explicit file_store(std::string root) : root_(std::move(root)) {}

  // Stores `bytes` for the room; *blob receives the new file's name: a random GUID plus
  // `extension` (".txt", or "" for none) when it is 1..16 letters or digits, as Lync names
  // stored files (compliance output shows this name).
  // REQUIRES: room_id is a valid store id without '/' (invalid_argument otherwise).
  // io_error names the path and the failing call (a full disk is ENOSPC here).
  status put(const std::string& room_id, std::string_view bytes, std::string_view extension,
             std::string* blob) const;
  // Reads a stored blob whole. not_found if it does not exist.
  status get(const std::string& room_id, const std::string& blob, std::string* bytes) const;
  // Deletes one blob (an upload whose record was never written). Absent is not an error.
  status remove(const std::string& room_id, const std::string& blob) const;
  // Deletes every file of the room (Remove-CsPersistentChatRoom). Absent is not an error.
  status remove_room(const std::string& room_id) const;

 private:
  std::string room_dir(const std::string& room_id) const { return root_ + "/" + room_id; }
  std::string root_;
};

}  // namespace pchat::storage
