#include "app/pool_files.h"

#include <caf/all.hpp>

#include <algorithm>
#include <utility>

#include "actors/messages.h"
#include "actors/pool_view.h"
#include "actors/server_context.h"
#include "log/log.h"
#include "storage/database.h"
#include "storage/file_store.h"

namespace pchat::app {
namespace {

// Sends (atom, xs...) to every other live node's replica at once, relayed by this node's
// replica ((atom, target replica, xs...)); `take(name, records)` for each answer, the
// silent ones' names appended to *silent.
template <class Take, class Atom, class... Ts>
void ask_every_node(caf::actor_system& sys, const actors::server_context& ctx,
                    std::vector<std::string>* silent, Take take, Atom atom, const Ts&... xs) {
  auto view = ctx.pool ? ctx.pool->current() : nullptr;
  if (!view || !ctx.replica) return;
  caf::scoped_actor self{sys};
  using handle =
      decltype(self->request(ctx.replica, ctx.request_timeout, atom, caf::actor{}, xs...));
  std::vector<std::pair<std::string, handle>> asked;
  for (const auto& n : view->live)
    if (n.name != view->self && n.replica)
      asked.emplace_back(n.name,
                         self->request(ctx.replica, ctx.request_timeout, atom, n.replica, xs...));
  for (auto& [name, answer] : asked)
    answer.receive([&](std::vector<storage::file_record>& records) { take(name, records); },
                   [&](caf::error& err) {
                     PCHAT_LOG(warn, "files", "a node did not answer about a room's files",
                               "node=" + name + " error=" + log::quote(sys.render(err)));
                     if (silent) silent->push_back(name);
                   });
}

}  // namespace

status pool_list_files(caf::actor_system& sys, const actors::server_context& ctx,
                       const std::string& room_id, std::vector<storage::file_record>* out,
                       std::vector<std::string>* silent) {
  std::vector<storage::file_record> all;
  if (auto s = ctx.store->files().list(room_id, &all); !s.is_ok()) return s;
  if (!ctx.pool) {
    *out = std::move(all);
    return status::ok();
  }
  ask_every_node(
      sys, ctx, silent,
      [&](const std::string&, std::vector<storage::file_record>& theirs) {
        for (auto& f : theirs)
          if (f.room_id == room_id &&
              std::none_of(all.begin(), all.end(), [&](const auto& o) { return o.id == f.id; }))
            all.push_back(std::move(f));
      },
      actors::flist_atom::value, room_id);
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.ts_micros, a.id) < std::make_pair(b.ts_micros, b.id);
  });
  *out = std::move(all);
  return status::ok();
}

status pool_remove_file(caf::actor_system& sys, const actors::server_context& ctx,
                        const std::string& room_id, uint64_t id,
                        std::vector<storage::file_record>* removed,
                        std::vector<std::string>* silent) {
  removed->clear();
  storage::file_record f;
  if (auto s = ctx.store->files().get(room_id, id, &f); s.is_ok()) {
    // Record first: once it is gone nobody can be handed the bytes, then the bytes.
    if (auto r = ctx.store->files().remove(f.room_id, f.id); !r.is_ok()) return r;
    if (auto r = storage::file_store(ctx.files_dir).remove(f.room_id, f.blob); !r.is_ok())
      PCHAT_LOG(warn, "files", "file record removed but its bytes stay",
                "path=" + log::quote(ctx.files_dir + "/" + f.room_id + "/" + f.blob) + " error=" +
                    log::quote(r.to_string()) + " action=" + log::quote("delete it by hand"));
    removed->push_back(std::move(f));
  } else if (!s.is_not_found()) {
    return s;
  }
  ask_every_node(
      sys, ctx, silent,
      [&](const std::string&, std::vector<storage::file_record>& gone) {
        for (auto& g : gone) removed->push_back(std::move(g));
      },
      actors::fdel_atom::value, room_id, id);
  return status::ok();
}

}  // namespace pchat::app
