// The web client's protocol end to end (issue 14, docs/WEB.md): a real pchatd, a browser's
// sign-in over HTTP and its WebSocket at /ws spoken directly (Boost.Beast), beside a SIP
// client (tools/client) in the same room.
#include <gtest/gtest.h>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <unistd.h>

#include "protocol/xccos/followed_rooms.h"
#include "tests/support/chat_clients.h"
#include "pool/placement.h"
#include "tests/support/ctl.h"
#include "tests/support/eventually.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/pool_cluster.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using json = nlohmann::json;
using pchat::testing::http;

// A browser's WebSocket: the handshake on the test thread, then reads on an I/O thread into
// a queue the test waits on (deadlines), writes one at a time from the test thread.
class ws_client {
 public:
  // Connects and upgrades; false (and the HTTP status in *status) when refused.
  bool open(uint16_t port, const std::string& cookie, const std::string& origin, int* status = nullptr) {
    try {
      asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
      beast::get_lowest_layer(ws_).connect(ep);
      ws_.set_option(websocket::stream_base::decorator([cookie, origin](websocket::request_type& req) {
        if (!cookie.empty()) req.set(beast::http::field::cookie, cookie);
        if (!origin.empty()) req.set(beast::http::field::origin, origin);
      }));
      beast::error_code ec;
      ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws", ec);
      if (ec) {
        // Beast does not hand back a refusal's status: ask again by hand.
        if (status) *status = upgrade_status(port, cookie, origin);
        return false;
      }
      if (status) *status = 101;
    } catch (const std::exception&) {
      return false;
    }
    ws_.read_message_max(8 << 20);
    read();
    thread_ = std::thread([this] { ioc_.run(); });
    return true;
  }
  ~ws_client() {
    asio::post(ioc_, [this] { beast::get_lowest_layer(ws_).close(); });
    if (thread_.joinable()) thread_.join();
  }

  // The status of a WebSocket upgrade request sent by hand (its first line only).
  static int upgrade_status(uint16_t port, const std::string& cookie, const std::string& origin) {
    int fd = pchat::testing::connect_loopback(port);
    if (fd < 0) return 0;
    std::string req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                      "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
    if (!origin.empty()) req += "Origin: " + origin + "\r\n";
    pchat::testing::send_all(fd, req + "\r\n");
    std::string got;
    char buf[512];
    ssize_t n;
    while (got.find("\r\n") == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0) got.append(buf, size_t(n));
    ::close(fd);
    return got.size() > 12 ? std::atoi(got.substr(9, 3).c_str()) : 0;
  }

  // Sends one text message; false if the write failed (connection gone).
  bool send(const std::string& text) {
    std::promise<bool> done;
    asio::post(ioc_, [&] {
      beast::error_code ec;
      ws_.text(true);
      ws_.write(asio::buffer(text), ec);  // on the I/O thread: never beside a read's own write
      done.set_value(!ec);
    });
    return done.get_future().get();
  }
  bool send(const json& j) { return send(j.dump()); }

  // The first message not taken yet that matches `pred` (taken), or nullopt at the deadline.
  template <class Pred>
  std::optional<json> next(Pred pred, std::chrono::milliseconds deadline = 10s) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<json> found;
    cv_.wait_for(lock, deadline, [&] {
      for (auto it = in_.begin(); it != in_.end(); ++it)
        if (pred(*it)) {
          found = *it;
          in_.erase(it);
          return true;
        }
      return false;
    });
    return found;
  }
  std::optional<json> next_type(const std::string& type, std::chrono::milliseconds deadline = 10s) {
    return next([&](const json& j) { return j.value("type", "") == type; }, deadline);
  }
  // Every message received and not taken (a snapshot).
  std::deque<json> pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return in_;
  }
  // True once the connection is closed; its close code (0 if none came).
  bool wait_closed(std::chrono::milliseconds deadline, int* code = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    bool closed = cv_.wait_for(lock, deadline, [&] { return closed_; });
    if (code) *code = close_code_;
    return closed;
  }

 private:
  void read() {
    ws_.async_read(buf_, [this](beast::error_code ec, size_t) {
      std::lock_guard<std::mutex> lock(mu_);
      if (ec) {
        closed_ = true;
        close_code_ = ws_.reason().code;
        cv_.notify_all();
        return;
      }
      auto j = json::parse(beast::buffers_to_string(buf_.data()), nullptr, false);
      buf_.consume(buf_.size());
      in_.push_back(j.is_discarded() ? json{{"type", "not-json"}} : j);
      cv_.notify_all();
      read();
    });
  }

  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  beast::flat_buffer buf_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<json> in_;
  bool closed_ = false;
  int close_code_ = 0;
};

// The session cookie's "name=value" from a sign-in answer's Set-Cookie, "" if none.
std::string session_cookie(const std::string& head) {
  auto at = head.find("Set-Cookie: pchat_session=");
  if (at == std::string::npos) return {};
  auto start = at + 12;
  return head.substr(start, head.find(';', start) - start);
}

class WebE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start()) << server_.stderr_text();
    pchat::testing::ctl_ok(server_, "user new --uri sip:wendy@example.com --password pw-wendy");
    origin_ = "http://127.0.0.1:" + std::to_string(server_.http_port());
  }
  // Signs wendy in; the cookie ("pchat_session=...").
  std::string sign_in() {
    auto r = http(server_.http_port(), "POST", "/api/web/session", {"Content-Type: application/json"},
                  R"({"address":"wendy@example.com","password":"pw-wendy"})");
    EXPECT_EQ(r.status, 200) << r.body;
    return session_cookie(r.head);
  }

  pchat::testing::temp_dir dir_{"web"};
  pchat::testing::server_process server_{dir_ / "data"};
  std::string origin_;
};

}  // namespace

// Sign in, join, post; a SIP client in the same room sees the browser's post and the browser
// sees the SIP client's; a retry with the same post id is acknowledged once more and stored
// once; a new connection resumes after the last seq it saw.
TEST_F(WebE2E, BrowserAndSipClientChatInOneRoom) {
  // The sign-in checks the stored HA1 and sets a strict session cookie.
  auto wrong = http(server_.http_port(), "POST", "/api/web/session", {"Content-Type: application/json"},
                    R"({"address":"wendy@example.com","password":"nope"})");
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(session_cookie(wrong.head), "");
  auto ok = http(server_.http_port(), "POST", "/api/web/session", {"Content-Type: application/json"},
                 R"({"address":"wendy@example.com","password":"pw-wendy"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.head.find("HttpOnly"), std::string::npos) << ok.head;
  EXPECT_NE(ok.head.find("SameSite=Strict"), std::string::npos) << ok.head;
  std::string cookie = session_cookie(ok.head);
  ASSERT_FALSE(cookie.empty()) << ok.head;
  auto me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  EXPECT_EQ(me.status, 200);
  EXPECT_NE(me.body.find("sip:wendy@example.com"), std::string::npos) << me.body;

  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  std::string room = pchat::testing::join_demo(bob);
  ASSERT_FALSE(room.empty());
  ASSERT_TRUE(bob.post_and_wait_ack(room, "before the browser came", 10s));

  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, origin_));
  auto hello = web.next_type("hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ((*hello)["user"], "sip:wendy@example.com");

  ASSERT_TRUE(web.send(json{{"type", "rooms"}}));
  auto rooms = web.next_type("rooms");
  ASSERT_TRUE(rooms);
  bool listed = false;
  for (auto& r : (*rooms)["rooms"]) listed = listed || r["uri"] == room;
  EXPECT_TRUE(listed) << rooms->dump();

  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}, {"history", 10}}));
  auto joined = web.next_type("joined");
  ASSERT_TRUE(joined) << "pending: " << json(web.pending()).dump();
  ASSERT_FALSE((*joined)["backchat"].empty());
  auto last = (*joined)["backchat"].back();
  EXPECT_EQ(last["text"], "before the browser came");
  EXPECT_EQ(last["author"], "sip:bob@example.com");
  uint64_t bob_seq = last["seq"].get<uint64_t>();
  EXPECT_GT(bob_seq, 0u);

  // The browser's post: acknowledged once durable, with its seq; the SIP client gets it.
  ASSERT_TRUE(web.send(json{{"type", "post"}, {"room", room}, {"id", "w-1"}, {"text", "hello from the browser"}}));
  auto ack = web.next_type("ack");
  ASSERT_TRUE(ack) << json(web.pending()).dump();
  EXPECT_EQ((*ack)["id"], "w-1");
  uint64_t web_seq = (*ack)["seq"].get<uint64_t>();
  EXPECT_EQ(web_seq, bob_seq + 1);
  auto echo = web.next_type("message");
  ASSERT_TRUE(echo);
  EXPECT_EQ((*echo)["id"], "w-1");
  EXPECT_EQ((*echo)["seq"], web_seq);
  auto got = bob.wait_for_message([](const auto& m) { return m.text == "hello from the browser"; }, 10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->author, "sip:wendy@example.com");

  // The SIP client's post reaches the browser live, next in seq.
  ASSERT_TRUE(bob.post_and_wait_ack(room, "hello from SIP", 10s));
  auto live = web.next([](const json& j) { return j.value("type", "") == "message" && j.value("text", "") == "hello from SIP"; });
  ASSERT_TRUE(live) << json(web.pending()).dump();
  EXPECT_EQ((*live)["author"], "sip:bob@example.com");
  EXPECT_EQ((*live)["seq"], web_seq + 1);

  // A retry with the same id (the answer was lost): acknowledged, not stored again.
  ASSERT_TRUE(web.send(json{{"type", "post"}, {"room", room}, {"id", "w-1"}, {"text", "hello from the browser"}}));
  auto again = web.next_type("ack");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["id"], "w-1");
  auto history = bob.backchat_and_wait(room, 50, 10s);
  ASSERT_TRUE(history);
  int copies = 0;
  for (auto& m : *history) copies += m.text == "hello from the browser" ? 1 : 0;
  EXPECT_EQ(copies, 1);
  EXPECT_FALSE(web.next([](const json& j) { return j.value("text", "") == "hello from the browser"; }, 300ms))
      << "a retry must not be fanned out again";

  // A second connection (a reconnect) resumes after the last seq it saw: only what followed.
  ws_client again_web;
  ASSERT_TRUE(again_web.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(again_web.send(json{{"type", "join"}, {"room", room}, {"after", web_seq}}));
  auto resumed = again_web.next_type("joined");
  ASSERT_TRUE(resumed);
  ASSERT_EQ((*resumed)["backchat"].size(), 1u) << resumed->dump();
  EXPECT_EQ((*resumed)["backchat"][0]["text"], "hello from SIP");
  EXPECT_EQ((*resumed)["gap"], false);
  pchat::testing::expect_clean(bob);
}

