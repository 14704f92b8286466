// The chat directory (directory CF, keys.h category_key / room_key / addin_key /
// invite_key): categories, rooms (with their name index), registered add-ins and the
// invitations sent to users when they are added to a room with invitations on.
//
// Validation before any write: invalid_argument for an id that is empty or holds 0x00, an
// empty name, a name or description over 256 characters (UTF-8 code points), a bad add-in;
// already_exists when another category (resp. room) has the same name, compared
// case-insensitively (ASCII letters only). Rooms do not have to name an existing category.
// Each change is one synced write through the writer; delete_* is not_found if absent.
//
// Thread safety: any thread. Check-then-write changes of categories and rooms are
// serialised by a lock of this class, so two writers cannot both pass the name check and no
// room appears in a category while it is deleted. Ownership: borrows the db, the writer,
// the message log and the file index (a room's deletion takes its messages and files).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/id_sequence.h"
#include "storage/records.h"
#include "status/status.h"

namespace pchat::storage {

class db;
class writer;
class message_log;
class file_index;

class directory {
 public:
  // Reads the highest stored invitation id, so new ids never repeat one: corruption on a
  // malformed invitation key, or the read's failure.
  static status open(db& d, writer& w, const message_log& messages, const file_index& files,
                     std::unique_ptr<directory>* out);

  // ---- categories: put inserts or replaces by id.
  status put_category(const category_record& c);
  status get_category(const std::string& id, category_record* out) const;
  status list_categories(std::vector<category_record>* out) const;
  // invalid_argument "category not empty" while any room's category_id is `id`.
  status delete_category(const std::string& id);

  // ---- rooms: put inserts or replaces by id.
  status put_room(const room_record& r);
  status get_room(const std::string& id, room_record* out) const;
  status list_rooms(std::vector<room_record>* out) const;
  // The id of the room with this name (names are unique, case-insensitively); not_found.
  status find_room_by_name(const std::string& name, std::string* id) const;
  // Deletes the room record, all of its messages and its file records in one synced write.
  status delete_room(const std::string& id);

  // ---- add-ins: name 1..50 characters, url http(s):// up to 255 (reference §2.6).
  status put_addin(const addin_record& a);
  status get_addin(const std::string& name, addin_record* out) const;
  status list_addins(std::vector<addin_record>* out) const;
  status delete_addin(const std::string& name);

  // ---- invitations
  // Stores the invitations in one synced write, assigning each a unique increasing id
  // (microseconds of now, bumped past the last one handed out); fills the ids in.
  status put_invitations(std::vector<invitation_record>* invites);
  // The user's invitations with id > after_id, oldest first, at most `limit`.
  status list_invitations(const std::string& user, uint64_t after_id, size_t limit,
                          std::vector<invitation_record>* out) const;

  // Rooms were written behind this family's back (a pool node applied another node's
  // change, shared_writes.h): the room name index is read again on its next use. Takes no
  // lock (the applying thread calls it while a writer of this family may wait for it).
  void forget_room_names() { room_names_stale_.store(true, std::memory_order_release); }

 private:
  directory(db& d, writer& w, const message_log& messages, const file_index& files, uint64_t last_invite);
  status load_room_names_locked() const;  // REQUIRES: mu_ held; builds the index once

  db& db_;
  writer& writer_;
  const message_log& messages_;
  const file_index& files_;
  id_sequence invite_ids_;
  // Held across check-then-write of categories and rooms (see the top of this file).
  mutable std::mutex mu_;
  // Room name index (folded name -> id, id -> folded name), GUARDED_BY(mu_), built on first
  // use: keeps the uniqueness check O(1) when creating tens of thousands of rooms instead of
  // re-reading the whole directory per room.
  mutable bool room_names_loaded_ = false;
  mutable std::atomic<bool> room_names_stale_{false};  // forget_room_names() was called
  mutable std::unordered_map<std::string, std::string> room_by_name_;
  mutable std::unordered_map<std::string, std::string> name_by_room_;
};

}  // namespace pchat::storage
