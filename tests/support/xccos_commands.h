// XCCOS command bodies as a client puts them in a SIP INFO (reference xccos-wire.md), for
// tests that hand bodies to actors or a server directly. Always envid 7 unless given,
// seqid 1. Pure functions.
//
// post_cmd's author attribute names someone else (sip:mallory@example.com) on purpose: the
// author of a post comes from the dialog, never from the XML.
#pragma once

#include <string>

namespace pchat::testing {

// <xccos ver="1" envid=".." xmlns="urn:parlano:xml:ns:xccos"> `inner` </xccos>
std::string xccos_cmd(const std::string& inner, int envid = 7);
// cmd:join of a room. REQUIRES: `room_uri` is a ma-chan:// URI.
std::string join_cmd(const std::string& room_uri);
// cmd:part of a room.
std::string part_cmd(const std::string& room_uri);
// A grpchat post of `text` (inserted as is: escape it if it must be plain text).
std::string post_cmd(const std::string& room_uri, const std::string& text);
// cmd:bccontext for the last `count` messages.
std::string backchat_cmd(const std::string& room_uri, int count);

}  // namespace pchat::testing