// What a browser must not get through: no cookie, another origin, bad JSON, a frame over
// the limit, a post before joining; unknown paths are a plain 404 and / is the page.
TEST_F(WebE2E, BadInputIsRefusedCleanly) {
  int status = 0;
  {
    ws_client anonymous;
    EXPECT_FALSE(anonymous.open(server_.http_port(), "", origin_, &status));
    EXPECT_EQ(status, 401);
  }
  // A sign-in another site's page started is refused, by Origin or by Fetch metadata (the
  // one check the user services use, app/user_auth.h cross_site).
  for (const std::string& h : {std::string("Origin: http://evil.example"), std::string("Sec-Fetch-Site: cross-site")}) {
    auto r = http(server_.http_port(), "POST", "/api/web/session", {"Content-Type: application/json", h},
                  R"({"address":"wendy@example.com","password":"pw-wendy"})");
    EXPECT_EQ(r.status, 403) << h << ": " << r.body;
    EXPECT_TRUE(session_cookie(r.head).empty()) << h;
  }
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  {
    ws_client elsewhere;
    EXPECT_FALSE(elsewhere.open(server_.http_port(), cookie, "http://evil.example", &status));
    EXPECT_EQ(status, 403);
  }
  {
    ws_client forged;
    EXPECT_FALSE(forged.open(server_.http_port(), "pchat_session=00ff", origin_, &status));
    EXPECT_EQ(status, 401);
  }

  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(web.next_type("hello"));
  ASSERT_TRUE(web.send(std::string("{not json")));
  auto err = web.next_type("error");
  ASSERT_TRUE(err);
  EXPECT_NE((*err)["error"].get<std::string>().find("not JSON"), std::string::npos);
  ASSERT_TRUE(web.send(json{{"type", "launch"}}));
  ASSERT_TRUE(web.next_type("error"));
  ASSERT_TRUE(web.send(json{{"type", "post"}, {"room", "ma-chan://example.com/nowhere"}, {"id", "x"}, {"text", "t"}}));
  auto failed = web.next_type("failed");
  ASSERT_TRUE(failed);
  EXPECT_EQ((*failed)["retry"], false);
  // Still served after all that.
  ASSERT_TRUE(web.send(json{{"type", "rooms"}}));
  ASSERT_TRUE(web.next_type("rooms"));

  // A message over the limit (64 KiB) closes the connection with 1009; the server lives on.
  // One byte over: the whole frame is written before the server reads it. With 200 KiB the
  // server's close (after 64 KiB) raced this client's own write, and 2-4 of 40 runs saw a
  // reset instead of the close frame (tracked in the closing note).
  ASSERT_TRUE(web.send(std::string(64 * 1024 + 1, 'x')));
  int code = 0;
  EXPECT_TRUE(web.wait_closed(10s, &code));
  EXPECT_EQ(code, 1009);

  auto page = http(server_.http_port(), "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.head.find("text/html"), std::string::npos);
  auto unknown = http(server_.http_port(), "GET", "/no/such/page");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "not found\n");
  // Sign-out needs the csrf token; then the cookie no longer opens a socket.
  auto me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  std::string csrf = json::parse(me.body).value("csrf", "");
  EXPECT_EQ(http(server_.http_port(), "DELETE", "/api/web/session", {"Cookie: " + cookie}).status, 403);
  EXPECT_EQ(http(server_.http_port(), "DELETE", "/api/web/session", {"Cookie: " + cookie, "X-PChat-CSRF: " + csrf}).status, 200);
  ws_client after;
  EXPECT_FALSE(after.open(server_.http_port(), cookie, origin_, &status));
  EXPECT_EQ(status, 401);
  EXPECT_TRUE(server_.running());
}

// A web session is a member like any other: counted in the room's users, removed from a
// room it loses access to, and ended (told, then closed) when its user is disabled, whose
// sign-in then no longer opens a socket.
TEST_F(WebE2E, RevocationEndsTheWebSession) {
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  std::string room = pchat::testing::join_demo(bob);
  ASSERT_FALSE(room.empty());

  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}}));
  auto joined = web.next_type("joined");
  ASSERT_TRUE(joined);
  bool listed = false;
  for (auto& m : (*joined)["members"]) listed = listed || m == "sip:wendy@example.com";
  EXPECT_TRUE(listed) << joined->dump();
  // Counted by the room like a SIP member: bob and wendy (the room reports its count to
  // the directory as it changes: asked again until it shows, with a deadline).
  int users = -1;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (users != 2 && std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(web.send(json{{"type", "rooms"}}));
    auto rooms = web.next_type("rooms");
    ASSERT_TRUE(rooms);
    for (auto& r : (*rooms)["rooms"])
      if (r["uri"] == room) users = r["users"].get<int>();
    if (users != 2) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(users, 2);

  pchat::testing::ctl_ok(server_, "user set --uri sip:wendy@example.com --enabled false");
  auto closed = web.next_type("closed");
  ASSERT_TRUE(closed) << json(web.pending()).dump();
  int code = 0;
  EXPECT_TRUE(web.wait_closed(10s, &code));
  EXPECT_EQ(code, 1008);
  // bob sees wendy leave; her cookie no longer opens a socket.
  EXPECT_TRUE(bob.wait_for_roster([](const auto& e) { return e.user == "sip:wendy@example.com" && e.what == pchat::client::roster_event::kind::part; }, 10s));
  int status = 0;
  ws_client again;
  EXPECT_FALSE(again.open(server_.http_port(), cookie, origin_, &status));
  EXPECT_EQ(status, 401);
  pchat::testing::expect_clean(bob);
}

namespace {

// A room URI as a query value.
std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// The room of `list` (a JSON array of rooms) with this URI, or null.
json room_in(const json& list, const std::string& uri) {
  for (auto& r : list)
    if (r.value("uri", "") == uri) return r;
  return nullptr;
}

// The followed rooms a SIP client reads (cmd:getpref kedzie.GroupChannels), decoded.
std::vector<std::string> sip_followed(pchat::client::chat_client& c) {
  auto r = c.wait_command(c.get_pref(pchat::xccos::kFollowedRoomsLabel), 10s);
  EXPECT_TRUE(r && r->replied && r->reply.code == 200);
  if (!r) return {};
  return pchat::xccos::decode_followed_rooms(r->reply.pref_content);
}

}  // namespace

