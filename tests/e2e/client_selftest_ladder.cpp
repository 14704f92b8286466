// The client's sign-in ladder and command tracking against an in-process fake server.
//
// The fake server is deliberately small and scripted: it answers the ladder the way
// xccos-wire.md §7 says a server must, replies to XCCOS commands with the server codec's
// encoders (protocol/xccos), echoes posts to their author and can be told to misbehave.
// It runs on its own thread with its own sockets; the test thread runs the client loop.
// Nothing here is a model of pchatd: the real end-to-end tests run against pchatd.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/xccos/xccos_codec.h"
#include "tools/client/sip_wire.h"
#include "tools/client/xccos_client.h"

namespace pchat::client {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDemoRoom = "ma-chan://example.com/demo";
constexpr const char* kChatUri = "sip:chat@example.com";
constexpr auto kWait = 5s;

std::string join_faults(const chat_client& c) {
  std::string out;
  for (const auto& f : c.faults()) out += "\n  fault: " + f;
  return out;
}

class fake_server {
 public:
  struct options {
    bool udp = false;
    bool piggyback = true;             // provisioning in the SUBSCRIBE 200, else in a NOTIFY
    bool drop_first_register = false;  // loses the first REGISTER (UDP retransmission test)
    bool register_expires = true;      // false: REGISTER 200 without Expires
    bool reason_phrases = true;        // false: "SIP/2.0 200" (SIPE stalls on it)
  };

