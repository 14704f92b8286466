// The file store: the bytes of files uploaded to rooms, on disk as <root>/<room_id>/<blob>.
// Their metadata (name, size, uploader) is a file_record in the store (store.h add_file).
//
// Durability: an upload is written to a temporary file (<root>/.incoming/*.tmp, as it
// arrives: begin()), fsynced, renamed into place and the directory fsynced before commit()
// (or put()) returns, so a blob that was reported is complete and survives a crash; a crash
// before that leaves at most a temporary file, which get() and open() never return and
// discard_unfinished() removes.
//
// Thread-safe: no shared state (blob names are random); one writer is used by one thread
// at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "status/status.h"

namespace pchat::storage {

class file_store {
 public:
  explicit file_store(std::string root) : root_(std::move(root)) {}

  // One upload being written, its bytes on disk as they arrive (a server's memory stays flat
  // whatever the size). Destroyed without commit(): the temporary file is removed.
  class writer {
   public:
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;
    // io_error names the temporary file and the failing call (ENOSPC for a full disk).
    status append(std::string_view bytes);
    uint64_t size() const { return size_; }
    // Makes the bytes the room's new blob, durably (fsync, rename, fsync of the folders);
    // *blob receives its name, as put() names it. REQUIRES: at most once; room_id as put().
    status commit(const std::string& room_id, std::string_view extension, std::string* blob);

   private:
    friend class file_store;
    writer(const file_store* store, int fd, std::string tmp) : store_(store), fd_(fd), tmp_(std::move(tmp)) {}
    const file_store* store_;  // outlived by the store (REQUIRES of begin())
    int fd_;
    std::string tmp_;
    uint64_t size_ = 0;
    bool failed_ = false;
  };

  // Starts an upload. REQUIRES: this store outlives *out.
  status begin(std::unique_ptr<writer>* out) const;
  // Removes the temporary files of uploads a crash or a stop interrupted (at start, before
  // any upload begins).
  status discard_unfinished() const;

  // Stores `bytes` for the room; *blob receives the new file's name: a random GUID plus
  // `extension` (".txt", or "" for none) when it is 1..16 letters or digits, as Lync names
  // stored files (compliance output shows this name).
  // REQUIRES: room_id is a valid store id without '/' (invalid_argument otherwise).
  // io_error names the path and the failing call (a full disk is ENOSPC here).
  status put(const std::string& room_id, std::string_view bytes, std::string_view extension,
             std::string* blob) const;
  // Reads a stored blob whole. not_found if it does not exist.
  status get(const std::string& room_id, const std::string& blob, std::string* bytes) const;
  // Opens a stored blob to be read in pieces (downloads): *fd (the caller closes it) and
  // its *size. not_found if it does not exist.
  status open(const std::string& room_id, const std::string& blob, int* fd, uint64_t* size) const;
  // Deletes one blob (an upload whose record was never written). Absent is not an error.
  status remove(const std::string& room_id, const std::string& blob) const;
  // Deletes every file of the room (Remove-CsPersistentChatRoom). Absent is not an error.
  status remove_room(const std::string& room_id) const;

 private:
  std::string room_dir(const std::string& room_id) const { return root_ + "/" + room_id; }
  std::string incoming_dir() const { return root_ + "/.incoming"; }
  std::string root_;
};

}  // namespace pchat::storage