// Room search as cmd:chansrch finds rooms, with privacy and the user's role; following and
// unfollowing from the web change the list a SIP client reads with getpref, and a SIP
// client's setpref shows on the web; a secret room never shows to a non-member, and a room
// the user loses drops out of the followed list.
TEST_F(WebE2E, FindFollowAndUnfollowRoomsSharedWithSipClients) {
  pchat::testing::ctl_ok(server_, "user new --uri sip:bob@example.com");
  pchat::testing::ctl_ok(server_, "category new --name Clubs");
  pchat::testing::ctl_ok(server_,
                         "room new --name 'Kayak Club' --category Clubs --privacy open "
                         "--description 'paddling on weekends'");
  pchat::testing::ctl_ok(server_,
                         "room new --name 'Hidden Den' --category Clubs --privacy secret "
                         "--description 'paddling secrets' --members sip:bob@example.com "
                         "--managers sip:bob@example.com");
  pchat::testing::ctl_ok(
      server_,
      "room new --name 'Quiet Corner' --category Clubs --privacy closed "
      "--description 'paddling <b>quietly</b>' --members "
      "sip:wendy@example.com,sip:bob@example.com --managers sip:wendy@example.com");
  auto uri_of = [&](const std::string& name) {
    int rc = 0;
    std::string out = server_.ctl("--json room get --identity '" + name + "'", &rc);
    auto at = out.find("ma-chan://");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('"', at) - at);
  };
  std::string kayak = uri_of("Kayak Club"), den = uri_of("Hidden Den"),
              quiet = uri_of("Quiet Corner");
  ASSERT_FALSE(kayak.empty());
  ASSERT_FALSE(den.empty());
  ASSERT_FALSE(quiet.empty());

  auto r = http(server_.http_port(), "GET", "/api/web/rooms?q=paddling");
  EXPECT_EQ(r.status, 401) << "search without a sign-in";
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  auto me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  std::string csrf = json::parse(me.body).value("csrf", "");
  const std::vector<std::string> auth{"Cookie: " + cookie};
  const std::vector<std::string> write{"Cookie: " + cookie, "X-PChat-CSRF: " + csrf,
                                       "Content-Type: application/json"};

  // Search by description: the open room and the closed one wendy manages; the secret one
  // she is not in is not there at all.
  r = http(server_.http_port(), "GET", "/api/web/rooms?q=paddling", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto found = json::parse(r.body)["rooms"];
  EXPECT_EQ(found.size(), 2u) << r.body;
  auto k = room_in(found, kayak);
  ASSERT_FALSE(k.is_null()) << r.body;
  EXPECT_EQ(k["name"], "Kayak Club");
  EXPECT_EQ(k["privacy"], "open");
  EXPECT_EQ(k["role"], "");
  EXPECT_EQ(k["can_join"], true);
  EXPECT_EQ(k["followed"], false);
  auto q = room_in(found, quiet);
  ASSERT_FALSE(q.is_null()) << r.body;
  EXPECT_EQ(q["privacy"], "closed");
  EXPECT_EQ(q["role"], "manager");
  EXPECT_EQ(q["description"], "paddling <b>quietly</b>") << "text is data, as stored";
  EXPECT_EQ(r.body.find("Hidden Den"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(den), std::string::npos) << r.body;
  // By name, as cmd:chansrch matches.
  r = http(server_.http_port(), "GET", "/api/web/rooms?q=kayak", auth);
  EXPECT_EQ(json::parse(r.body)["rooms"].size(), 1u) << r.body;

  // Nothing followed yet; following needs the csrf header; a secret room is "no such room".
  r = http(server_.http_port(), "GET", "/api/web/follows", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["rooms"].empty()) << r.body;
  std::string body = json{{"room", kayak}}.dump();
  EXPECT_EQ(http(server_.http_port(), "POST", "/api/web/follows",
                 {"Cookie: " + cookie, "Content-Type: application/json"}, body)
                .status,
            403);
  r = http(server_.http_port(), "POST", "/api/web/follows", write, json{{"room", den}}.dump());
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.body.find("Hidden"), std::string::npos) << r.body;
  r = http(server_.http_port(), "POST", "/api/web/follows", write, body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto follows = json::parse(r.body)["rooms"];
  ASSERT_EQ(follows.size(), 1u) << r.body;
  EXPECT_EQ(follows[0]["uri"], kayak);
  EXPECT_EQ(follows[0]["followed"], true);
  // Following twice changes nothing.
  r = http(server_.http_port(), "POST", "/api/web/follows", write, body);
  EXPECT_EQ(json::parse(r.body)["rooms"].size(), 1u) << r.body;
  r = http(server_.http_port(), "GET", "/api/web/rooms?q=kayak", auth);
  EXPECT_EQ(json::parse(r.body)["rooms"][0]["followed"], true) << r.body;

  // The SIP client of the same user reads the same list (the stored preference).
  pchat::testing::chat_clients sip;
  auto& wendy_sip = sip.add(server_.sip_port(), "wendy@example.com");
  ASSERT_TRUE(wendy_sip.sign_in(10s));
  EXPECT_EQ(sip_followed(wendy_sip), std::vector<std::string>({kayak}));
  // And what a SIP client stores shows on the web, in its order.
  auto set = wendy_sip.wait_command(
      wendy_sip.set_pref(pchat::xccos::kFollowedRoomsLabel,
                         pchat::xccos::encode_followed_rooms({quiet, kayak})),
      10s);
  ASSERT_TRUE(set && set->replied && set->reply.code == 200);
  r = http(server_.http_port(), "GET", "/api/web/follows", auth);
  follows = json::parse(r.body)["rooms"];
  ASSERT_EQ(follows.size(), 2u) << r.body;
  EXPECT_EQ(follows[0]["uri"], quiet);
  EXPECT_EQ(follows[0]["role"], "manager");
  EXPECT_EQ(follows[1]["uri"], kayak);

  // Unfollow from the web: the SIP client reads the rest.
  r = http(server_.http_port(), "DELETE", "/api/web/follows?room=" + url_encode(kayak), write);
  ASSERT_EQ(r.status, 200) << r.body;
  follows = json::parse(r.body)["rooms"];
  ASSERT_EQ(follows.size(), 1u) << r.body;
  EXPECT_EQ(follows[0]["uri"], quiet);
  EXPECT_EQ(sip_followed(wendy_sip), std::vector<std::string>({quiet}));

  // Wendy loses the closed room (made secret, she is taken out): it drops out of her list
  // at once, and the search does not find it.
  pchat::testing::ctl_ok(server_,
                         "room set --identity 'Quiet Corner' --privacy secret "
                         "--managers sip:bob@example.com --members sip:bob@example.com");
  r = http(server_.http_port(), "GET", "/api/web/follows", auth);
  EXPECT_TRUE(json::parse(r.body)["rooms"].empty()) << r.body;
  r = http(server_.http_port(), "GET", "/api/web/rooms?q=paddling", auth);
  EXPECT_EQ(r.body.find(quiet), std::string::npos) << r.body;

  // Bad input: a query over 256 bytes, a body that is not a room.
  EXPECT_EQ(
      http(server_.http_port(), "GET", "/api/web/rooms?q=" + std::string(300, 'a'), auth).status,
      400);
  EXPECT_EQ(http(server_.http_port(), "POST", "/api/web/follows", write, "[1,2]").status, 400);
  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/nothing", auth).status, 404);
  pchat::testing::expect_clean(wendy_sip);
}

// Invitations (cmd:getinv's): a room wendy was added to is listed with who added her;
// accepting follows it (the invitation is then gone) and she can join it over the socket.
TEST_F(WebE2E, InvitationsAreListedAndAcceptedByFollowing) {
  pchat::testing::ctl_ok(server_, "category new --name Invites");
  pchat::testing::ctl_ok(server_, "room new --name war-room --category Invites --privacy closed");
  pchat::testing::ctl_ok(server_, "room new --name old-room --category Invites --privacy closed");
  pchat::testing::ctl_ok(server_,
                         "room set --identity war-room --add-members sip:wendy@example.com");
  pchat::testing::ctl_ok(server_,
                         "room set --identity old-room --add-members sip:wendy@example.com");
  // Taken out again: that invitation is no longer hers to accept.
  pchat::testing::ctl_ok(server_,
                         "room set --identity old-room --remove-members sip:wendy@example.com");
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  auto me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  std::string csrf = json::parse(me.body).value("csrf", "");
  const std::vector<std::string> auth{"Cookie: " + cookie};

  auto r = http(server_.http_port(), "GET", "/api/web/invitations", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto invs = json::parse(r.body)["invitations"];
  ASSERT_EQ(invs.size(), 1u) << r.body;
  EXPECT_EQ(invs[0]["name"], "war-room");
  EXPECT_FALSE(invs[0]["inviter"].get<std::string>().empty());
  std::string room = invs[0]["room"];
  ASSERT_EQ(room.rfind("ma-chan://", 0), 0u) << room;

  r = http(server_.http_port(), "POST", "/api/web/follows",
           {"Cookie: " + cookie, "X-PChat-CSRF: " + csrf, "Content-Type: application/json"},
           json{{"room", room}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  r = http(server_.http_port(), "GET", "/api/web/invitations", auth);
  EXPECT_TRUE(json::parse(r.body)["invitations"].empty()) << r.body;
  r = http(server_.http_port(), "GET", "/api/web/follows", auth);
  auto f = room_in(json::parse(r.body)["rooms"], room);
  ASSERT_FALSE(f.is_null()) << r.body;
  EXPECT_EQ(f["role"], "member");

  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}}));
  auto joined = web.next_type("joined");
  ASSERT_TRUE(joined) << json(web.pending()).dump();
  EXPECT_EQ((*joined)["name"], "war-room");
}