  explicit fake_server(options o) : opt_(o) {
    fd_ = ::socket(AF_INET, (opt_.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    if (!opt_.udp) {
      EXPECT_EQ(::listen(fd_, 16), 0);
    }
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~fake_server() {
    stop_ = true;
    thread_.join();
    for (auto& p : peers_) ::close(p->fd);
    ::close(fd_);
  }

  uint16_t port() const { return port_; }

  // Requests the server received, as "METHOD" or "INFO cmd:x".
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> g(mu_);
    return seen_;
  }
  bool saw(const std::string& what) {
    for (const auto& s : seen()) {
      if (s == what) return true;
    }
    return false;
  }
  // Statuses the client answered to server-originated requests, as "METHOD status".
  std::vector<std::string> client_answers() {
    std::lock_guard<std::mutex> g(mu_);
    return answers_;
  }
  bool client_answered(const std::string& what) {
    for (const auto& s : client_answers()) {
      if (s == what) return true;
    }
    return false;
  }
  // Sends an INFO on a Call-ID the client does not have, to the last INVITE dialog's user.
  void send_stale_info() {
    std::lock_guard<std::mutex> g(mu_);
    stale_requested_ = true;
  }

 private:
  struct peer {
    int fd = -1;  // TCP connection; the server socket for UDP
    sockaddr_in addr{};
    sip_stream_framer framer;
  };
  struct dialog {
    peer* p = nullptr;
    std::string client_uri, client_tag, server_tag, target;
    uint32_t cseq = 0;
  };

  void run() {
    if (opt_.udp) {
      auto p = std::make_unique<peer>();
      p->fd = fd_;
      udp_ = p.get();
      peers_owned_udp_ = std::move(p);
    }
    char buf[65536];
    while (!stop_) {
      std::vector<pollfd> fds;
      fds.push_back({fd_, POLLIN, 0});
      for (auto& p : peers_) fds.push_back({p->fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 10);
      {
        std::lock_guard<std::mutex> g(mu_);
        if (stale_requested_ && last_dialog_) {
          stale_requested_ = false;
          dialog stale = *last_dialog_;
          send_info(
              stale, "stale-call-id",
              xccos::encode_grpchat({kDemoRoom, kChatUri, "2024-01-01T00:00:00Z", "stale", ""}, 1));
        }
      }
      if (fds[0].revents & POLLIN) {
        if (opt_.udp) {
          sockaddr_in from{};
          socklen_t len = sizeof from;
          ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
          if (n > 0) {
            udp_->addr = from;
            sip_message m;
            if (parse_sip_datagram(std::string_view(buf, n), m).ok() &&
                (m.status != 0 || !m.method.empty())) {
              handle(*udp_, m);
            }
          }
        } else {
          int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) {
            int one = 1;  // replies go out as two writes (200, then the rpl INFO): no Nagle
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto p = std::make_unique<peer>();
            p->fd = c;
            peers_.push_back(std::move(p));
          }
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        peer& p = *peers_[i - 1];
        ssize_t n = ::recv(p.fd, buf, sizeof buf, 0);
        if (n <= 0) continue;
        p.framer.append(std::string_view(buf, n));
        sip_message m;
        while (p.framer.next(m) == sip_stream_framer::result::message) handle(p, m);
      }
    }
  }

  void send_to(peer& p, const std::string& bytes) {
    if (opt_.udp) {
      ::sendto(p.fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&p.addr),
               sizeof p.addr);
    } else {
      ::send(p.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
  }

  void reply(peer& p, const sip_message& m, int status, const std::string& reason,
             const std::string& to_tag, const std::string& extra = "",
             const std::string& body = "") {
    std::string out = "SIP/2.0 " + std::to_string(status);
    if (opt_.reason_phrases) out += " " + reason;
    out += "\r\n";
    for (const auto& h : m.headers) {
      if (ascii_iequal(h.name, "Via") || ascii_iequal(h.name, "From") || ascii_iequal(h.name, "Call-ID") ||
          ascii_iequal(h.name, "CSeq")) {
        out += h.name + ": " + h.value + "\r\n";
      } else if (ascii_iequal(h.name, "To")) {
        out += h.name + ": " + h.value;
        if (m.to_tag().empty() && !to_tag.empty()) out += ";tag=" + to_tag;
        out += "\r\n";
      }
    }
    out += extra;
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    send_to(p, out);
  }

  void send_request(dialog& d, const std::string& method, const std::string& call_id,
                    const std::string& extra, const std::string& body) {
    std::string out = method + " " + d.target + " SIP/2.0\r\n";
    out += "Via: SIP/2.0/" + std::string(opt_.udp ? "UDP" : "TCP") +
           " 127.0.0.1:" + std::to_string(port_) + ";branch=z9hG4bKsrv" +
           std::to_string(++branch_) + "\r\n";
    out += "From: <" + std::string(method == "NOTIFY" ? d.client_uri : kChatUri) +
           ">;tag=" + d.server_tag + "\r\n";
    out += "To: <" + d.client_uri + ">;tag=" + d.client_tag + "\r\n";
    out += "Call-ID: " + call_id + "\r\n";
    out += "CSeq: " + std::to_string(++d.cseq) + " " + method + "\r\n";
    out += "Max-Forwards: 70\r\n" + extra;
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    send_to(*d.p, out);
  }

  void send_info(dialog& d, const std::string& call_id, const std::string& body) {
    send_request(d, "INFO", call_id, "Content-Type: text/plain\r\n", body);
  }

  void note(const std::string& s) {
    std::lock_guard<std::mutex> g(mu_);
    seen_.push_back(s);
  }

  void handle(peer& p, const sip_message& m) {
    if (m.is_response()) {
      std::lock_guard<std::mutex> g(mu_);
      answers_.push_back(std::string(m.cseq_method()) + " " + std::to_string(m.status));
      return;
    }
    const std::string call_id(m.call_id());
    // Keyed by user too: SIPE clients started in one second share Call-IDs.
    const std::string dialog_key = call_id + "|" + std::string(m.from_uri());
    if (m.method == "REGISTER") {
      note("REGISTER");
      if (opt_.drop_first_register && registers_++ == 0) return;
      std::string extra;
      if (opt_.register_expires) extra += "Expires: 3600\r\n";
      extra +=
          "Supported: msrtc-event-categories\r\nAllow-Events: vnd-microsoft-provisioning-v2\r\n";
      reply(p, m, 200, "OK", "reg", extra);
    } else if (m.method == "SUBSCRIBE") {
      note("SUBSCRIBE");
      const std::string body =
          "<provisionGroupList><provisionGroup name=\"persistentChatConfiguration\">"
          "<propertyEntryList><property name=\"EnablePersistentChat\">true</property>"
          "<property name=\"DefaultPersistentChatPoolUri\">" +
          std::string(kChatUri) +
          "</property></propertyEntryList></provisionGroup>"
          "</provisionGroupList>";
      const std::string type =
          "Content-Type: application/vnd-microsoft-roaming-provisioning-v2+xml\r\n";
      if (opt_.piggyback) {
        reply(
            p, m, 200, "OK", "sub",
            "Expires: 0\r\nms-piggyback-cseq: 1\r\nEvent: vnd-microsoft-provisioning-v2\r\n" + type,
            body);
      } else {
        reply(p, m, 200, "OK", "sub", "Expires: 0\r\n");
        dialog d{&p,    std::string(m.from_uri()), std::string(m.from_tag()),
                 "sub", std::string(m.from_uri()), 0};
        send_request(
            d, "NOTIFY", call_id,
            "Event: vnd-microsoft-provisioning-v2\r\nSubscription-State: terminated\r\n" + type,
            body);
      }
    } else if (m.method == "INVITE") {
      note("INVITE");
      dialog& d = dialogs_[dialog_key];
      d.p = &p;
      d.client_uri = std::string(m.from_uri());
      d.client_tag = std::string(m.from_tag());
      d.server_tag = "srv" + std::to_string(dialogs_.size());
      const std::string* contact = m.header("Contact");
      d.target = contact ? std::string(uri_of(*contact)) : d.client_uri;
      {
        std::lock_guard<std::mutex> g(mu_);
        last_dialog_ = &d;
      }
      reply(p, m, 200, "OK", d.server_tag,
            "Contact: <sip:chat@127.0.0.1:" + std::to_string(port_) + ";transport=tcp>\r\n");
    } else if (m.method == "INFO") {
      // Decoded and noted before the 200, so that a test seeing the 200 sees the note.
      xccos::command c;
      pchat::status st = xccos::decode(m.body, c);
      note("INFO " + (st.is_ok() ? c.id : std::string("malformed")));
      auto it = dialogs_.find(dialog_key);
      reply(p, m, 200, "OK", "");
      if (it == dialogs_.end() || !st.is_ok()) return;
      on_command(it->second, call_id, c);
    } else if (m.method == "ACK") {
      note("ACK");
    } else {
      note(m.method);
      reply(p, m, 200, "OK", "");
    }
  }

  void on_command(dialog& d, const std::string& call_id, const xccos::command& c) {
    xccos::reply_head h;
    h.id = c.id.rfind("cmd:", 0) == 0 ? "rpl:" + c.id.substr(4) : c.id;
    h.cmd_envid = c.envid;
    h.cmd_seqid = c.seqid;
    h.envid = ++envid_;
    const std::string room = c.rooms.empty() ? "" : c.rooms[0].uri;
    std::string out;
    switch (c.kind) {
      case xccos::command_kind::requri:
        out = xccos::encode_requri_reply(h, kChatUri);
        break;
      case xccos::command_kind::chansrch: {
        xccos::room_summary s;
        s.uri = kDemoRoom;
        s.name = "Demo Room";
        s.description = "for tests";
        s.user_count = 2;
        out = xccos::encode_chansrch_reply(h, {s});
        break;
      }
      case xccos::command_kind::join:
      case xccos::command_kind::bjoin: {
        std::vector<xccos::joined_room> joined;
        std::vector<std::string> failed;
        for (const auto& r : c.rooms) {
          if (r.uri == kDemoRoom) {
            joined.push_back({kDemoRoom,
                              "Demo Room",
                              "topic",
                              {{d.client_uri, false}, {"sip:boss@example.com", true}}});
          } else {
            failed.push_back(r.uri);
          }
        }
        if (c.kind == xccos::command_kind::join && joined.empty()) {
          h.code = xccos::result_code::not_found;
          out = xccos::encode_empty_reply(h);
        } else {
          out = xccos::encode_join_reply(h, joined, failed);
        }
        if (!joined.empty()) {
          send_info(d, call_id, out);
          out = xccos::encode_join_notice(kDemoRoom, "sip:carol@example.com", false, ++envid_);
        }
        break;
      }
      case xccos::command_kind::part:
        out = xccos::encode_part_reply(h, room);
        break;
      case xccos::command_kind::bccontext:
        out = xccos::encode_backchat_reply(
            h, room, {{room, "sip:bob@example.com", "2024-05-01T12:00:00.0000000Z", "old", ""}});
        break;
      case xccos::command_kind::getserverinfo: {
        h.id = "rpl:getservinfo";
        xccos::server_info info;
        info.domain = "example.com";
        info.root_uri = "ma-cat://example.com/root";
        out = xccos::encode_serverinfo_reply(h, info);
        break;
      }
      case xccos::command_kind::getpref:
        out = xccos::encode_getpref_reply(h, {c.pref_label, c.pref_seqid, "aGk="});
        break;
      case xccos::command_kind::grpchat:
        out = xccos::encode_grpchat(c.chat, ++envid_);  // echo to the author
        break;
      default:
        out = xccos::encode_empty_reply(h);
        break;
    }
    send_info(d, call_id, out);
  }

  options opt_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::unique_ptr<peer>> peers_;  // TCP connections
  std::unique_ptr<peer> peers_owned_udp_;
  peer* udp_ = nullptr;
  std::map<std::string, dialog> dialogs_;
  int registers_ = 0;
  uint64_t envid_ = 1000;
  uint64_t branch_ = 0;

  std::mutex mu_;  // guards the members below
  std::vector<std::string> seen_;
  std::vector<std::string> answers_;
  dialog* last_dialog_ = nullptr;
  bool stale_requested_ = false;
};

connection_config conn_to(const fake_server& s, transport_kind t = transport_kind::tcp) {
  connection_config c;
  c.transport = t;
  c.server_port = s.port();
  return c;
}

client_config user(const std::string& name) {
  client_config c;
  c.user = name + "@example.com";
  return c;
}

TEST(ClientLadder, SignsInOverTcpAndEveryCommandGetsItsTypedReply) {
  fake_server server({});
  client_loop loop;
  chat_client alice(loop, conn_to(server), user("alice"));
  ASSERT_TRUE(alice.sign_in(kWait)) << alice.failure_reason() << join_faults(alice);
  EXPECT_EQ(alice.pool_uri(), kChatUri);
  EXPECT_EQ(alice.channel_uri(), kChatUri);
  EXPECT_EQ(alice.register_expires(), 3600);

  auto rooms = alice.search_rooms("", kWait);
  ASSERT_TRUE(rooms.has_value());
  ASSERT_EQ(rooms->size(), 1u);
  EXPECT_EQ((*rooms)[0].name, "Demo Room");
  EXPECT_EQ((*rooms)[0].user_count, 2);

  uint64_t roster_from = alice.next_roster_seq();
  auto joined = alice.join_and_wait(kDemoRoom, kWait);
  ASSERT_TRUE(joined.has_value());
  EXPECT_TRUE(joined->ok()) << joined->code << " " << joined->text;
  EXPECT_EQ(joined->room.members, std::vector<std::string>{"sip:alice@example.com"});
  EXPECT_EQ(joined->room.managers, std::vector<std::string>{"sip:boss@example.com"});
  EXPECT_TRUE(alice.in_room(kDemoRoom));
  auto carol = alice.wait_for_roster(
      [](const roster_event& e) { return e.user == "sip:carol@example.com"; }, kWait, roster_from);
  ASSERT_TRUE(carol.has_value());
  EXPECT_EQ(alice.rooms().at(kDemoRoom).members.count("sip:carol@example.com"), 1u);

  uint64_t from = alice.next_message_seq();
  ASSERT_TRUE(alice.post_and_wait_ack(kDemoRoom, "hello & <world>", kWait));
  auto echo = alice.wait_for_message([](const chat_post& p) { return p.text == "hello & <world>"; },
                                     kWait, from);
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->author, "sip:alice@example.com");
  EXPECT_EQ(echo->room, kDemoRoom);
  EXPECT_NE(echo->ts_micros, 0);

  auto history = alice.backchat_and_wait(kDemoRoom, 25, kWait);
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].text, "old");

  auto info = alice.wait_command(alice.get_server_info(), kWait);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->ok());
  EXPECT_EQ(info->sip_status, 200);
  EXPECT_EQ(info->reply.id, "rpl:getservinfo");
  EXPECT_GT(info->reply_latency.count(), 0);

