// The web file service: users upload files to rooms and download them (the Lync role's
// file upload web service; reference §1.4 FileUpload, §3 MaxFileSizeKB). Files are stored
// durably (storage/file_store.h, under ctx->files_dir) and listed in the store; compliance sees every upload and
// download (FILEUPLOAD, FILEDOWNLOAD; the text is the file name).
//
//   POST /files/v1/rooms/{room-id}?name=NAME   body: the file's bytes
//        -> 201 {id, name, size, uploader, ts, url}    once the bytes, the record and (with
//           compliance on) the FILEUPLOAD event are on disk; the room also gets a message
//           from the uploader, "shared a file: NAME (SIZE) URL" (best effort)
//   GET  /files/v1/rooms/{room-id}             -> 200 [{id, name, size, uploader, ts, url}]
//   GET  /files/v1/rooms/{room-id}/{file-id}   -> 200 the bytes (application/octet-stream)
//
// Who: `Authorization: Basic` with the user's SIP address and password (checked against
// the Digest HA1 the directory keeps; 401 with a Basic challenge otherwise), or the web
// client's session cookie (docs/WEB.md; an upload also needs its X-PChat-CSRF). A node started
// with --auth=none trusts `X-PChat-User: sip:user@domain` instead, as its SIP edge trusts
// the From header (tests and closed networks only).
// What: the rules of joining the room (EnablePersistentChat policy, category scope,
// privacy, membership; a room the user may not see is 404), and for uploads also the right
// to post (auditorium: presenters), the category's FileUpload switch and MaxFileSizeKB
// (413). Errors are JSON {"error": "..."} saying what to change.
// Requests for other paths go to `next`.
#pragma once

#include <caf/fwd.hpp>

#include <memory>
#include <string>

#include "app/user_auth.h"
#include "web/http_server.h"

namespace pchat::actors {
struct server_context;
}

namespace pchat::app {

struct file_api_options {
  bool trust_user_header = false;  // --auth=none: X-PChat-User names the user
  cookie_auth cookie;              // the web client's signed-in browsers (none: Basic only)
};

// REQUIRES: `sys` outlives the handler (uploads wait for the commit actor); uploads reach
// it through make_upload_head_check (their bytes are already on disk; others get 500).
web::http_handler make_file_api(caf::actor_system& sys,
                                std::shared_ptr<const actors::server_context> ctx,
                                file_api_options opts, web::http_handler next);

// The server's head check for uploads: once `next` (authentication and sizes,
// app/user_auth.h) lets a POST /files/v1/rooms/{room-id} through, its body streams into a
// temporary file of the file store as it arrives (server memory stays flat whatever the
// size); the handler makes that file the blob, or it is removed. Removes the temporary
// files of interrupted uploads when called (at start).
web::http_head_check make_upload_head_check(std::shared_ptr<const actors::server_context> ctx,
                                            web::http_head_check next);

}  // namespace pchat::app