// "Load older" (docs/WEB.md): a room with more posts than fit a page; from the back-chat,
// pages of `older` before the oldest seq shown reach the first message: every stored post
// once, in order, no gaps; the last page says there is no more. Refused when not joined.
TEST_F(WebE2E, LoadOlderPagesThroughTheWholeHistory) {
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  std::string room = pchat::testing::join_demo(bob);
  ASSERT_FALSE(room.empty());

  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(web.send(json{{"type", "older"}, {"room", room}, {"before", 10}, {"count", 5}}));
  auto refused = web.next_type("error");
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["room"], room) << refused->dump();
  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}, {"history", 0}}));
  ASSERT_TRUE(web.next_type("joined"));
  // 190 posts (within the session's burst of requests), in batches within its in-flight
  // limit, each acknowledged.
  constexpr int kPosts = 190;
  for (int sent = 0; sent < kPosts;) {
    int batch = std::min(50, kPosts - sent);
    for (int i = 0; i < batch; ++i)
      ASSERT_TRUE(web.send(json{{"type", "post"},
                                {"room", room},
                                {"id", "p" + std::to_string(sent + i)},
                                {"text", "post " + std::to_string(sent + i) + "\nsecond line"}}));
    for (int i = 0; i < batch; ++i) {
      auto ack = web.next([](const json& j) {
        return j.value("type", "") == "ack" || j.value("type", "") == "failed";
      });
      ASSERT_TRUE(ack) << json(web.pending()).dump();
      ASSERT_EQ((*ack)["type"], "ack") << ack->dump();
    }
    sent += batch;
  }

  // A new page view: the newest 20, then pages of 60 before the oldest shown.
  ws_client reader;
  ASSERT_TRUE(reader.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(reader.send(json{{"type", "join"}, {"room", room}, {"history", 20}}));
  auto joined = reader.next_type("joined");
  ASSERT_TRUE(joined);
  std::deque<json> shown((*joined)["backchat"].begin(), (*joined)["backchat"].end());
  ASSERT_EQ(shown.size(), 20u);
  uint64_t newest = shown.back()["seq"].get<uint64_t>();
  ASSERT_GE(newest, uint64_t{kPosts});
  int pages = 0;
  bool more = true;
  while (more) {
    ASSERT_LT(++pages, 10) << "paging does not end";
    uint64_t before = shown.front()["seq"].get<uint64_t>();
    ASSERT_TRUE(
        reader.send(json{{"type", "older"}, {"room", room}, {"before", before}, {"count", 60}}));
    auto page = reader.next_type("older");
    ASSERT_TRUE(page) << json(reader.pending()).dump();
    EXPECT_EQ((*page)["room"], room);
    auto& msgs = (*page)["messages"];
    ASSERT_LE(msgs.size(), 60u);
    for (auto it = msgs.rbegin(); it != msgs.rend(); ++it) shown.push_front(*it);
    more = (*page)["more"].get<bool>();
    if (more) {
      EXPECT_EQ(msgs.size(), 60u);
    }
  }
  // Full pages, then a short one (or an empty one when they came out even).
  EXPECT_EQ(pages, static_cast<int>((newest - 20) / 60 + 1));
  // Every stored message once, in order, from seq 1.
  ASSERT_EQ(shown.size(), newest) << "first seq " << shown.front()["seq"];
  for (size_t i = 0; i < shown.size(); ++i)
    ASSERT_EQ(shown[i]["seq"].get<uint64_t>(), i + 1) << shown[i].dump();
  // The web posts are all there, with their text (multi-line kept), in the order sent.
  int next = 0;
  for (auto& m : shown)
    if (m["author"] == "sip:wendy@example.com") {
      EXPECT_EQ(m["text"], "post " + std::to_string(next) + "\nsecond line");
      ++next;
    }
  EXPECT_EQ(next, kPosts);
  // Before the first message: an empty page, no more.
  ASSERT_TRUE(reader.send(json{{"type", "older"}, {"room", room}, {"before", 1}, {"count", 10}}));
  auto none = reader.next_type("older");
  ASSERT_TRUE(none);
  EXPECT_TRUE((*none)["messages"].empty());
  EXPECT_EQ((*none)["more"], false);
  // Out-of-range requests are refused with a reason.
  for (const json& bad : {json{{"type", "older"}, {"room", room}, {"before", 0}, {"count", 10}},
                          json{{"type", "older"}, {"room", room}, {"before", 5}, {"count", 201}},
                          json{{"type", "older"}, {"room", room}, {"before", 5}}}) {
    ASSERT_TRUE(reader.send(bad));
    auto err = reader.next_type("error");
    ASSERT_TRUE(err) << bad.dump();
  }
  pchat::testing::expect_clean(bob);
}

