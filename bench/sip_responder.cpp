// pchat-sip-responder: the SIP stack's own ceiling on this machine (issue 5, item 4).
//
// A minimal sofia-sip (nua) server that does nothing but answer: REGISTER 200 (with the
// headers SIPE needs), SUBSCRIBE 200, INVITE 200, BYE 200 and every INFO 200 at once,
// on one thread (su_root_threading off, stack-notes §4.4). pchat-bench drives it with the
// same simulated clients as pchatd to measure SIP transactions per second that sofia-sip
// itself sustains, so pchat's figures can be given as a ratio of it.
//
//   pchat-sip-responder [--port=N]      prints "sip-port=N", runs until SIGINT/SIGTERM
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

su_root_t* g_root = nullptr;

void on_signal(int) {
  if (g_root) su_root_break(g_root);
}

void on_event(nua_event_t ev, int status, char const*, nua_t* nua, nua_magic_t*, nua_handle_t* nh,
              nua_hmagic_t*, sip_t const* sip, tagi_t tags[]) {
  switch (ev) {
    case nua_i_info:
      nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
      break;
    case nua_i_register:
      nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
                  TAG_IF(sip && sip->sip_contact, SIPTAG_CONTACT(sip ? sip->sip_contact : nullptr)),
                  SIPTAG_EXPIRES_STR("3600"), SIPTAG_SUPPORTED_STR("msrtc-event-categories"),
                  SIPTAG_ALLOW_EVENTS_STR("vnd-microsoft-provisioning-v2"), TAG_END());
      nua_handle_destroy(nh);
      break;
    case nua_i_subscribe:
      if (status < 200) {
        nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), SIPTAG_EXPIRES_STR("0"), TAG_END());
      }
      break;
    case nua_i_invite:
      nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
      break;
    case nua_i_state: {
      int cs = nua_callstate_init;
      tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
      if (cs == nua_callstate_terminated && nh) nua_handle_destroy(nh);
      break;
    }
    case nua_r_shutdown:
      if (status >= 200) su_root_break(g_root);
      break;
    default:
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--port=", 7) == 0) port = std::atoi(argv[i] + 7);
  su_init();
  g_root = su_root_create(nullptr);
  su_root_threading(g_root, 0);
  std::string url = "sip:127.0.0.1:" + std::to_string(port) + ";transport=tcp";
  nua_t* nua = nua_create(g_root, on_event, nullptr, NUTAG_URL(url.c_str()), NUTAG_MEDIA_ENABLE(0),
                          NUTAG_ALLOW("INFO"), NUTAG_APPL_METHOD("INFO"), NUTAG_ALLOW("REGISTER"),
                          NUTAG_APPL_METHOD("REGISTER"),
                          NUTAG_ALLOW_EVENTS("vnd-microsoft-provisioning-v2"),
                          NUTAG_SESSION_TIMER(0), TAG_END());
  if (!nua) {
    std::fprintf(stderr, "pchat-sip-responder: cannot bind %s\n", url.c_str());
    return 1;
  }
  // nua has no getter for a bound ephemeral port, so callers pass an explicit free port
  // (pchat-bench does).
  std::printf("sip-port=%d\n", port);
  std::fflush(stdout);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  su_root_run(g_root);
  nua_destroy(nua);
  su_root_destroy(g_root);
  su_deinit();
  return 0;
}
