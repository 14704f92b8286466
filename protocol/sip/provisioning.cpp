#include "protocol/sip/provisioning.h"

namespace pchat::sip {
namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string encode_provisioning(bool enable_persistent_chat, std::string_view pool_uri) {
  std::string xml =
      "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/"
      "provisiongrouplist-notification\"><provisionGroup name=\"persistentChatConfiguration\">"
      "<propertyEntryList><property name=\"EnablePersistentChat\">";
  // SIPE compares the value with "true" case-sensitively.
  xml += enable_persistent_chat ? "true" : "false";
  xml += "</property><property name=\"DefaultPersistentChatPoolUri\">";
  xml += escape(pool_uri);
  xml += "</property></propertyEntryList></provisionGroup></provisionGroupList>";
  return xml;
}

}  // namespace pchat::sip