// The open room's view follows the room live (docs/WEB.md): a SIP client joining and
// parting shows as member_joined / member_left; an admin's topic change reaches the page as
// room_info; an auditorium makes a non-presenter's view read-only (joined and room_info say
// so, with the reason) and the room refuses that user's post; made a presenter, they post.
TEST_F(WebE2E, RosterTopicAndAuditoriumFollowTheRoomLive) {
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s));
  std::string room = pchat::testing::demo_room(bob);
  ASSERT_FALSE(room.empty());

  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}, {"history", 0}}));
  auto joined = web.next_type("joined");
  ASSERT_TRUE(joined);
  EXPECT_EQ((*joined)["members"], json::array({"sip:wendy@example.com"})) << joined->dump();
  EXPECT_EQ((*joined)["can_post"], true);
  EXPECT_TRUE(joined->contains("description")) << joined->dump();

  auto member_event = [&](const std::string& type, const std::string& user) {
    return web.next([&](const json& j) {
      return j.value("type", "") == type && j.value("user", "") == user &&
             j.value("room", "") == room;
    });
  };
  auto joined_bob = bob.join_and_wait(room, 10s);
  ASSERT_TRUE(joined_bob && joined_bob->code == 200);
  EXPECT_TRUE(member_event("member_joined", "sip:bob@example.com")) << json(web.pending()).dump();
  ASSERT_TRUE(bob.part_and_wait(room, 10s));
  EXPECT_TRUE(member_event("member_left", "sip:bob@example.com")) << json(web.pending()).dump();
  joined_bob = bob.join_and_wait(room, 10s);
  ASSERT_TRUE(joined_bob && joined_bob->code == 200);
  EXPECT_TRUE(member_event("member_joined", "sip:bob@example.com"));

  // The topic, changed by an admin, reaches the open room as it is (markup is text).
  pchat::testing::ctl_ok(server_,
                         "room set --identity '" + room + "' --topic 'Release <b>day</b> & more'");
  auto info = web.next_type("room_info");
  ASSERT_TRUE(info) << json(web.pending()).dump();
  EXPECT_EQ((*info)["room"], room);
  EXPECT_EQ((*info)["topic"], "Release <b>day</b> & more");
  EXPECT_EQ((*info)["can_post"], true);

  // An auditorium where only bob presents: wendy may read, not post; the room refuses.
  pchat::testing::ctl_ok(server_, "room set --identity '" + room +
                                      "' --type auditorium --presenters sip:bob@example.com");
  info = web.next_type("room_info");
  ASSERT_TRUE(info) << json(web.pending()).dump();
  EXPECT_EQ((*info)["can_post"], false);
  EXPECT_NE((*info).value("post_refusal", "").find("presenters"), std::string::npos)
      << info->dump();
  ASSERT_TRUE(web.send(json{{"type", "post"}, {"room", room}, {"id", "a-1"}, {"text", "may I?"}}));
  auto failed = web.next([](const json& j) {
    return j.value("type", "") == "failed" || j.value("type", "") == "ack";
  });
  ASSERT_TRUE(failed);
  EXPECT_EQ((*failed)["type"], "failed") << failed->dump();
  EXPECT_NE((*failed).value("error", "").find("presenters"), std::string::npos) << failed->dump();
  EXPECT_EQ((*failed)["retry"], false);
  ASSERT_TRUE(bob.post_and_wait_ack(room, "the presenter speaks", 10s));
  EXPECT_TRUE(
      web.next([](const json& j) { return j.value("text", "") == "the presenter speaks"; }));
  // A new join says so too.
  ws_client second;
  ASSERT_TRUE(second.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(second.send(json{{"type", "join"}, {"room", room}, {"history", 5}}));
  auto rejoined = second.next_type("joined");
  ASSERT_TRUE(rejoined);
  EXPECT_EQ((*rejoined)["can_post"], false);
  EXPECT_EQ((*rejoined)["topic"], "Release <b>day</b> & more");
  for (auto& m : (*rejoined)["backchat"]) EXPECT_NE(m["text"], "may I?");

  // Made a presenter, wendy posts.
  pchat::testing::ctl_ok(
      server_, "room set --identity '" + room + "' --add-presenters sip:wendy@example.com");
  info = web.next([](const json& j) {
    return j.value("type", "") == "room_info" && j.value("can_post", false);
  });
  ASSERT_TRUE(info) << json(web.pending()).dump();
  ASSERT_TRUE(
      web.send(json{{"type", "post"}, {"room", room}, {"id", "a-2"}, {"text", "now I may"}}));
  auto ack = web.next([](const json& j) {
    return j.value("type", "") == "failed" || j.value("type", "") == "ack";
  });
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["type"], "ack") << ack->dump();
  pchat::testing::expect_clean(bob);
}

// The page's files (docs/WEB.md "Files"): the file service takes the web client's cookie; an
// upload with it also needs the sign-in's CSRF token (and no other site's Origin); the
// listed file downloads with the same bytes; an ended sign-in opens nothing.
TEST_F(WebE2E, FileServiceTakesTheSignInCookieWithCsrfForUploads) {
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  auto me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  std::string csrf = json::parse(me.body).value("csrf", "");
  ASSERT_FALSE(csrf.empty());
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s));
  std::string room = pchat::testing::demo_room(bob);
  ASSERT_FALSE(room.empty());
  std::string files = "/files/v1/rooms/" + room.substr(room.rfind('/') + 1);
  std::string bytes = std::string("line one\r\n") + '\0' + "\xff<b>bytes</b>";

  auto no_csrf =
      http(server_.http_port(), "POST", files + "?name=notes.txt", {"Cookie: " + cookie}, bytes);
  EXPECT_EQ(no_csrf.status, 403) << no_csrf.body;
  auto wrong = http(server_.http_port(), "POST", files + "?name=notes.txt",
                    {"Cookie: " + cookie, "X-PChat-CSRF: 00"}, bytes);
  EXPECT_EQ(wrong.status, 403) << wrong.body;
  auto cross =
      http(server_.http_port(), "POST", files + "?name=notes.txt",
           {"Cookie: " + cookie, "X-PChat-CSRF: " + csrf, "Origin: http://evil.example"}, bytes);
  EXPECT_EQ(cross.status, 403) << cross.body;
  auto up = http(server_.http_port(), "POST", files + "?name=notes.txt",
                 {"Cookie: " + cookie, "X-PChat-CSRF: " + csrf, "Origin: " + origin_}, bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  auto made = json::parse(up.body);
  EXPECT_EQ(made["uploader"], "sip:wendy@example.com");
  EXPECT_EQ(made["size"], bytes.size());

  auto list = http(server_.http_port(), "GET", files, {"Cookie: " + cookie});
  ASSERT_EQ(list.status, 200) << list.body;
  auto listed = json::parse(list.body);
  ASSERT_EQ(listed.size(), 1u) << list.body;
  EXPECT_EQ(listed[0]["name"], "notes.txt");
  auto down =
      http(server_.http_port(), "GET", listed[0]["url"].get<std::string>(), {"Cookie: " + cookie});
  ASSERT_EQ(down.status, 200);
  EXPECT_EQ(down.body, bytes);

  // Signed out: the cookie opens no file.
  EXPECT_EQ(http(server_.http_port(), "DELETE", "/api/web/session",
                 {"Cookie: " + cookie, "X-PChat-CSRF: " + csrf})
                .status,
            200);
  EXPECT_EQ(http(server_.http_port(), "GET", files, {"Cookie: " + cookie}).status, 401);
  EXPECT_EQ(
      http(server_.http_port(), "GET", listed[0]["url"].get<std::string>(), {"Cookie: " + cookie})
          .status,
      401);
}

// History search over the rooms wendy may read at the moment of the query: a message in a
// closed room she is not in is not found until she is made a member; naming that room is
// "no such room"; every result names its room and seq (the page opens the room there).
TEST_F(WebE2E, HistorySearchFindsOnlyRoomsTheUserMayRead) {
  pchat::testing::ctl_ok(server_, "user new --uri sip:bob@example.com");
  pchat::testing::ctl_ok(server_, "category new --name Desks");
  pchat::testing::ctl_ok(server_, "room new --name 'Open Forum' --category Desks --privacy open");
  pchat::testing::ctl_ok(server_,
                         "room new --name 'Locked Vault' --category Desks --privacy closed "
                         "--members sip:bob@example.com --managers sip:bob@example.com");
  auto uri_of = [&](const std::string& name) {
    int rc = 0;
    std::string out = server_.ctl("--json room get --identity '" + name + "'", &rc);
    auto at = out.find("ma-chan://");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('"', at) - at);
  };
  std::string forum = uri_of("Open Forum"), vault = uri_of("Locked Vault");
  ASSERT_FALSE(forum.empty());
  ASSERT_FALSE(vault.empty());
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s));
  ASSERT_TRUE(bob.join_and_wait(forum, 10s));
  ASSERT_TRUE(bob.join_and_wait(vault, 10s));
  ASSERT_TRUE(bob.post_and_wait_ack(forum, "the zebra crossing is open", 10s));
  ASSERT_TRUE(bob.post_and_wait_ack(vault, "the zebra vault code is 1234", 10s));
  ASSERT_TRUE(bob.post_and_wait_ack(forum, "nothing to see here", 10s));

  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/search?q=zebra").status, 401);
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  const std::vector<std::string> auth{"Cookie: " + cookie};
  // Acknowledged posts are found at once (the indexer commits before the query).
  auto r = http(server_.http_port(), "GET", "/api/web/search?q=zebra", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto hits = json::parse(r.body)["results"];
  ASSERT_EQ(hits.size(), 1u) << r.body;
  EXPECT_EQ(hits[0]["room"], forum);
  EXPECT_EQ(hits[0]["name"], "Open Forum");
  EXPECT_EQ(hits[0]["author"], "sip:bob@example.com");
  EXPECT_EQ(hits[0]["text"], "the zebra crossing is open");
  EXPECT_GT(hits[0]["seq"].get<uint64_t>(), 0u);
  EXPECT_EQ(r.body.find("1234"), std::string::npos) << r.body;
  r = http(server_.http_port(), "GET", "/api/web/search?q=zebra&room=" + url_encode(vault), auth);
  EXPECT_EQ(r.status, 404) << r.body;

  // Made a member: the same query finds the vault's message too, newest first.
  pchat::testing::ctl_ok(server_,
                         "room set --identity 'Locked Vault' --add-members sip:wendy@example.com");
  r = http(server_.http_port(), "GET", "/api/web/search?q=zebra", auth);
  hits = json::parse(r.body)["results"];
  ASSERT_EQ(hits.size(), 2u) << r.body;
  EXPECT_EQ(hits[0]["room"], vault);
  EXPECT_EQ(hits[1]["room"], forum);
  r = http(server_.http_port(), "GET", "/api/web/search?q=zebra&room=" + url_encode(vault), auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["results"].size(), 1u) << r.body;
  // By author, and a phrase.
  r = http(server_.http_port(), "GET", "/api/web/search?author=sip:bob@example.com", auth);
  EXPECT_EQ(json::parse(r.body)["results"].size(), 3u) << r.body;
  r = http(server_.http_port(), "GET", "/api/web/search?q=%22crossing%20is%20open%22", auth);
  EXPECT_EQ(json::parse(r.body)["results"].size(), 1u) << r.body;

  // Bad input.
  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/search", auth).status, 400);
  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/search?q=a&limit=0", auth).status, 400);
  EXPECT_EQ(
      http(server_.http_port(), "GET", "/api/web/search?q=" + std::string(300, 'a'), auth).status,
      400);
  pchat::testing::expect_clean(bob);
}

