#include "actors/reader_actor.h"

#include <caf/all.hpp>

#include <algorithm>

#include "actors/messages.h"
#include "storage/database.h"

namespace pchat::actors {
namespace {

caf::error failed(const pchat::status& s) {
  return make_error(errc::storage_failure, "store read failed: " + s.to_string());
}

caf::behavior reader_actor(caf::event_based_actor*, const storage::database* store) {
  return {
      [=](rdload_atom, const std::string& room_id, const std::string& category_id, uint64_t n,
          uint64_t ids) -> caf::result<uint64_t, std::vector<storage::message_record>, bool,
                                       std::vector<storage::post_id>> {
        // A room without a category keeps history; one whose category cannot be read is not
        // loaded (the room refuses posts and reads again) rather than guessing the setting.
        bool chat_history = true;
        if (!category_id.empty()) {
          storage::category_record cat;
          if (auto s = store->directory().get_category(category_id, &cat); s.is_ok())
            chat_history = cat.chat_history;
          else if (!s.is_not_found())
            return failed(s);
        }
        uint64_t last = 0;
        if (auto s = store->messages().last_sequence(room_id, &last); !s.is_ok()) return failed(s);
        std::vector<storage::message_record> latest;
        if (auto s = store->messages().read_latest(room_id, std::min<uint64_t>(n, kMaxReadMessages), &latest);
            !s.is_ok())
          return failed(s);
        std::vector<storage::post_id> post_ids;
        if (auto s = store->messages().read_post_ids(room_id, std::min<uint64_t>(ids, kMaxReadMessages), &post_ids); !s.is_ok()) return failed(s);
        return {last, std::move(latest), chat_history, std::move(post_ids)};
      },
      [=](rdlatest_atom, const std::string& room_id,
          uint64_t n) -> caf::result<std::vector<storage::message_record>> {
        std::vector<storage::message_record> out;
        if (auto s = store->messages().read_latest(room_id, std::min<uint64_t>(n, kMaxReadMessages), &out);
            !s.is_ok())
          return failed(s);
        return out;
      },
      [=](rdfrom_atom, const std::string& room_id, uint64_t from,
          uint64_t limit) -> caf::result<std::vector<storage::message_record>> {
        std::vector<storage::message_record> out;
        if (auto s =
                store->messages().read_from(room_id, from, std::min<uint64_t>(limit, kMaxReadMessages), &out);
            !s.is_ok())
          return failed(s);
        return out;
      },
      [=](rdfrom_atom, const std::string& room_id, uint64_t from, uint64_t to,
          caf::ok_atom) -> caf::result<std::vector<storage::compliance_record>> {
        std::vector<storage::compliance_record> out;
        if (to < from) return out;
        if (auto s = store->messages().read_events(room_id, from, std::min<uint64_t>(to - from + 1, kMaxReadMessages), &out);
            !s.is_ok())
          return failed(s);
        while (!out.empty() && out.back().message_id > to) out.pop_back();
        return out;
      },
      [=](rdstate_atom, const std::string& room_id) -> caf::result<uint64_t, uint64_t, bool> {
        storage::room_log_state state;
        if (auto s = store->messages().read_state(room_id, &state); !s.is_ok()) return failed(s);
        uint64_t last = 0;
        if (auto s = store->messages().last_sequence(room_id, &last); !s.is_ok()) return failed(s);
        return {state.data_epoch, last, !state.copying};
      },
      [=](rdinv_atom, const std::string& user, uint64_t after)
          -> caf::result<std::vector<storage::invitation_record>, std::vector<std::string>> {
        std::vector<storage::invitation_record> found;
        if (auto s = store->directory().list_invitations(user, after, kMaxReadInvitations, &found); !s.is_ok())
          return failed(s);
        std::vector<std::string> names;
        names.reserve(found.size());
        for (auto& f : found) {
          storage::room_record room;
          names.push_back(store->directory().get_room(f.room_id, &room).is_ok() ? room.name : std::string());
        }
        return {std::move(found), std::move(names)};
      },
      [=](rdpref_atom, const std::string& user,
          const std::string& label) -> caf::result<std::string> {
        std::string value;
        auto s = store->preferences().get(user, label, &value);
        if (!s.is_ok() && !s.is_not_found()) return failed(s);
        return value;
      },
  };
}

}  // namespace

caf::actor spawn_reader_pool(caf::actor_system& sys, const storage::database* store) {
  return caf::actor_pool::make(
      sys.dummy_execution_unit(), kReaderThreads,
      [&sys, store] { return sys.spawn<caf::detached>(reader_actor, store); },
      caf::actor_pool::round_robin());
}

}  // namespace pchat::actors