  auto pref = alice.wait_command(alice.get_pref("kedzie.GroupChannels"), kWait);
  ASSERT_TRUE(pref.has_value());
  EXPECT_EQ(pref->reply.pref_content, "aGk=");
  auto setpref = alice.wait_command(alice.set_pref("kedzie.GroupChannels", "aGk="), kWait);
  ASSERT_TRUE(setpref.has_value());
  EXPECT_TRUE(setpref->ok());

  auto batch = alice.bjoin_and_wait({kDemoRoom, "ma-chan://example.com/missing"}, kWait);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->joined.size(), 1u);
  ASSERT_EQ(batch->failed.size(), 1u);
  EXPECT_EQ(batch->failed[0].uri, "ma-chan://example.com/missing");

  auto missing = alice.join_and_wait("ma-chan://example.com/missing", kWait);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->code, 404);
  EXPECT_FALSE(missing->ok());

  EXPECT_TRUE(alice.part_and_wait(kDemoRoom, kWait));
  EXPECT_FALSE(alice.in_room(kDemoRoom));

  auto raw = alice.wait_command(alice.send_raw_info("<xccos><cmd"), kWait);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->sip_status, 200);

  EXPECT_TRUE(server.saw("INFO cmd:getinv"));  // SIPE's step after the channel INVITE
  EXPECT_TRUE(server.saw("INFO malformed"));
  EXPECT_EQ(alice.commands_in_flight(), 0u);
  EXPECT_TRUE(alice.faults().empty()) << join_faults(alice);

  EXPECT_TRUE(alice.sign_out_and_wait(kWait));
  EXPECT_EQ(alice.state(), client_state::signed_out);
}