// Unread counts kept by the server: a followed room counts what was posted after wendy's
// read marker; reading clears it, for a second sign-in of wendy too (another browser); the
// marker never moves back nor past the room's newest message.
TEST_F(WebE2E, UnreadCountsRiseAndClearForEveryBrowserOfTheUser) {
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  std::string room = pchat::testing::join_demo(bob);
  ASSERT_FALSE(room.empty());
  ASSERT_TRUE(bob.post_and_wait_ack(room, "before wendy followed", 10s));
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  auto csrf_of = [&](const std::string& c) {
    return json::parse(http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + c}).body)
        .value("csrf", "");
  };
  const std::vector<std::string> write{"Cookie: " + cookie, "X-PChat-CSRF: " + csrf_of(cookie),
                                       "Content-Type: application/json"};
  auto follows = [&](const std::string& c) {
    auto r = http(server_.http_port(), "GET", "/api/web/follows", {"Cookie: " + c});
    EXPECT_EQ(r.status, 200) << r.body;
    return room_in(json::parse(r.body)["rooms"], room);
  };
  // Following starts the count at zero: what was there before is not "unread".
  auto r =
      http(server_.http_port(), "POST", "/api/web/follows", write, json{{"room", room}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto f = follows(cookie);
  ASSERT_FALSE(f.is_null());
  EXPECT_EQ(f["unread"], 0);
  uint64_t first = f["last_seq"].get<uint64_t>();
  EXPECT_EQ(f["read"], first);

  // Two posts: the count rises, in every browser of wendy.
  ASSERT_TRUE(bob.post_and_wait_ack(room, "one", 10s));
  ASSERT_TRUE(bob.post_and_wait_ack(room, "two", 10s));
  EXPECT_EQ(follows(cookie)["unread"], 2);
  std::string other = sign_in();  // another browser
  ASSERT_FALSE(other.empty());
  ASSERT_NE(other, cookie);
  EXPECT_EQ(follows(other)["unread"], 2);

  // Reading through the first: one left; through both (and beyond the newest): cleared,
  // for the other browser too.
  r = http(server_.http_port(), "POST", "/api/web/read", write,
           json{{"room", room}, {"seq", first + 1}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(room_in(json::parse(r.body)["rooms"], room)["unread"], 1) << r.body;
  r = http(server_.http_port(), "POST", "/api/web/read", write,
           json{{"room", room}, {"seq", first + 100}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(room_in(json::parse(r.body)["rooms"], room)["unread"], 0) << r.body;
  f = follows(other);
  EXPECT_EQ(f["unread"], 0);
  EXPECT_EQ(f["read"], first + 2) << "the marker stops at the newest message";
  // Never back.
  r = http(server_.http_port(), "POST", "/api/web/read", write,
           json{{"room", room}, {"seq", 1}}.dump());
  EXPECT_EQ(room_in(json::parse(r.body)["rooms"], room)["read"], first + 2) << r.body;
  // A new post counts again.
  ASSERT_TRUE(bob.post_and_wait_ack(room, "three", 10s));
  EXPECT_EQ(follows(other)["unread"], 1);

  // Bad input: no csrf, a room not followed, no seq.
  EXPECT_EQ(http(server_.http_port(), "POST", "/api/web/read",
                 {"Cookie: " + cookie, "Content-Type: application/json"},
                 json{{"room", room}, {"seq", 1}}.dump())
                .status,
            403);
  EXPECT_EQ(http(server_.http_port(), "POST", "/api/web/read", write,
                 json{{"room", "ma-chan://example.com/nowhere"}, {"seq", 1}}.dump())
                .status,
            404);
  EXPECT_EQ(
      http(server_.http_port(), "POST", "/api/web/read", write, json{{"room", room}}.dump()).status,
      400);
  pchat::testing::expect_clean(bob);
}

// A restart signs no browser out (docs/WEB.md "Sign-in"): pchatd stops with a page still
// connected (closed 1001, going away); the cookie and its csrf token still serve after it
// restarts, and a page resumes after the last seq it saw; a
// sign-out, or a new password, still ends the sign-in for good; the file of sign-ins holds
// no token.
TEST_F(WebE2E, SignInsSurviveARestartAndThePageResumes) {
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  auto me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  std::string csrf = json::parse(me.body).value("csrf", "");
  std::string other = sign_in();
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  std::string room = pchat::testing::join_demo(bob);
  ASSERT_FALSE(room.empty());
  ASSERT_TRUE(bob.post_and_wait_ack(room, "before the restart", 10s));
  // A page stays connected through the stop: pchatd does not wait for it, and closes it
  // "going away" (1001), not signed out (no "closed").
  ws_client first;
  ASSERT_TRUE(first.open(server_.http_port(), cookie, origin_));
  ASSERT_TRUE(first.send(json{{"type", "join"}, {"room", room}, {"history", 10}}));
  auto joined = first.next_type("joined");
  ASSERT_TRUE(joined);
  uint64_t last = (*joined)["backchat"].back()["seq"].get<uint64_t>();
  // The other sign-in ends before the restart: it stays ended after it.
  auto other_me = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + other});
  std::string other_csrf = json::parse(other_me.body).value("csrf", "");
  EXPECT_EQ(http(server_.http_port(), "DELETE", "/api/web/session", {"Cookie: " + other, "X-PChat-CSRF: " + other_csrf}).status, 200);
  sip.clear();

  ASSERT_TRUE(server_.stop()) << server_.exit_text();
  int code = 0;
  EXPECT_TRUE(first.wait_closed(10s, &code));
  EXPECT_EQ(code, 1001);
  EXPECT_FALSE(first.next_type("closed", 100ms));
  std::ifstream kept(dir_ / "data/web-sign-ins");
  std::string file((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  EXPECT_NE(file.find("sip:wendy@example.com"), std::string::npos) << file;
  EXPECT_EQ(file.find(cookie.substr(cookie.find('=') + 1)), std::string::npos) << "a token in the file";
  ASSERT_TRUE(server_.start()) << server_.stderr_text();

  auto again = http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).value("csrf", ""), csrf);
  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + other}).status, 401);
  pchat::testing::chat_clients sip2;
  auto& bob2 = sip2.add(server_.sip_port(), "bob@example.com");
  ASSERT_EQ(pchat::testing::join_demo(bob2), room);
  ASSERT_TRUE(bob2.post_and_wait_ack(room, "while the page was away", 10s));
  ws_client web;
  ASSERT_TRUE(web.open(server_.http_port(), cookie, "http://127.0.0.1:" + std::to_string(server_.http_port())));
  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}, {"after", last}}));
  auto resumed = web.next_type("joined");
  ASSERT_TRUE(resumed);
  ASSERT_EQ((*resumed)["backchat"].size(), 1u) << resumed->dump();
  EXPECT_EQ((*resumed)["backchat"][0]["text"], "while the page was away");
  EXPECT_EQ((*resumed)["backchat"][0]["seq"], last + 1);

  // A new password ends it, across a restart too.
  pchat::testing::ctl_ok(server_, "user set --uri sip:wendy@example.com --password pw-new");
  EXPECT_TRUE(web.wait_closed(10s));
  ASSERT_TRUE(server_.stop());
  ASSERT_TRUE(server_.start()) << server_.stderr_text();
  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie}).status, 401);
}

