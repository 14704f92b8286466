// Every message exchanged between pchat actors, declared once.
//
// Actors (one concept each):
//   sip_bridge      (not an actor) SIP thread -> session actors
//   session_actor   one per channel dialog: decodes XCCOS, answers the client
//   directory_actor detached; room URI -> room actor, spawning on demand; room search;
//                   category/room creation (the only writer of the directory)
//   room_actor      one per active room: sequence, roster, back-chat cache, fan-out
//   reader_actor    a pool of detached readers: the blocking store reads of rooms and sessions
//   commit_actor    detached; group-commits posts and prefs with one fsync per batch;
//                   the single writer of compliance events (assigns their sequence)
//   compliance runner (compliance_runner_actor.h) detached; staged events -> adapter
//                   (compliance/) -> delete after success
//
// Each line: message shape  | sender -> receiver | reply.
// Errors travel as caf::error in category "pchat" (see errc below) with a reason string.
//
// Who answers an INFO. Every INFO the edge hands over (info_atom) is a SIP transaction that
// gets exactly one final response, whatever its outcome: success, refusal, error, timeout,
// stop. At every moment exactly one actor holds it, and that actor answers every outcome,
// through the one mapping of info_answer.h:
//   - the session holds each INFO from info_atom on, and answers it when the command's work
//     is done or its request_timeout (commit_timeout for setpref) expires; at close (closed)
//     it answers 481 to every INFO it still holds;
//   - a post is handed over: the session sends its transaction to the room (post_atom with
//     an info_ticket) and no longer holds it. The room answers the 200 before its fan-out
//     on the same edge queue (the author's acknowledgement before its echo, no extra hop on
//     the hot path) and every other outcome too: not joined, refused, store failure, not
//     confirmed within commit_timeout (the room's watchdog), the room stopping. Only a
//     handover that bounces (the room was gone: request_receiver_down) gives the
//     transaction back to the session, which then answers it; a closing session waits for
//     its handovers to be taken or bounced before it quits.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pool/node_record.h"
#include "search/search_index.h"
#include "storage/records.h"