TEST(ClientLadder, InfoOnAStaleCallIdIsAnswered487) {
  fake_server server({});
  client_loop loop;
  chat_client alice(loop, conn_to(server), user("alice"));
  ASSERT_TRUE(alice.sign_in(kWait)) << alice.failure_reason();
  server.send_stale_info();
  EXPECT_TRUE(loop.run_until([&] { return server.client_answered("INFO 487"); }, kWait));
  EXPECT_EQ(alice.stats().stale_infos, 1u);
  EXPECT_TRUE(alice.messages().empty());
}

TEST(ClientLadder, ProvisioningInANotifyIsAcceptedAndAnswered200) {
  fake_server::options o;
  o.piggyback = false;
  fake_server server(o);
  client_loop loop;
  chat_client alice(loop, conn_to(server), user("alice"));
  ASSERT_TRUE(alice.sign_in(kWait)) << alice.failure_reason() << join_faults(alice);
  EXPECT_TRUE(server.client_answered("NOTIFY 200"));
  EXPECT_TRUE(alice.faults().empty()) << join_faults(alice);
}

TEST(ClientLadder, RegisterOkWithoutExpiresFailsSignInAsInSipe) {
  fake_server::options o;
  o.register_expires = false;
  fake_server server(o);
  client_loop loop;
  chat_client alice(loop, conn_to(server), user("alice"));
  EXPECT_FALSE(alice.sign_in(kWait));
  EXPECT_EQ(alice.state(), client_state::failed);
  EXPECT_NE(alice.failure_reason().find("Expires"), std::string::npos) << alice.failure_reason();
  EXPECT_FALSE(server.saw("SUBSCRIBE"));
}