// Topic feeds: saved searches that count the matching messages posted since the user last
// looked, in the rooms they may read (a match in a closed room they are not in does not
// count); looking clears one; they follow the user to another sign-in.
TEST_F(WebE2E, TopicFeedsLightUpOnMatchingPostsInRoomsTheUserMayRead) {
  pchat::testing::ctl_ok(server_, "user new --uri sip:bob@example.com");
  pchat::testing::ctl_ok(server_, "category new --name Desks");
  pchat::testing::ctl_ok(server_, "room new --name 'Open Forum' --category Desks --privacy open");
  pchat::testing::ctl_ok(server_,
                         "room new --name 'Locked Vault' --category Desks --privacy closed "
                         "--members sip:bob@example.com --managers sip:bob@example.com");
  auto uri_of = [&](const std::string& name) {
    int rc = 0;
    std::string out = server_.ctl("--json room get --identity '" + name + "'", &rc);
    auto at = out.find("ma-chan://");
    return at == std::string::npos ? std::string() : out.substr(at, out.find('"', at) - at);
  };
  std::string forum = uri_of("Open Forum"), vault = uri_of("Locked Vault");
  pchat::testing::chat_clients sip;
  auto& bob = sip.add(server_.sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s));
  ASSERT_TRUE(bob.join_and_wait(forum, 10s));
  ASSERT_TRUE(bob.join_and_wait(vault, 10s));
  ASSERT_TRUE(bob.post_and_wait_ack(forum, "a zebra before the feed", 10s));

  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  std::string csrf =
      json::parse(http(server_.http_port(), "GET", "/api/web/session", {"Cookie: " + cookie}).body)
          .value("csrf", "");
  const std::vector<std::string> write{"Cookie: " + cookie, "X-PChat-CSRF: " + csrf,
                                       "Content-Type: application/json"};
  auto feed = [](const json& list, const std::string& key, const std::string& value) {
    for (auto& f : list)
      if (f.value(key, "") == value) return f;
    return json();
  };
  auto r = http(server_.http_port(), "POST", "/api/web/feeds", write, json{{"q", "zebra"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(feed(json::parse(r.body)["feeds"], "q", "zebra")["new"], 0)
      << "what came before does not count";
  r = http(server_.http_port(), "POST", "/api/web/feeds", write,
           json{{"author", "sip:bob@example.com"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(json::parse(r.body)["feeds"].size(), 2u) << r.body;
  uint64_t zebra = feed(json::parse(r.body)["feeds"], "q", "zebra")["id"].get<uint64_t>();
  uint64_t by_bob =
      feed(json::parse(r.body)["feeds"], "author", "sip:bob@example.com")["id"].get<uint64_t>();

  // A match in the closed room wendy is not in: nothing lights up.
  ASSERT_TRUE(bob.post_and_wait_ack(vault, "the zebra vault code is 1234", 10s));
  r = http(server_.http_port(), "GET", "/api/web/feeds", {"Cookie: " + cookie});
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = json::parse(r.body)["feeds"];
  EXPECT_EQ(feed(list, "q", "zebra")["new"], 0) << r.body;
  EXPECT_EQ(feed(list, "author", "sip:bob@example.com")["new"], 0) << r.body;
  // In the open room: both light up.
  ASSERT_TRUE(bob.post_and_wait_ack(forum, "a zebra crossed the forum", 10s));
  ASSERT_TRUE(bob.post_and_wait_ack(forum, "and then lunch", 10s));
  list = json::parse(
      http(server_.http_port(), "GET", "/api/web/feeds", {"Cookie: " + cookie}).body)["feeds"];
  EXPECT_EQ(feed(list, "q", "zebra")["new"], 1) << list.dump();
  EXPECT_EQ(feed(list, "author", "sip:bob@example.com")["new"], 2) << list.dump();

  // Looked at: the zebra feed is cleared, for another sign-in of wendy too.
  r = http(server_.http_port(), "POST", "/api/web/feeds", write,
           json{{"id", zebra}, {"seen", true}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  std::string other = sign_in();
  list = json::parse(
      http(server_.http_port(), "GET", "/api/web/feeds", {"Cookie: " + other}).body)["feeds"];
  EXPECT_EQ(feed(list, "q", "zebra")["new"], 0) << list.dump();
  EXPECT_EQ(feed(list, "author", "sip:bob@example.com")["new"], 2) << list.dump();

  // Removed; bad input.
  r = http(server_.http_port(), "DELETE", "/api/web/feeds?id=" + std::to_string(by_bob), write);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["feeds"].size(), 1u) << r.body;
  EXPECT_EQ(http(server_.http_port(), "DELETE", "/api/web/feeds?id=999", write).status, 404);
  EXPECT_EQ(http(server_.http_port(), "POST", "/api/web/feeds", write, "{}").status, 400);
  EXPECT_EQ(http(server_.http_port(), "POST", "/api/web/feeds",
                 {"Cookie: " + cookie, "Content-Type: application/json"}, json{{"q", "x"}}.dump())
                .status,
            403);
  EXPECT_EQ(http(server_.http_port(), "GET", "/api/web/feeds").status, 401);
  pchat::testing::expect_clean(bob);
}

// Pool (issue 12 with 14): a browser signed in on n1 is in a room n2 owns, with a SIP client
// on n3. n2 is killed: the browser's session joins the room again where it is served now,
// without the page reconnecting; the posts made after the kill reach it once each, and its
// own post reaches the SIP client.
TEST(WebPoolE2E, ABrowserKeepsItsRoomWhenTheRoomsNodeDies) {
  pchat::testing::temp_dir dir("web-pool");
  pchat::testing::pool_cluster pool(dir.path(), 3, {"--demo-content=false"}, "webpool");
  ASSERT_TRUE(pool.start()) << pool.error();
  pchat::testing::ctl_ok(pool.node(0), "category new --name Desk --allowed-members domain:example.com");
  pchat::testing::ctl_ok(pool.node(0), "user new --uri sip:wendy@example.com --password pw-wendy");
  std::string room, name;
  for (int k = 0; k < 32 && room.empty(); ++k) {
    name = "desk" + std::to_string(k);
    pchat::testing::ctl_ok(pool.node(0), "room new --name " + name + " --category Desk --privacy open");
    std::string uri = pool.room_uri(0, name);
    if (!uri.empty() && pchat::pool::rank(uri.substr(uri.rfind('/') + 1), {"n1", "n2", "n3"})[0] == "n2") room = uri;
  }
  ASSERT_FALSE(room.empty());
  ASSERT_TRUE(pool.ensure_user("bob@example.com")) << pool.error();
  for (size_t i = 0; i < pool.size(); ++i)
    ASSERT_TRUE(pchat::testing::eventually([&] { return !pool.room_uri(i, name).empty(); }, 5s)) << i;

  // wendy signs in on n1 (the directory change may take a moment to reach it).
  std::string cookie;
  ASSERT_TRUE(pchat::testing::eventually(
      [&] {
        auto r = http(pool.node(0).http_port(), "POST", "/api/web/session", {"Content-Type: application/json"},
                      R"({"address":"wendy@example.com","password":"pw-wendy"})");
        cookie = session_cookie(r.head);
        return r.status == 200;
      },
      5s));
  ws_client web;
  ASSERT_TRUE(web.open(pool.node(0).http_port(), cookie, "http://127.0.0.1:" + std::to_string(pool.node(0).http_port())));
  ASSERT_TRUE(web.next_type("hello"));
  ASSERT_TRUE(web.send(json{{"type", "join"}, {"room", room}, {"history", 10}}));
  ASSERT_TRUE(web.next_type("joined")) << json(web.pending()).dump();

  pchat::testing::chat_clients sip;
  auto& bob = sip.add(pool.node(2).sip_port(), "bob@example.com");
  ASSERT_TRUE(bob.sign_in(10s)) << bob.failure_reason();
  auto joined = bob.join_and_wait(room, 10s);
  ASSERT_TRUE(joined && joined->ok());
  ASSERT_TRUE(bob.post_and_wait_ack(room, "before the kill", 10s));
  auto text_is = [&](const std::string& t) {
    return [t](const json& j) { return j.value("type", "") == "message" && j.value("text", "") == t; };
  };
  ASSERT_TRUE(web.next(text_is("before the kill")));

  pool.kill(1);
  // bob's session sends its post again inside the server until the room is served again.
  ASSERT_TRUE(bob.post_and_wait_ack(room, "after the kill 1", 20s));
  ASSERT_TRUE(bob.post_and_wait_ack(room, "after the kill 2", 10s));
  EXPECT_TRUE(web.next(text_is("after the kill 1"), 10s)) << json(web.pending()).dump();
  EXPECT_TRUE(web.next(text_is("after the kill 2"), 10s)) << json(web.pending()).dump();
  // The page's own post goes through the room's new actor to bob.
  bool acked = false;
  for (int i = 0; i < 20 && !acked; ++i) {
    ASSERT_TRUE(web.send(json{{"type", "post"}, {"room", room}, {"id", "w-after"}, {"text", "from the browser after"}}));
    auto answer = web.next([](const json& j) { return j.value("type", "") == "ack" || j.value("type", "") == "failed"; });
    ASSERT_TRUE(answer);
    acked = (*answer)["type"] == "ack";
    if (!acked) std::this_thread::sleep_for(100ms);  // a retry the page would make
  }
  EXPECT_TRUE(acked);
  EXPECT_TRUE(bob.wait_for_message([](auto& p) { return p.text == "from the browser after"; }, 10s));
  // Nothing twice: no second copy of any message arrives.
  for (const char* t : {"before the kill", "after the kill 1", "after the kill 2"})
    EXPECT_FALSE(web.next(text_is(t), 300ms)) << t << " came twice";
  EXPECT_FALSE(web.next_type("removed", 10ms));
}

// "My rooms" (docs/WEB.md): the room-management API takes the web sign-in cookie, with the
// CSRF header on writes, and says what is wrong with a setting by naming its field.
TEST_F(WebE2E, MyRoomsTakeTheSignInCookieAndSayWhatIsWrong) {
  pchat::testing::ctl_ok(server_, "user new --uri sip:bob@example.com --password pw-bob");
  pchat::testing::ctl_ok(server_, "group new --name paddlers --members sip:bob@example.com");
  pchat::testing::ctl_ok(server_, "category new --name Clubs --creators sip:wendy@example.com");
  const uint16_t port = static_cast<uint16_t>(server_.http_port());
  std::string cookie = sign_in();
  ASSERT_FALSE(cookie.empty());
  auto me = http(port, "GET", "/api/web/session", {"Cookie: " + cookie});
  std::string csrf = json::parse(me.body).value("csrf", "");
  const std::vector<std::string> auth{"Cookie: " + cookie};
  const std::vector<std::string> write{"Cookie: " + cookie, "X-PChat-CSRF: " + csrf, "Content-Type: application/json"};

  // The cookie opens the API; what wendy may do: create rooms in Clubs.
  auto r = http(port, "GET", "/manage/v1/rooms", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json::array());
  r = http(port, "GET", "/manage/v1/categories", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(json::parse(r.body).size(), 1u) << r.body;
  EXPECT_EQ(json::parse(r.body)[0]["name"], "Clubs");

  // A write needs the CSRF header the sign-in answered.
  const std::string kayak = R"({"name": "Kayak", "category": "Clubs", "description": "paddling", "privacy": "open",
                                "members": ["sip:bob@example.com"]})";
  r = http(port, "POST", "/manage/v1/rooms", {"Cookie: " + cookie, "Content-Type: application/json"}, kayak);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("X-PChat-CSRF"), std::string::npos) << r.body;
  r = http(port, "POST", "/manage/v1/rooms", {"Cookie: " + cookie, "X-PChat-CSRF: wrong", "Content-Type: application/json"}, kayak);
  EXPECT_EQ(r.status, 403) << r.body;
  r = http(port, "POST", "/manage/v1/rooms", write, kayak);
  ASSERT_EQ(r.status, 201) << r.body;
  auto made = json::parse(r.body);
  const std::string id = made.value("id", "");
  EXPECT_EQ(made["category"], "Clubs") << r.body;
  EXPECT_EQ(made["managers"], json::array({"sip:wendy@example.com"})) << r.body;

  // The list shows the room with its category and description.
  r = http(port, "GET", "/manage/v1/rooms", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto mine = json::parse(r.body);
  ASSERT_EQ(mine.size(), 1u) << r.body;
  EXPECT_EQ(mine[0]["name"], "Kayak");
  EXPECT_EQ(mine[0]["category"], "Clubs");
  EXPECT_EQ(mine[0]["description"], "paddling");

  // Each refusal names its field and says what is wrong, in words.
  auto refused = [&](const std::string& method, const std::string& path, const std::string& body, int status,
                     const std::string& field, const std::string& says) {
    auto a = http(port, method, path, write, body);
    EXPECT_EQ(a.status, status) << body << " -> " << a.body;
    auto j = json::parse(a.body, nullptr, false);
    EXPECT_EQ(j.value("field", ""), field) << a.body;
    EXPECT_NE(j.value("error", "").find(says), std::string::npos) << a.body;
    return j.value("error", "");
  };
  refused("POST", "/manage/v1/rooms", R"({"name": "   ", "category": "Clubs"})", 400, "name", "not only spaces");
  refused("POST", "/manage/v1/rooms", R"({"name": "Canoe", "category": "Clubs", "members": ["bob@example.com"]})", 400,
          "members", "bob@example.com is not a SIP address");
  refused("POST", "/manage/v1/rooms", R"({"name": "Canoe", "category": "Clubs", "presenters": ["sip:bob"]})", 400,
          "presenters", "sip:bob is not a SIP address");
  refused("POST", "/manage/v1/rooms", R"({"name": "Canoe", "category": "Clubs", "members": ["group:nosuch"]})", 400,
          "members", "there is no group named nosuch");
  std::string dup = refused("POST", "/manage/v1/rooms", R"({"name": "kayak", "category": "Clubs"})", 409, "name",
                            "a room named kayak exists");
  EXPECT_EQ(dup.find(id), std::string::npos) << "the room's internal id stays inside: " << dup;
  refused("POST", "/manage/v1/rooms", R"({"name": "Canoe", "category": "Nowhere"})", 400, "category",
          "there is no category named Nowhere");
  refused("PATCH", "/manage/v1/rooms/" + id, R"({"name": " "})", 400, "name", "not only spaces");
  refused("PATCH", "/manage/v1/rooms/" + id, R"({"add_managers": ["group:nosuch"]})", 400, "managers", "nosuch");
  // A known group is taken; an edit keeps the room's name.
  r = http(port, "POST", "/manage/v1/rooms", write,
           R"({"name": "Canoe", "category": "Clubs", "members": ["group:paddlers"]})");
  EXPECT_EQ(r.status, 201) << r.body;
  r = http(port, "PATCH", "/manage/v1/rooms/" + id, write, R"({"description": "paddling on weekends", "topic": "Sunday: lake"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["topic"], "Sunday: lake") << r.body;

  // bob is no Creator: no category to create rooms in, and a try is refused without
  // "no such category".
  auto bob = http(port, "POST", "/api/web/session", {"Content-Type: application/json"},
                  R"({"address":"bob@example.com","password":"pw-bob"})");
  ASSERT_EQ(bob.status, 200) << bob.body;
  std::string bob_cookie = session_cookie(bob.head);
  std::string bob_csrf = json::parse(bob.body).value("csrf", "");
  r = http(port, "GET", "/manage/v1/categories", {"Cookie: " + bob_cookie});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json::array());
  r = http(port, "POST", "/manage/v1/rooms",
           {"Cookie: " + bob_cookie, "X-PChat-CSRF: " + bob_csrf, "Content-Type: application/json"},
           R"({"name": "Bob's", "category": "Clubs"})");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.body.find("no such category"), std::string::npos) << r.body;

  // The old page's address opens the view; unknown paths are a plain 404 that names nothing
  // of the server's (its data folder above all).
  r = http(port, "GET", "/manage");
  EXPECT_EQ(r.status, 302);
  EXPECT_NE(r.head.find("Location: /#manage"), std::string::npos) << r.head;
  const std::string data = dir_ / "data";
  for (std::string path : {"/nope", "/managex", "/manage/v1x", "/files", "/app/nope.js", "/api/v2/x"}) {
    auto a = http(port, "GET", path);
    EXPECT_EQ(a.status, 404) << path << " " << a.body;
    EXPECT_NE(a.head.find("Content-Type: text/plain"), std::string::npos) << path << " " << a.head;
    EXPECT_EQ(a.body.find(data), std::string::npos) << path << " " << a.body;
  }
  // The file service wants a sign-in, and says only that.
  auto files = http(port, "GET", "/files/");
  EXPECT_EQ(files.status, 401) << files.body;
  EXPECT_EQ(files.body.find(data), std::string::npos) << files.body;
}
