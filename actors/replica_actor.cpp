#include "actors/replica_actor.h"

#include <caf/all.hpp>

#include <algorithm>
#include <memory>

#include "actors/messages.h"
#include "log/log.h"

namespace pchat::actors {
namespace {

struct replica_inputs {
  caf::actor commit;
  caf::actor reader;
  std::chrono::milliseconds timeout;
  caf::actor files;  // this node's file replica (may be invalid: no file service)
};

// One rpull in progress: the requester's promise and where the copy stands.
struct pull_job {
  caf::response_promise rp;
  std::string room_id;
  uint64_t epoch = 0;
  caf::actor source;
  uint64_t from = 1;
  bool full = false;     // the next written chunk is the first of a full copy
  uint64_t last = 0;     // highest seq copied
};

// Relays `xs` to `to` and hands its answer (or error) to `rp`: the replica answers remote
// senders itself, never the detached actor behind it.
// `Rs`: the answer's types.
template <class... Rs>
struct answer {};

template <class... Rs, class... Ts>
void relay(caf::event_based_actor* self, const caf::actor& to, std::chrono::milliseconds timeout,
           caf::response_promise rp, answer<Rs...>, Ts&&... xs) {
  self->request(to, timeout, std::forward<Ts>(xs)...)
      .then([rp](Rs&... rs) mutable { rp.deliver(std::move(rs)...); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}
using seq_answer = answer<uint64_t>;

void pull_step(caf::event_based_actor* self, const replica_inputs& in, std::shared_ptr<pull_job> job) {
  self->request(job->source, in.timeout, rcopy_atom::value, job->room_id, job->from,
                static_cast<uint64_t>(kCopyChunk))
      .then(
          [self, in, job](std::vector<storage::message_record>& chunk) {
            bool done = chunk.size() < kCopyChunk;
            if (!chunk.empty()) {
              job->last = chunk.back().seq;
              job->from = chunk.back().seq + 1;
            }
            if (chunk.empty() && !job->full) {
              // Nothing (more) to write: the log is complete at the epoch.
              self->request(in.commit, in.timeout, logmark_atom::value, job->room_id, job->epoch)
                  .then([job](uint64_t) mutable { job->rp.deliver(job->last); },
                        [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
              return;
            }
            // The chunk's kept compliance events come with it (docs/POOL.md "Compliance
            // across the pool"): whoever owns the room next delivers what is undelivered.
            auto write = [self, in, job, done](std::vector<storage::message_record>& chunk,
                                               std::vector<storage::compliance_record>& events) {
              bool full = job->full;
              job->full = false;
              self->request(in.commit, in.timeout, logcopy_atom::value, job->room_id, job->epoch,
                            std::move(chunk), full, std::move(events))
                  .then(
                      [self, in, job, done](uint64_t) {
                        if (!done) return pull_step(self, in, job);
                        self->request(in.commit, in.timeout, logmark_atom::value, job->room_id, job->epoch)
                            .then([job](uint64_t) mutable { job->rp.deliver(job->last); },
                                  [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
                      },
                      [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
            };
            if (chunk.empty()) {
              std::vector<storage::compliance_record> none;
              return write(chunk, none);
            }
            uint64_t first = chunk.front().seq, last = chunk.back().seq;
            self->request(job->source, in.timeout, rcopy_atom::value, job->room_id, first, last, caf::ok_atom::value)
                .then(
                    [write, chunk](std::vector<storage::compliance_record>& events) mutable { write(chunk, events); },
                    [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
          },
          [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
}

// One fpull in progress: the files to copy from the source and where the copy stands.
struct file_pull_job {
  caf::response_promise rp;
  std::string room_id;
  caf::actor source;
  std::vector<storage::file_record> missing;
  size_t next = 0;      // the file being copied
  uint64_t offset = 0;  // its bytes held here so far
  uint64_t copied = 0;
};

// Copies job->missing[next..] one chunk per step: fget from the source, fship to this
// node's file replica (the same intake as an upload's chunks: the last one makes the blob
// and writes the record, synced).
void file_pull_step(caf::event_based_actor* self, const replica_inputs& in,
                    std::shared_ptr<file_pull_job> job) {
  if (job->next >= job->missing.size()) return job->rp.deliver(job->copied);
  const storage::file_record& want = job->missing[job->next];
  self->request(job->source, in.timeout, fget_atom::value, job->room_id, want.id, job->offset)
      .then(
          [self, in, job](storage::file_record& f, std::string& bytes) {
            const storage::file_record& want = job->missing[job->next];
            bool last = job->offset + bytes.size() >= f.size;
            if (f.id != want.id || f.room_id != job->room_id || (bytes.empty() && !last))
              return job->rp.deliver(make_error(errc::storage_failure,
                                                "file " + std::to_string(want.id) + " of room " +
                                                    job->room_id + ": the source sent no bytes"));
            uint64_t got = bytes.size();
            self->request(in.files, in.timeout, fship_atom::value, std::move(f), job->offset,
                          std::move(bytes), last)
                .then(
                    [self, in, job, got, last](uint64_t) {
                      if (last) {
                        ++job->copied;
                        ++job->next;
                        job->offset = 0;
                      } else {
                        job->offset += got;
                      }
                      file_pull_step(self, in, job);
                    },
                    [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
          },
          [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
}

// A source that does not list the room's files within this is left out at once (a paused
// node still in the view): the room's follower waits for the pull, its posts with it.
constexpr std::chrono::milliseconds kListTimeout{2000};

// fpull: the source's list and this node's, then every file missing here, in turn.
void file_pull(caf::event_based_actor* self, const replica_inputs& in,
               std::shared_ptr<file_pull_job> job) {
  self->request(job->source, std::min(in.timeout, kListTimeout), flist_atom::value, job->room_id)
      .then(
          [self, in, job](std::vector<storage::file_record>& theirs) {
            self->request(in.files, in.timeout, flist_atom::value, job->room_id)
                .then(
                    [self, in, job, theirs](std::vector<storage::file_record>& ours) {
                      for (const auto& f : theirs)
                        if (std::none_of(ours.begin(), ours.end(),
                                         [&](const auto& o) { return o.id == f.id; }))
                          job->missing.push_back(f);
                      if (!job->missing.empty())
                        PCHAT_LOG(info, "files", "copying a room's files from another node",
                                  "room=" + job->room_id +
                                      " files=" + std::to_string(job->missing.size()));
                      file_pull_step(self, in, job);
                    },
                    [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
          },
          [job](caf::error& err) mutable { job->rp.deliver(std::move(err)); });
}

caf::behavior replica_actor(caf::event_based_actor* self, replica_inputs in) {
  return {
      [=](ship_atom, const std::string& room_id, uint64_t epoch, storage::message_record& m) {
        auto rp = self->make_response_promise();
        relay(self, in.commit, in.timeout, rp, seq_answer{}, rlogput_atom::value, room_id, epoch, std::move(m));
        return rp;
      },
      [=](ship_atom, const std::string& room_id, uint64_t epoch, storage::message_record& m,
          storage::compliance_record& e) {
        auto rp = self->make_response_promise();
        relay(self, in.commit, in.timeout, rp, seq_answer{}, rlogput_atom::value, room_id, epoch, std::move(m), std::move(e));
        return rp;
      },
      [=](rstate_atom, const std::string& room_id) {
        auto rp = self->make_response_promise();
        relay(self, in.reader, in.timeout, rp, answer<uint64_t, uint64_t, bool>{}, rdstate_atom::value, room_id);
        return rp;
      },
      // A take-over's fencing prepare: the new owner's epoch is stored (synced) before the
      // position is read, so from the answer on this node refuses every older owner's ship,
      // and whatever it accepted before is in the position the new owner compares.
      [=](rstate_atom, const std::string& room_id, uint64_t epoch) {
        auto rp = self->make_response_promise();
        self->request(in.commit, in.timeout, logcopy_atom::value, room_id, epoch,
                      std::vector<storage::message_record>{}, false)
            .then(
                [=](uint64_t) mutable {
                  relay(self, in.reader, in.timeout, rp, answer<uint64_t, uint64_t, bool>{}, rdstate_atom::value,
                        room_id);
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [=](rcopy_atom, const std::string& room_id, uint64_t from, uint64_t max) {
        auto rp = self->make_response_promise();
        relay(self, in.reader, in.timeout, rp, answer<std::vector<storage::message_record>>{}, rdfrom_atom::value, room_id, std::max<uint64_t>(from, 1),
              std::min<uint64_t>(max, kCopyChunk));
        return rp;
      },
      [=](rcopy_atom, const std::string& room_id, uint64_t from, uint64_t to, caf::ok_atom) {
        auto rp = self->make_response_promise();
        relay(self, in.reader, in.timeout, rp, answer<std::vector<storage::compliance_record>>{}, rdfrom_atom::value,
              room_id, std::max<uint64_t>(from, 1), std::min<uint64_t>(to, from + kCopyChunk - 1), caf::ok_atom::value);
        return rp;
      },
      [=](rpull_atom, const std::string& room_id, uint64_t epoch, const caf::actor& source, uint64_t from,
          bool full) {
        auto job = std::make_shared<pull_job>();
        job->rp = self->make_response_promise();
        job->room_id = room_id;
        job->epoch = epoch;
        job->source = source;
        job->from = full ? 1 : std::max<uint64_t>(from, 1);
        job->full = full;
        job->last = job->from - 1;
        if (!source) {
          job->rp.deliver(make_error(errc::bad_request, "rpull: no source replica"));
          return job->rp;
        }
        pull_step(self, in, job);
        return job->rp;
      },
      // Files (docs/POOL.md "Uploaded files in a pool"): from another node, to this node's
      // file replica; from this node's file api, on to another node's replica.
      [=](fship_atom, storage::file_record& f, uint64_t offset, std::string& bytes, bool last) {
        auto rp = self->make_response_promise();
        if (!in.files) return rp.deliver(make_error(errc::not_found, "this node keeps no files")), rp;
        relay(self, in.files, in.timeout, rp, seq_answer{}, fship_atom::value, std::move(f), offset, std::move(bytes), last);
        return rp;
      },
      [=](fship_atom, const caf::actor& to, storage::file_record& f, uint64_t offset, std::string& bytes, bool last) {
        auto rp = self->make_response_promise();
        relay(self, to, in.timeout, rp, seq_answer{}, fship_atom::value, std::move(f), offset, std::move(bytes), last);
        return rp;
      },
      [=](fget_atom, const std::string& room_id, uint64_t id, uint64_t offset) {
        auto rp = self->make_response_promise();
        if (!in.files) return rp.deliver(make_error(errc::not_found, "this node keeps no files")), rp;
        relay(self, in.files, in.timeout, rp, answer<storage::file_record, std::string>{}, fget_atom::value, room_id, id, offset);
        return rp;
      },
      [=](fget_atom, const caf::actor& from, const std::string& room_id, uint64_t id, uint64_t offset) {
        auto rp = self->make_response_promise();
        relay(self, from, in.timeout, rp, answer<storage::file_record, std::string>{}, fget_atom::value, room_id, id, offset);
        return rp;
      },
      [=](flist_atom, const std::string& room_id) {
        auto rp = self->make_response_promise();
        if (!in.files) return rp.deliver(std::vector<storage::file_record>{}), rp;  // keeps none
        relay(self, in.files, in.timeout, rp, answer<std::vector<storage::file_record>>{},
              flist_atom::value, room_id);
        return rp;
      },
      [=](flist_atom, const caf::actor& to, const std::string& room_id) {
        auto rp = self->make_response_promise();
        relay(self, to, in.timeout, rp, answer<std::vector<storage::file_record>>{},
              flist_atom::value, room_id);
        return rp;
      },
      [=](fdel_atom, const std::string& room_id, uint64_t id) {
        auto rp = self->make_response_promise();
        if (!in.files) return rp.deliver(std::vector<storage::file_record>{}), rp;  // keeps none
        relay(self, in.files, in.timeout, rp, answer<std::vector<storage::file_record>>{},
              fdel_atom::value, room_id, id);
        return rp;
      },
      [=](fdel_atom, const caf::actor& to, const std::string& room_id, uint64_t id) {
        auto rp = self->make_response_promise();
        relay(self, to, in.timeout, rp, answer<std::vector<storage::file_record>>{},
              fdel_atom::value, room_id, id);
        return rp;
      },
      [=](fpull_atom, const std::string& room_id, const caf::actor& source) {
        auto job = std::make_shared<file_pull_job>();
        job->rp = self->make_response_promise();
        job->room_id = room_id;
        job->source = source;
        if (!in.files) return job->rp.deliver(uint64_t{0}), job->rp;  // this node keeps no files
        if (!source)
          return job->rp.deliver(make_error(errc::bad_request, "fpull: no source replica")),
                 job->rp;
        file_pull(self, in, job);
        return job->rp;
      },
      [=](rmark_atom, const std::string& room_id, uint64_t epoch) {
        auto rp = self->make_response_promise();
        relay(self, in.commit, in.timeout, rp, seq_answer{}, logmark_atom::value, room_id, epoch);
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_replica_actor(caf::actor_system& sys, caf::actor commit, caf::actor reader,
                               std::chrono::milliseconds request_timeout, caf::actor files) {
  return sys.spawn(replica_actor, replica_inputs{std::move(commit), std::move(reader), request_timeout, std::move(files)});
}

}  // namespace pchat::actors