TEST(ClientLadder, MissingReasonPhrasesAreReportedAsFaults) {
  fake_server::options o;
  o.reason_phrases = false;
  fake_server server(o);
  client_loop loop;
  chat_client alice(loop, conn_to(server), user("alice"));
  ASSERT_TRUE(alice.sign_in(kWait)) << alice.failure_reason();
  ASSERT_FALSE(alice.faults().empty());
  EXPECT_NE(alice.faults()[0].find("reason phrase"), std::string::npos) << join_faults(alice);
}

TEST(ClientLadder, UdpRetransmitsALostRegister) {
  fake_server::options o;
  o.udp = true;
  o.drop_first_register = true;
  fake_server server(o);
  client_loop loop;
  chat_client alice(loop, conn_to(server, transport_kind::udp), user("alice"));
  ASSERT_TRUE(alice.sign_in(kWait)) << alice.failure_reason() << join_faults(alice);
  EXPECT_GE(alice.stats().retransmissions, 1u);
  uint64_t from = alice.next_message_seq();
  ASSERT_TRUE(alice.join_and_wait(kDemoRoom, kWait).has_value());
  ASSERT_TRUE(alice.post_and_wait_ack(kDemoRoom, "over udp", kWait));
  EXPECT_TRUE(
      alice.wait_for_message([](const chat_post& p) { return p.text == "over udp"; }, kWait, from)
          .has_value());
}

