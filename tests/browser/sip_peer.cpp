// web_sip_peer: a SIP/XCCOS user (the in-tree client, tools/client) for the browser test
// (web_client_test.py), driven over its stdin and stdout one line at a time:
//   out: "room <uri>"            signed in and joined the demo room
//   out: "got <author> <text>"   a message arrived live (text with \n as "\\n")
//   in:  "post <text>"           posts it; out: "acked" once the server answered 200,
//                                "failed" otherwise
//   in:  "posts <n> <prefix>"    posts "<prefix> 1" .. "<prefix> n" one after the other;
//                                out: "acked <n>", or "failed" at the first that failed
//   in:  "quit" or end of input  signs out and exits
// Bounded: it exits by itself after --lifetime-s (default 120) seconds.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/client/client_loop.h"
#include "tools/client/xccos_client.h"

using namespace std::chrono_literals;

namespace {

std::string one_line(std::string s) {
  std::string out;
  for (char c : s) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind(name + "=", 0) == 0) return std::string(argv[i]).substr(name.size() + 1);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  pchat::client::client_loop loop;
  pchat::client::connection_config cc;
  cc.server_port = static_cast<uint16_t>(std::stoi(arg(argc, argv, "--port", "5060")));
  pchat::client::client_config cfg;
  cfg.user = arg(argc, argv, "--user", "bob@example.com");
  cfg.password = arg(argc, argv, "--password", "");
  auto lifetime = std::chrono::seconds(std::stoi(arg(argc, argv, "--lifetime-s", "120")));
  auto end = std::chrono::steady_clock::now() + lifetime;
  pchat::client::chat_client c(loop, cc, cfg);
  if (!c.sign_in(10s)) {
    std::fprintf(stderr, "web_sip_peer: sign-in failed: %s\n", c.failure_reason().c_str());
    return 1;
  }
  auto rooms = c.search_rooms("demo", 10s);
  if (!rooms || rooms->empty()) {
    std::fprintf(stderr, "web_sip_peer: no demo room found\n");
    return 1;
  }
  std::string room = rooms->front().uri;
  auto joined = c.join_and_wait(room, 10s);
  if (!joined || joined->code != 200) {
    std::fprintf(stderr, "web_sip_peer: join failed\n");
    return 1;
  }
  c.callbacks().on_message = [](pchat::client::chat_client&, const pchat::client::chat_post& p) {
    std::printf("got %s %s\n", p.author.c_str(), one_line(p.text).c_str());
    std::fflush(stdout);
  };
  std::printf("room %s\n", room.c_str());
  std::fflush(stdout);
  std::string pending;
  while (std::chrono::steady_clock::now() < end) {
    loop.run_once(50);
    pollfd in{0, POLLIN, 0};
    if (::poll(&in, 1, 0) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    bool quit = false;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line == "quit") quit = true;
      if (line.rfind("posts ", 0) == 0) {
        size_t sp = line.find(' ', 6);
        int n = std::atoi(line.substr(6, sp - 6).c_str());
        std::string prefix = sp == std::string::npos ? std::string("post") : line.substr(sp + 1);
        bool ok = true;
        for (int i = 1; ok && i <= n; ++i)
          ok = c.post_and_wait_ack(room, prefix + " " + std::to_string(i), 10s);
        if (ok)
          std::printf("acked %d\n", n);
        else
          std::printf("failed\n");
        std::fflush(stdout);
      } else if (line.rfind("post ", 0) == 0) {
        bool ok = c.post_and_wait_ack(room, line.substr(5), 10s);
        std::printf("%s\n", ok ? "acked" : "failed");
        std::fflush(stdout);
      }
    }
    if (quit) break;
  }
  c.sign_out_and_wait(5s);
  return 0;
}