namespace pchat::actors {

struct server_context;

// ---- session_actor
using info_atom = caf::atom_constant<caf::atom("info")>;      // (info, txn u64, body string) | bridge -> session | none
using kicked_atom = caf::atom_constant<caf::atom("kicked")>;  // (kicked, room_uri)             | room -> session | none: removed from the room
using closed_atom = caf::atom_constant<caf::atom("closed")>;  // (closed, reason string)      | bridge -> session | none
using session_timer_atom = caf::atom_constant<caf::atom("stimer")>;  // (stimer, u64 id) | session -> itself (timer) | none: a pool retry (rejoin a lost room, a busy lookup)

// ---- web_session_actor (actors/web_session_actor.h; docs/WEB.md): a browser's WebSocket
using web_text_atom = caf::atom_constant<caf::atom("wtext")>;      // (wtext, string json)  | the connection -> web session | none: one message from the browser
using web_answer_atom = caf::atom_constant<caf::atom("wanswer")>;  // (wanswer, u64 txn, i32 code, string body) | web_edge -> web session | none: the answer to its post `txn`
                                                                   //   (the room's 200 or error, as to a SIP INFO): body = the post's echo (accepted, with the
                                                                   //   fan-out), an XCCOS error reply, or "" (200: stored before; 503: not stored)
using web_info_atom = caf::atom_constant<caf::atom("winfo")>;      // (winfo, string body)  | web_edge -> web session | none: what a room sent its dialog (posts, notices)
using web_timer_atom = caf::atom_constant<caf::atom("wtimer")>;    // (wtimer, u64 txn)     | web session -> itself | none: a post's deadline
//   (closed, reason) ends a web session too: its connection closed, or its user lost access (web_edge::end_user)

// ---- directory_actor
using start_atom = caf::atom_constant<caf::atom("start")>;    // (start, shared_ptr<const server_context>) | server_node -> dir | none: its context, before any other message
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;  // (lookup, room_uri, user_uri)   | session -> dir | caf::actor (room), errc::not_found or errc::forbidden
using search_atom = caf::atom_constant<caf::atom("search")>;  // (search, criteria, user_uri)   | session -> dir | std::vector<room_view>
using retire_atom = caf::atom_constant<caf::atom("retire")>;  // (retire, room_id)              | room -> dir    | ok (the room then quits)
using count_atom = caf::atom_constant<caf::atom("count")>;    // (count, room_id, int members)  | room -> dir    | none
using new_category_atom = caf::atom_constant<caf::atom("newcat")>;  // (newcat, category_record) | admin -> dir | category_record (id set)
using new_room_atom = caf::atom_constant<caf::atom("newroom")>;     // (newroom, room_record)     | admin -> dir | room_record (id set)
using replace_room_atom = caf::atom_constant<caf::atom("roomrepl")>;  // (roomrepl, room_record before, room_record after) | admin/manage -> dir | room_record; not_found if gone, bad_request if it is no longer `before`
using update_room_atom = caf::atom_constant<caf::atom("roomupd")>;  // (roomupd, room_record, category_record) | dir -> room | none: settings changed (re-check the roster)
using remove_room_atom = caf::atom_constant<caf::atom("rmroom")>;    // (rmroom, room_id)     | admin -> dir | ok_atom: gone with its history, members removed
using remove_category_atom = caf::atom_constant<caf::atom("rmcat")>;  // (rmcat, category_id) | admin -> dir | ok_atom, or bad_request while it has rooms
using clear_atom = caf::atom_constant<caf::atom("rclear")>;      // (rclear, room id|name|uri, i64 before_micros, admin "admin:NAME") | admin -> dir -> room | u64 messages removed, once durable
using purge_atom = caf::atom_constant<caf::atom("purge")>;       // (purge, room_id, vector<u64> seqs, vector<compliance_record>) | room -> commit | u64 count once synced
using ixdel_atom = caf::atom_constant<caf::atom("ixdel")>;       // (ixdel, room_id, vector<u64> seqs) | room -> indexer | none: drop them from search
using list_rooms_atom = caf::atom_constant<caf::atom("lsrooms")>;   // (lsrooms)                  | admin -> dir | std::vector<room_view>
using list_categories_atom = caf::atom_constant<caf::atom("lscats")>;  // (lscats)                | admin -> dir | std::vector<storage::category_record>

// ---- room_actor
using join_atom = caf::atom_constant<caf::atom("rjoin")>;      // (rjoin, user_uri, dialog u64, session actor) | session -> room | join_result
using ready_atom = caf::atom_constant<caf::atom("rready")>;    // (rready, session actor)       | session -> room | none: its rpl:join went out
                                                               // (rready, session actor, bool rejoined) | pool: rejoined = joined again silently after its room
                                                               //   was lost: the room first sends it the posts it fanned out before the join
using part_atom = caf::atom_constant<caf::atom("rpart")>;      // (rpart, session actor)        | session -> room | ok_atom
using backchat_atom = caf::atom_constant<caf::atom("backchat")>;  // (backchat, user_uri, int cnt) | session -> room | std::vector<storage::message_record>
                                                               // (backchat, user_uri, int cnt, u64 before) | web session -> room | std::vector<storage::message_record>:
                                                               //   "load older", the newest cnt (1..200) stored with seq < before, oldest first; access checked
                                                               //   as for a join (errc::forbidden)
using room_info_atom = caf::atom_constant<caf::atom("rinfo")>;  // (rinfo, join_result) | room -> every member session | none: its name, topic, description or this
                                                               //   member's right to post changed (settings updated; members empty). SIP sessions ignore it
                                                               //   (XCCOS has no such notice: SIPE and Lync read them at join)
using announce_atom = caf::atom_constant<caf::atom("announce")>;  // (announce, user_uri, text) | file api -> room | u64 seq, after it is durable: a post by a user who is not joined (the caller checked posting rights), e.g. "shared a file"
using post_atom = caf::atom_constant<caf::atom("post")>;       // (post, user_uri, text, extra_xml, post_id, info_ticket) | session -> room | ok_atom at once: the room holds the INFO
                                                               //   and answers it (200 once durable, before the fan-out; every refusal); a bounce: it never did.
                                                               //   A post whose post_id the room stored (its newest kPostIdWindow) is answered 200 again: no new
                                                               //   seq, no second fan-out or compliance event (docs/POOL.md "post ids").
                                                               //   Pool (ctx->pool): the reply comes once the room answered the INFO (ok_atom), or is
                                                               //   errc::moved when the room gives it back unanswered; the session keeps the post until then
using reload_atom = caf::atom_constant<caf::atom("rreload")>;  // (rreload) | room -> itself (timer) | none: read the history again after a failed load
using commit_watch_atom = caf::atom_constant<caf::atom("cwatch")>;  // (cwatch) | room -> itself (timer) | none: refuse writes older than commit_timeout
using follower_retry_atom = caf::atom_constant<caf::atom("fretry")>;  // (fretry) | room -> itself (timer) | none: pool: try the follower candidates again
using idle_atom = caf::atom_constant<caf::atom("idlechk")>;    // (idlechk, u64 generation)    | room -> itself | none
using replace_atom = caf::atom_constant<caf::atom("msgrepl")>; // (msgrepl, message_filter)     | admin -> dir -> room | u64 messages replaced, once durable
                                                               //   (the directory forwards to the room actor, spawning it if needed)

// ---- reader_actor (actors/reader_actor.h); failures answer errc::storage_failure
using rdload_atom = caf::atom_constant<caf::atom("rdload")>;     // (rdload, room_id, category_id, u64 n, u64 ids) | room -> reader | (u64 last seq, vector<message_record> newest n oldest first, bool ChatHistory,
                                                                 //   vector<post_id> of the newest `ids` messages oldest first)
using rdlatest_atom = caf::atom_constant<caf::atom("rdlatest")>; // (rdlatest, room_id, u64 n)           | room -> reader | vector<message_record>, newest n oldest first
using rdfrom_atom = caf::atom_constant<caf::atom("rdfrom")>;     // (rdfrom, room_id, u64 from, u64 max) | room -> reader | vector<message_record>, seq >= from ascending
                                                                 // (rdfrom, room_id, u64 from, u64 to, ok_atom) | replica -> reader | vector<compliance_record>: the kept events of messages from..to
using rdinv_atom = caf::atom_constant<caf::atom("rdinv")>;       // (rdinv, user_uri, u64 after_id)      | session -> reader | (vector<invitation_record>, vector<string> room names, "" = room gone)
using rdpref_atom = caf::atom_constant<caf::atom("rdpref")>;     // (rdpref, user_uri, label)            | session -> reader | string ("" if never set)
using rdstate_atom = caf::atom_constant<caf::atom("rdstate")>;   // (rdstate, room_id)                   | replica -> reader | (u64 data epoch, u64 last seq, bool complete): complete is false while a full copy is half done

// ---- commit_actor
using commit_atom = caf::atom_constant<caf::atom("commit")>;   // (commit, room_id, message_record) | room -> commit | u64 seq once synced
using file_put_atom = caf::atom_constant<caf::atom("fileput")>; // (fileput, file_record, vector<compliance_record>) | file api -> commit | u64 file id once synced, errc::quota_exceeded
using set_pref_atom = caf::atom_constant<caf::atom("setpref")>;  // (setpref, user, label, value) | session -> commit | ok_atom once synced, errc::quota_exceeded
using flush_atom = caf::atom_constant<caf::atom("flush")>;     // (flush)                        | commit -> itself | none
//   (commit, room_id, message_record, compliance_record)           | room -> commit | u64 seq once synced;
//     the event (seq assigned here) is staged in the same synced write as the message
using capture_atom = caf::atom_constant<caf::atom("capture")>; // (capture, compliance_record)    | any, via capture() (commit_actor.h) -> commit | none (staged with the next group commit)
                                                               // (capture, compliance_record, ok_atom) | room -> commit | u64 0 once synced
                                                               //   (a ChatHistory-off post's event: durable before its 200)
using rewrite_atom = caf::atom_constant<caf::atom("rewrite")>; // (rewrite, room_id, vector<message_record>, vector<compliance_record>) | room -> commit | u64 count once synced

//   pool mode (docs/POOL.md "Replicated room log"): writes of a room's log carry the owner's
//   epoch; a lower epoch than this node accepted for the room is errc::forbidden "stale
//   epoch ..." and writes nothing. The log's state (storage::room_log_state) rides in the same
//   synced write as the entries.
using logput_atom = caf::atom_constant<caf::atom("logput")>;   // (logput, room_id, u64 epoch, message_record[, compliance_record]) | room -> commit | u64 seq once synced
                                                               //   the owner's own post; its event is kept beside the log (the owner delivers it: docs/POOL.md "Compliance across the pool")
using rlogput_atom = caf::atom_constant<caf::atom("rlogput")>; // (rlogput, room_id, u64 epoch, message_record[, compliance_record]) | replica -> commit | u64 seq once synced
                                                               //   the follower's copy of a post; its event is kept beside the log (not staged)
using logcopy_atom = caf::atom_constant<caf::atom("logcopy")>; // (logcopy, room_id, u64 epoch, vector<message_record>, bool full) | replica -> commit | u64 count once synced
                                                               //   a chunk of a catch-up; `full`: the first chunk of a full copy (the room's entries go, "copy in progress")
                                                               // (logcopy, room_id, u64 epoch, vector<message_record>, bool full, vector<compliance_record>) | replica -> commit | the same, with the chunk's kept events
using logmark_atom = caf::atom_constant<caf::atom("logmark")>; // (logmark, room_id, u64 epoch) | replica -> commit | u64 epoch once synced: the log is complete at `epoch`

// ---- pool (docs/POOL.md; between nodes over BASP: every type here is registered in
//      add_message_types). Room logs: actors/replica_actor.h.
using ship_atom = caf::atom_constant<caf::atom("ship")>;       // (ship, room_id, u64 epoch, message_record[, compliance_record]) | owner's room -> follower's replica
                                                               //   | u64 seq once synced there; errc::forbidden "stale epoch ..." if that node accepted a newer owner
using rstate_atom = caf::atom_constant<caf::atom("rstate")>;   // (rstate, room_id[, u64 epoch: stored synced first, a fence]) | new owner's room -> replica | (u64 data epoch, u64 last seq, bool complete)
using rcopy_atom = caf::atom_constant<caf::atom("rcopy")>;     // (rcopy, room_id, u64 from, u64 max) | replica -> replica | vector<message_record>, seq >= from ascending, at most min(max, kCopyChunk)
                                                               // (rcopy, room_id, u64 from, u64 to, ok_atom) | replica -> replica | vector<compliance_record>: kept events of messages from..to (at most kCopyChunk)
using rpull_atom = caf::atom_constant<caf::atom("rpull")>;     // (rpull, room_id, u64 epoch, actor source_replica, u64 from, bool full) | owner's room -> replica
                                                               //   | u64 last seq once every chunk and the mark (complete at epoch) are synced
//   files (docs/POOL.md "Uploaded files in a pool"); kFileChunk (file_replica_actor.h) bounds one message:
using fship_atom = caf::atom_constant<caf::atom("fship")>;     // (fship, file_record, u64 offset, string bytes, bool last) | replica -> file replica | u64 bytes held;
                                                               //   last: the blob and the record are synced (a record held already: its size at once)
                                                               // (fship, actor to_replica, file_record, u64 offset, string bytes, bool last) | file api -> its replica -> to_replica
using fget_atom = caf::atom_constant<caf::atom("fget")>;       // (fget, room_id, u64 file id, u64 offset) | replica -> file replica | (file_record, string bytes from offset, at most kFileChunk)
                                                               // (fget, actor from_replica, room_id, u64 file id, u64 offset) | file api -> its replica -> from_replica
using flist_atom = caf::atom_constant<caf::atom("flist")>;     // (flist, room_id) | replica -> file replica, replica -> replica | vector<file_record>: the room's files this node holds
                                                               // (flist, actor replica, room_id) | file api -> its replica -> that replica | the same, of that node
using fpull_atom = caf::atom_constant<caf::atom("fpull")>;     // (fpull, room_id, actor source_replica) | owner's room -> replica | u64 files copied: each file of the room the
                                                               //   source holds and this node does not, chunk by chunk (fget), its blob and record synced here (no FILEUPLOAD event)
using fdel_atom = caf::atom_constant<caf::atom("fdel")>;       // (fdel, room_id, u64 file id) | replica -> file replica, replica -> replica | vector<file_record>: the removed
                                                               //   record (record first, then bytes), empty if this node held none
                                                               // (fdel, actor replica, room_id, u64 file id) | admin api -> its replica -> that replica | the same, of that node
using rmark_atom = caf::atom_constant<caf::atom("rmark")>;     // (rmark, room_id, u64 epoch) | owner's room -> replica | u64 epoch once synced

// ---- indexer_actor (history search, actors/indexer_actor.h)
using ixstep_atom = caf::atom_constant<caf::atom("ixstep")>;   // (ixstep) | commit -> indexer (woken by index_feed::note), indexer -> itself | none
                                                               //   one bounded step: read noted messages from the store and index them
using ixflush_atom = caf::atom_constant<caf::atom("ixflush")>; // (ixflush) | indexer -> itself (timer) | none: commit buffered documents
using ixsync_atom = caf::atom_constant<caf::atom("ixsync")>;   // (ixsync) | admin/tests -> indexer | ok_atom once everything noted before it is indexed and committed
using import_atom = caf::atom_constant<caf::atom("msgimport")>; // (msgimport, room_id, vector<message_record>) | admin -> dir -> room | u64 messages written, once durable
                                                               //   (archive import; the room keeps seqs and timestamps, skips ones it has)

// ---- compliance runner
using crun_atom = caf::atom_constant<caf::atom("crun")>;       // (crun) | admin/tests -> runner | none: deliver every staged event now
                                                               // (crun, u64 generation) | runner -> itself (timer) | none
using cstatus_atom = caf::atom_constant<caf::atom("cstatus")>; // (cstatus) | admin/tests -> runner | compliance_status
using creconf_atom = caf::atom_constant<caf::atom("creconf")>; // (creconf) | app/effective_config -> runner | none: apply the
                                                               // compliance settings now in force (server_context::live)

// ---- pool (docs/POOL.md; these cross nodes over BASP: every type registered in add_message_types)
using edge_atom = caf::atom_constant<caf::atom("pooledge")>;   // (pooledge, edge_batch) | pool_edge (a room's node) -> the dialogs' node's edge relay | none:
                                                               //   its SIP responses, then its INFO (pool_edge.h)
using own_lookup_atom = caf::atom_constant<caf::atom("ownlookup")>;  // (ownlookup, node name, room_id) | dir -> its directory_relay | caf::actor (the room on that node)
                                                               // (ownlookup, room_id) | directory_relay -> the owner's directory_relay -> its dir | caf::actor;
                                                               //   errc::busy when that node does not own the room by its view (the session retries)
using route_atom = caf::atom_constant<caf::atom("route")>;     // (route, node name, message inner) | dir -> its directory_relay | u64: the inner admin
                                                               //   request (rclear, msgrepl, msgimport) answered by that node's directory
using routed_atom = caf::atom_constant<caf::atom("routed")>;   // (routed, message inner) | directory_relay -> the owner's directory_relay -> its dir (inner) | u64
using ixquery_atom = caf::atom_constant<caf::atom("ixquery")>;  // (ixquery, node name, search_query) | admin search -> its directory_relay | search_result of that
                                                               //   node's index (errc::busy when it is not reachable)
                                                               // (ixquery, search_query) | directory_relay -> a peer's directory_relay -> its indexer
                                                               //   (after ixsync: every post noted before it is found) | search_result
                                                               // (ixquery, search_query) | directory_relay -> its node's indexer | search_result of the committed index
using pnotify_atom = caf::atom_constant<caf::atom("pnotify")>; // (pnotify, node name, message inner) | dir -> its directory_relay | none: `inner` (roomupd)
                                                               //   to that node's directory; (pnotify, message inner) between relays
using access_changed_atom = caf::atom_constant<caf::atom("acchg")>;  // (acchg) | identity watcher (server_node) -> dir | none: users, groups or policies changed:
                                                               //   every live room of this node re-checks its roster (update_room_atom with its settings)
using dirsync_atom = caf::atom_constant<caf::atom("dirsync")>; // (dirsync) | directory log -> dir | none: the store's categories and rooms changed
                                                               //   (a pool node applied a directory record): read them again, tell live rooms what changed
// The membership actor (pool_actor.h) and its coordinator:
using pool_start_atom = caf::atom_constant<caf::atom("pstart")>;   // (pstart, u16 sip_port, u16 http_port, u16 pool_port) | server_node -> pool | ok_atom once the node holds its lease and registry entry;
                                                                   //   errc::forbidden (a live node has this name or tag), errc::busy (etcd not reached)
using pool_leave_atom = caf::atom_constant<caf::atom("pleave")>;   // (pleave) | server_node -> pool | ok_atom: lease revoked (registry entry and room claims gone) or etcd not reached
using hello_atom = caf::atom_constant<caf::atom("phello")>;        // (phello, node_entry sender) | pool -> another node's pool | node_entry (its own); each then monitors the other
using pool_changed_atom = caf::atom_constant<caf::atom("pchanged")>;  // (pchanged, u64 view version) | pool -> dir | none: ctx->pool has a newer view
using pool_check_atom = caf::atom_constant<caf::atom("pcheck")>; // (pcheck) | dir (pool_changed) -> each live room | none: a room this node no longer owns
                                                               //   by ctx->pool hands itself off (takes no post, finishes, retires; docs/POOL.md "Handing back")
using claim_atom = caf::atom_constant<caf::atom("pclaim")>;        // (pclaim, room_id) | room -> pool | u64 epoch once this node holds /<pool>/rooms/<id>/owner (held already: the same epoch);
                                                                   //   errc::forbidden (reason: the holder's name), errc::busy (not serving, etcd not reached)
using release_atom = caf::atom_constant<caf::atom("prelease")>;    // (prelease, room_id, u64 epoch) | room -> pool | ok_atom once no claim of that epoch exists; errc::busy
using owner_atom = caf::atom_constant<caf::atom("powner")>;        // (powner, room_id) | local actor -> pool | (std::string node, u64 epoch): the claim in etcd now
                                                                   //   ("" and 0: none), whoever holds it; errc::busy (etcd not reached)
using pool_status_atom = caf::atom_constant<caf::atom("pstatus")>; // (pstatus) | admin -> pool | pool_status
using pool_drain_atom = caf::atom_constant<caf::atom("pdrain")>;   // (pdrain, bool on) | admin API (any node) -> the node's pool | ok_atom once its registry entry says
                                                                   //   draining=on and its view is published (its rooms hand off); errc::busy: no lease, etcd not reached
using pool_tick_atom = caf::atom_constant<caf::atom("ptick")>;     // (ptick) | pool -> itself (timer) | none: keep-alive, registry scan, serving check
// coordinator_actor.h: the blocking etcd calls, asked by the local pool actor only (a
// detached actor never answers a remote sender). Every failure to reach etcd: errc::busy.
using etcd_join_atom = caf::atom_constant<caf::atom("etjoin")>;    // (etjoin, node_record, i64 old_lease) | pool -> coord | i64 lease: granted, name and tag keys created;
                                                                   //   errc::forbidden: a live node keeps the name or tag
using etcd_keep_atom = caf::atom_constant<caf::atom("etkeep")>;    // (etkeep, i64 lease) | pool -> coord | i64 ttl_s; errc::not_found: the lease is gone
using etcd_scan_atom = caf::atom_constant<caf::atom("etscan")>;    // (etscan) | pool -> coord | std::vector<registered_node>
using etcd_revoke_atom = caf::atom_constant<caf::atom("etrevoke")>;  // (etrevoke, i64 lease) | pool -> coord | ok_atom (also when it was gone)
using etcd_put_atom = caf::atom_constant<caf::atom("etput")>;      // (etput, node_record, i64 lease) | pool -> coord | ok_atom; errc::not_found: the lease is gone
using etcd_claim_atom = caf::atom_constant<caf::atom("etclaim")>;  // (etclaim, key, value, i64 lease) | pool -> coord | etcd_holder
using etcd_drop_atom = caf::atom_constant<caf::atom("etdrop")>;    // (etdrop, key, i64 create_revision) | pool -> coord | bool deleted
using etcd_get_atom = caf::atom_constant<caf::atom("etget")>;      // (etget, key) | pool -> coord | etcd_holder (created false; all empty when absent)

// ---- backup (actors/backup_actor.h)
using backup_atom = caf::atom_constant<caf::atom("backup")>;   // (backup, dir string) | admin -> backup actor | backup_result (every outcome; the actor then quits)

// Domain errors (category atom "pchat"). DO NOT renumber: values may cross pool nodes.
enum class errc : uint8_t {
  not_found = 1,       // unknown room
  forbidden = 2,       // not allowed (disabled room, not a member, ...)
  not_joined = 3,      // command needs the session to be in the room
  storage_failure = 4, // the store refused the write (disk full, I/O error)
  bad_request = 5,
  busy = 6,            // not done in time, or the room cannot read its history: nothing changed, retry
  quota_exceeded = 7,  // a per-user quota (server_context) would be exceeded: nothing stored
  moved = 8,           // pool: this room actor no longer serves the room (another node does
                       // now); a post's INFO given back unanswered: look the room up again
                       // and send it there (docs/POOL.md "Dead owner", "Handing back")
};
caf::error make_error(errc code, std::string reason);
// Returns true (and fills code/reason) if `e` is one of ours.
bool decode_error(const caf::error& e, errc* code, std::string* reason);

// A client's INFO handed from the session to the room (see "Who answers an INFO"): its SIP
// transaction and what the reply INFO needs. Whoever has it answers it, exactly once.
struct info_ticket {
  uint64_t txn = 0;     // sip::txn_id
  uint64_t dialog = 0;  // sip::dialog_id: where the reply INFO goes
  std::string envid;    // the command's envid and seqid, echoed in the reply
  std::string seqid;
};

// What a room's node sends to another node's SIP edge in one message (actors/pool_edge.h):
// the SIP responses first, in order, then one INFO body to some dialogs. Every id carries
// the receiving node's tag (pool/node_tag.h).
struct edge_batch {
  std::vector<uint64_t> txns;     // sip::txn_id, answered with codes[i]
  std::vector<int32_t> codes;
  std::vector<uint64_t> dialogs;  // sip::dialog_id
  std::string body;               // the INFO body sent to every dialog (none without dialogs)
};

// A room as shown in search results and the admin API.
struct room_view {
  std::string id;
  std::string uri;
  std::string name;
  std::string description;
  std::string category_id;
  int user_count = 0;
  bool is_private = false;
  bool file_post = false;
  bool invite = false;
  bool logged = true;
  bool disabled = false;
};

struct member_view {
  std::string uri;
  bool manager = false;
};

// What a session learns when it joins a room.
struct join_result {
  std::string uri;
  std::string name;
  std::string topic;                 // the topic, or the description when it has none (rpl:join)
  std::vector<member_view> members;  // empty above ParticipantUpdateLimit (except self)
  std::string description;
  bool can_post = false;     // the joining user's right to post now (auditorium: presenters)
  std::string post_refusal;  // why not, when !can_post
};

// Which messages an admin replaces (Remove-CsPersistentChatMessage). Empty fields match all.
struct message_filter {
  std::string room;          // room id, URI or name (required)
  std::string user;          // author SIP URI
  int64_t before_micros = 0; // posted strictly before (0 = no bound)
  int64_t after_micros = 0;  // posted strictly after (0 = no bound)
  std::string contains;      // substring of the text
  std::string replacement;   // new text
  std::string admin;         // who asked ("admin:NAME"): the compliance events' user
};

// The compliance runner as `pchatctl compliance status` shows it.
struct compliance_status {
  bool enabled = false;
  std::string adapter;
  uint64_t queue_depth = 0;           // staged events not yet delivered
  uint64_t delivered_through = 0;     // highest event sequence delivered and deleted
  uint64_t batches_delivered = 0;     // since start
  uint64_t events_delivered = 0;      // since start
  int64_t last_success_micros = 0;    // 0 = none since start
  int64_t last_error_micros = 0;
  std::string last_error;             // "" when the last attempt succeeded
  uint64_t consecutive_failures = 0;
};

// A node as the registry (etcd) holds it, with its lease.
struct registered_node {
  pool::node_record node;
  int64_t lease = 0;
};

// A create-if-absent claim's outcome: whether this call created the key, and the key as it
// is now (value, lease, create_revision).
struct etcd_holder {
  bool created = false;
  std::string value;
  int64_t lease = 0;
  int64_t create_revision = 0;
};

// `pchatctl pool status`: the pool as this node sees it.
struct pool_node_status {
  pool::node_record node;   // name, tag, host, ports, draining
  bool registered = false;  // in the etcd registry (its lease alive)
  bool linked = false;      // BASP link up and hello exchanged (always true for this node)
  bool live = false;        // in the view: registered and linked (this node: serving)
  bool self = false;
};
struct pool_room_claim {
  std::string room_id;
  uint64_t epoch = 0;
};
struct pool_status {
  std::string self;
  std::string pool_name;
  bool serving = false;
  uint64_t view_version = 0;
  int64_t lease = 0;                    // 0: none
  int64_t ms_since_renewal = -1;        // since the last successful keep-alive was sent; -1: never
  std::vector<pool_node_status> nodes;  // sorted by name
  std::vector<pool_room_claim> rooms;   // claims this node holds, by room id
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registered_node& x) {
  return f(caf::meta::type_name("registered_node"), x.node, x.lease);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, etcd_holder& x) {
  return f(caf::meta::type_name("etcd_holder"), x.created, x.value, x.lease, x.create_revision);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_node_status& x) {
  return f(caf::meta::type_name("pool_node_status"), x.node, x.registered, x.linked, x.live, x.self);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_room_claim& x) {
  return f(caf::meta::type_name("pool_room_claim"), x.room_id, x.epoch);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_status& x) {
  return f(caf::meta::type_name("pool_status"), x.self, x.pool_name, x.serving, x.view_version,
           x.lease, x.ms_since_renewal, x.nodes, x.rooms);
}

// What a backup (storage/backup.h) came to: ok with the manifest's summary (JSON: what is
// in it, sizes, time taken), or why not. `code` is the pchat::status::code of the outcome
// (ok, invalid_argument: a folder refused; already_exists: not empty; io_error: the write
// failed, no_space when the disk is full).
struct backup_result {
  uint8_t code = 0;
  std::string reason;
  std::string summary;
  bool no_space = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backup_result& x) {
  return f(caf::meta::type_name("backup_result"), x.code, x.reason, x.summary, x.no_space);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, info_ticket& x) {
  return f(caf::meta::type_name("info_ticket"), x.txn, x.dialog, x.envid, x.seqid);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, edge_batch& x) {
  return f(caf::meta::type_name("edge_batch"), x.txns, x.codes, x.dialogs, x.body);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_filter& x) {
  return f(caf::meta::type_name("message_filter"), x.room, x.user, x.before_micros,
           x.after_micros, x.contains, x.replacement, x.admin);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, compliance_status& x) {
  return f(caf::meta::type_name("compliance_status"), x.enabled, x.adapter, x.queue_depth,
           x.delivered_through, x.batches_delivered, x.events_delivered, x.last_success_micros,
           x.last_error_micros, x.last_error, x.consecutive_failures);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_view& x) {
  return f(caf::meta::type_name("room_view"), x.id, x.uri, x.name, x.description, x.category_id,
           x.user_count, x.is_private, x.file_post, x.invite, x.logged, x.disabled);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_view& x) {
  return f(caf::meta::type_name("member_view"), x.uri, x.manager);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_result& x) {
  return f(caf::meta::type_name("join_result"), x.uri, x.name, x.topic, x.members, x.description,
           x.can_post, x.post_refusal);
}

// Registers every custom message type with a CAF config (needed for pool nodes).
void add_message_types(caf::actor_system_config& cfg);

}  // namespace pchat::actors

