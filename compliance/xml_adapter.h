// The default compliance adapter: the Lync / Skype for Business XmlAdapter output
// (reference §4.4), validated by compliance/xml_adapter.xsd.
//
//   <?xml version="1.0" encoding="utf-8"?>
//   <Conversations xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
//                  xmlns:xsd="http://www.w3.org/2001/XMLSchema">
//     <Conversation>                         one per room with events in the batch, in the
//                                            order of each room's first event
//       <Channel uri="ROOM-URI" name="NAME"/>  NAME: the room URI, as in the reference's
//                                            sample; the room's name with AddChatRoomDetails
//       <FirstMessage type=T content=C id=I>   a copy of the first Message
//         <Sender UserName=U id=N uri=A [email=E internal=B]/>
//         <DateTimeUTC since1970=MS string=ISO long=TICKS/>
//       </FirstMessage>
//       <Messages>
//         <Message type=T content=C id=I> Sender DateTimeUTC </Message>   one per event
//       </Messages>
//       <StartTimeUTC since1970 string long/>  time of the room's first event in the batch
//       <EndTimeUTC since1970 string long/>    time of its last
//     </Conversation>
//   </Conversations>
//
// Event mapping (T / C / I):
//   JOIN, PART            type JOIN / PART, content "", id 0
//   CHAT                  type CHAT, the message text, the room's message sequence
//   BACKCHAT              type BACKCHAT, the history the user asked for, id 0
//   FILEUPLOAD/-DOWNLOAD  the stored file name, id 0
//   BACKCHAT content      the messages returned (compliance/backchat_content.h)
//   an admin's actions    the administrator's own events (our extension of the XSD, which
//                         documents it): Sender the admin (uri admin:NAME), then
//                         <Target uri=WHOM previous=BEFORE/> when there is one
//     ADMINREPLACE        the replacement text, the message's id; Target its author and text
//     ADMINCLEAR          the clear's criteria, the message's id; Target its author and text
//     ADMINSEARCH         the criteria and the number of results, id 0; the room searched
//                         (a search of every room: Channel ma-chan://DOMAIN/)
//     ADMINROOM           "created", "changed" or "removed" and the settings, id 0;
//                         Target previous = the settings before
//     ADMINMEMBERS        e.g. "member added", id 0; Target the principal
//   older versions' admin replace/remove (CHAT with the author as Sender) and history
//   search (BACKCHAT from "admin") are delivered as they were staged
// Sender: UserName = the display name (the SIP address when there is none), uri = the SIP
// URI without "sip:", id = a stable 31-bit hash of the URI (we have no principal ids).
// AddUserDetails adds email (the address) and internal (true when the user's domain is
// the server's domain). Neither switch's extra output is documented by the reference; ours
// stays inside the reference XSD.
// Documentation quirks not copied: CHAT content is the message text (not "the sender's
// email address"), and the attribute is UserName (the sample XSL's @userName is a typo).
//
// Files: one document per batch, or with OneChatRoomPerOutputFile one per room
// (output_file.h names). With CreateFileAttachmentsManifest, a batch with file events also
// gets NAME.ATTACH: one line per file event, tab-separated
//   type  DateTimeUTC-string  room-uri  user-uri  stored-file-name  uploaded-file-name
// Attribute values escape & < > " and encode TAB, LF, CR as character references so that
// multi-line messages survive attribute normalisation; other control characters, which
// XML 1.0 cannot carry, are dropped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compliance/adapter.h"

namespace pchat::compliance {

// The document for `events` (ascending seq, any rooms). Pure: used by the adapter and tests.
std::string encode_xml_document(const std::vector<storage::compliance_record>& events,
                                const adapter_options& opts);

// The .ATTACH manifest lines for the file events among `events` ("" if there are none).
std::string encode_attachments_manifest(const std::vector<storage::compliance_record>& events);

// Sender@id: FNV-1a of the URI, top bit cleared so it fits the XSD's int.
int32_t principal_id(const std::string& user_uri);

std::unique_ptr<adapter> make_xml_adapter(const adapter_options& opts);

}  // namespace pchat::compliance