TEST(ClientLadder, ManyUsersShareOneConnectionAndGetTheirOwnTraffic) {
  fake_server server({});
  client_loop loop;
  auto conn = sip_connection::open(loop, conn_to(server));
  std::vector<std::unique_ptr<chat_client>> users;
  for (const char* name : {"alice", "bob", "carol", "dave"}) {
    auto cfg = user(name);
    cfg.id_seed = 42;  // identical Call-IDs and tags, as SIPE clients started in one second
    users.push_back(std::make_unique<chat_client>(loop, conn, cfg));
  }
  for (auto& u : users) ASSERT_TRUE(u->start());
  ASSERT_TRUE(loop.run_until(
      [&] {
        for (auto& u : users) {
          if (!u->is_ready()) return false;
        }
        return true;
      },
      kWait));
  // Distinct Call-IDs are not needed for routing, but here they are equal only because of
  // id_seed; routing also relies on the To URI, so check both users got their own replies.
  EXPECT_EQ(users[0]->channel_call_id(), users[1]->channel_call_id());
  (void)users;
  for (auto& u : users) {
    auto j = u->join_and_wait(kDemoRoom, kWait);
    ASSERT_TRUE(j.has_value());
    EXPECT_EQ(j->code, 200) << j->text << join_faults(*u);
    EXPECT_EQ(j->room.members, std::vector<std::string>{u->self_uri()});
  }
  ASSERT_TRUE(users[2]->post_and_wait_ack(kDemoRoom, "from carol", kWait));
  ASSERT_TRUE(
      users[2]
          ->wait_for_message([](const chat_post& p) { return p.text == "from carol"; }, kWait)
          .has_value());
  EXPECT_TRUE(users[0]->messages().empty());
}

TEST(ClientLadder, ConnectionRefusedFailsSignInPromptly) {
  // Bind and close a socket to get a port that nobody listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  client_loop loop;
  connection_config c;
  c.server_port = ntohs(sa.sin_port);
  chat_client alice(loop, c, user("alice"));
  EXPECT_FALSE(alice.sign_in(kWait));
  EXPECT_NE(alice.failure_reason().find("refused"), std::string::npos) << alice.failure_reason();
}

}  // namespace
}  // namespace pchat::client