namespace pchat::search {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_query& x) {
  return f(caf::meta::type_name("search_query"), x.text, x.rooms, x.every_room, x.excluded_rooms, x.authors,
           x.from_micros, x.to_micros, x.limit);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_hit& x) {
  return f(caf::meta::type_name("search_hit"), x.room_id, x.seq, x.author, x.ts_micros, x.text);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_result& x) {
  return f(caf::meta::type_name("search_result"), x.hits, x.total_estimate, x.limit, x.truncated);
}

}  // namespace pchat::search

namespace pchat::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, post_id& x) {
  return f(caf::meta::type_name("post_id"), x.origin, x.counter);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_record& x) {
  return f(caf::meta::type_name("message_record"), x.seq, x.author, x.ts_micros, x.text,
           x.extra_xml, x.pid);
}
// An enum field travels as its uint8_t value: `raw` is what the inspector reads or
// writes, store() puts a loaded value back (from the inspector's load callback).
template <class Enum>
struct enum_field {
  explicit enum_field(Enum& e) : target(&e), raw(static_cast<uint8_t>(e)) {}
  void store() const { *target = static_cast<Enum>(raw); }
  Enum* target;
  uint8_t raw;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, compliance_record& x) {
  enum_field kind(x.kind);
  auto load = caf::meta::load_callback([&]() -> caf::error { return kind.store(), caf::none; });
  return f(caf::meta::type_name("compliance_record"), x.seq, kind.raw, x.ts_micros, x.room_id,
           x.room_uri, x.room_name, x.user_uri, x.user_display, x.message_id, x.text,
           x.target, x.previous, x.file_name, load);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, invitation_record& x) {
  return f(caf::meta::type_name("invitation_record"), x.id, x.user, x.room_id, x.inviter,
           x.ts_micros);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_record& x) {
  return f(caf::meta::type_name("file_record"), x.id, x.room_id, x.name, x.size, x.uploader,
           x.ts_micros, x.blob);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, category_record& x) {
  return f(caf::meta::type_name("category_record"), x.id, x.name, x.description,
           x.allowed_members, x.denied_members, x.creators, x.file_upload, x.invitations,
           x.chat_history);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_record& x) {
  enum_field type(x.type), privacy(x.privacy), inv(x.invitations);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    type.store(), privacy.store(), inv.store();
    return caf::none;
  });
  return f(caf::meta::type_name("room_record"), x.id, x.name, x.description, x.category_id,
           x.topic, type.raw, privacy.raw, inv.raw, x.disabled, x.addin, x.members, x.managers,
           x.presenters, load);
}

}  // namespace pchat::storage

namespace pchat::pool {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_record& x) {
  return f(caf::meta::type_name("node_record"), x.name, x.tag, x.host, x.pool_port, x.sip_port,
           x.http_port, x.draining);
}

}  // namespace pchat::pool

// The directory's context travels once, inside the process (never serialised).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const pchat::actors::server_context>)
