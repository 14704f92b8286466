// A second compliance adapter: RFC 4180 CSV in the shape compliance tools import, modelled
// on Mattermost's compliance export (one row per event, a header row, UTC times).
//
//   file    := header CRLF *(row CRLF)
//   header  := Event Id,Event Type,Time UTC,Time Since1970 Ms,Channel Uri,Channel Name,
//              User Uri,User Display Name,Message Id,Content,Target Uri,Previous Content
//                                                                     (one line)
//   row     := the event's global sequence, its type name (JOIN, PART, CHAT, BACKCHAT,
//              FILEUPLOAD, FILEDOWNLOAD; an administrator's own ADMINREPLACE, ADMINCLEAR,
//              ADMINSEARCH, ADMINROOM, ADMINMEMBERS; from older versions MESSAGE_REMOVED,
//              MESSAGE_REPLACED, HISTORY_SEARCH), ISO-8601 UTC with 7 fractional digits,
//              epoch milliseconds, room URI, room name, user SIP URI (admin:NAME for an
//              admin's event), display name, message id (0 if none), text, and for admin
//              events whom or what they acted on and what was there before (empty otherwise;
//              the last two columns were added after the first ten: readers by header name
//              and by position of the first ten keep working)
//   field   := as is, or in double quotes (inner quotes doubled) when it holds , " CR or LF
//
// Unlike the XML format, every event type keeps its own name and the event sequence is a
// column, so a consumer can check it received every event exactly once. Files are named and
// written as output_file.h says (".csv"); OneChatRoomPerOutputFile splits by room.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compliance/adapter.h"

namespace pchat::compliance {

std::string encode_csv(const std::vector<storage::compliance_record>& events);

std::unique_ptr<adapter> make_csv_adapter(const adapter_options& opts);

}  // namespace pchat::compliance
