#include "pool/etcd_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "log/log.h"
#include "text/base64.h"

namespace pchat::pool {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

// gRPC status codes the gateway puts in "code" (google.golang.org/grpc/codes).
constexpr int kGrpcNotFound = 5;
constexpr int kGrpcUnavailable = 14;
// An answer's header block; etcd's are a few hundred bytes.
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;

struct endpoint {
  std::string url;  // as configured, for messages
  asio::ip::tcp::endpoint address;
  std::string host;  // the Host header
};

status parse_endpoint(std::string_view s, endpoint* out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::string url(s);
  auto bad = [&](const std::string& why) {
    return status::invalid_argument("etcd endpoint '" + url + "': " + why +
                                    " (expected http://<ip address or localhost>:<port>)");
  };
  constexpr std::string_view scheme = "http://";
  if (s.substr(0, scheme.size()) != scheme) return bad("not an http:// URL");
  s.remove_prefix(scheme.size());
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.find('/') != std::string_view::npos) return bad("has a path");
  std::string_view host = s, port_text;
  if (!s.empty() && s.front() == '[') {  // [v6]:port
    auto close = s.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = s.substr(1, close - 1);
    auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("junk after ']'");
      port_text = rest.substr(1);
    }
  } else if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port_text = s.substr(colon + 1);
  }
  unsigned port = 2379;
  if (!port_text.empty()) {
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return bad("bad port");
  }
  if (host.empty()) return bad("no host");
  std::string address_text = host == "localhost" ? "127.0.0.1" : std::string(host);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(address_text, ec);
  if (ec) {
    // A name is looked up once, here (start-up), so that no call waits on a resolver.
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    auto found = resolver.resolve(address_text, std::to_string(port), ec);
    if (ec || found.empty()) return bad("host '" + address_text + "' does not resolve");
    address = found.begin()->endpoint().address();
  }
  out->url = url;
  out->address = asio::ip::tcp::endpoint(address, static_cast<uint16_t>(port));
  out->host = std::string(s);
  return status::ok();
}

// The first key after every key that starts with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key >= prefix
}

// proto3 int64 fields arrive as JSON strings ("42") and are omitted when 0.
bool read_int(const json& j, const char* name, int64_t* out) {
  *out = 0;
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return true;
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return true;
  }
  if (!it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool read_bool(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string b64(std::string_view bytes) { return text::base64_encode(bytes); }

}  // namespace

struct etcd_client::impl {
  std::vector<endpoint> endpoints;
  etcd_options options;

  mutable std::mutex mu;
  size_t current = 0;  // GUARDED_BY(mu): the endpoint calls start with
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;  // GUARDED_BY(mu): connected to endpoints[current]
  beast::flat_buffer buffer;                // GUARDED_BY(mu): bytes read after an answer

  void close() {
    if (stream) {
      boost::system::error_code ignored;
      stream->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
    }
    stream.reset();
    buffer.clear();
  }

  // Runs the posted operations to their end; tcp_stream's expiry bounds each of them (it
  // closes the socket and the operation ends with beast::error::timeout).
  void run() {
    ioc.restart();
    ioc.run();
  }

  // One POST to endpoints[current] finished by `until`. ok: *http_status and *answer hold
  // the answer. Otherwise *transport says what failed on the way (the caller moves on).
  bool exchange(const std::string& path, const std::string& body, steady::time_point until,
                unsigned* http_status, std::string* answer, std::string* transport) {
    const endpoint& ep = endpoints[current];
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto left = until - steady::now();
      if (left <= steady::duration::zero()) {
        *transport = "timed out";
        return false;
      }
      bool reused = stream.has_value();
      boost::system::error_code ec;
      if (!reused) {
        stream.emplace(ioc);
        stream->expires_after(left);
        stream->async_connect(ep.address, [&](boost::system::error_code e) { ec = e; });
        run();
        if (ec) {
          *transport = ec == beast::error::timeout ? "connect timed out" : "connect: " + ec.message();
          close();
          return false;
        }
      }
      http::request<http::string_body> req{http::verb::post, path, 11};
      req.set(http::field::host, ep.host);
      req.set(http::field::content_type, "application/json");
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      stream->expires_at(until);
      http::async_write(*stream, req, [&](boost::system::error_code e, size_t) { ec = e; });
      run();
      http::response_parser<http::string_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(options.max_response_bytes);
      if (!ec) {
        stream->expires_at(until);
        http::async_read_header(*stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e; });
        run();
      }
      // Beast 1.74 compares a Content-Length with the body limit wrongly (an optional
      // compare) and reserves whatever length the peer claims: check it here.
      if (!ec && parser.content_length() && *parser.content_length() > options.max_response_bytes)
        ec = http::error::body_limit;
      if (!ec && !parser.is_done()) {
        http::async_read(*stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e; });
        run();
      }
      if (ec) {
        close();
        // A kept-alive connection the server closed while idle: try once more on a fresh
        // one (nothing was answered, and an idle close means nothing was taken either).
        if (reused && ec != beast::error::timeout && !parser.got_some()) continue;
        if (ec == beast::error::timeout)
          *transport = "no answer in time";
        else if (ec == http::error::body_limit)
          *transport = "answer over " + std::to_string(options.max_response_bytes) + " bytes";
        else if (&ec.category() == &http::make_error_code(http::error::bad_version).category())
          *transport = "not an HTTP answer (" + ec.message() + ")";
        else
          *transport = ec.message();
        return false;
      }
      auto res = parser.release();
      *http_status = res.result_int();
      *answer = std::move(res.body());
      if (!res.keep_alive()) close();
      return true;
    }
    *transport = "connection closed twice";
    return false;
  }

  // POSTs `request` to `path`, moving over the endpoints as the header says. ok: *answer is
  // the gateway's JSON object. not_found: etcd's NotFound (a lease).
  status call(const std::string& path, const json& request, json* answer) {
    std::lock_guard<std::mutex> lock(mu);
    auto until = steady::now() + options.timeout;
    std::string body = request.dump();
    std::string failures;
    const size_t n = endpoints.size();
    for (size_t tried = 0; tried < n; ++tried) {
      auto left = until - steady::now();
      if (left <= steady::duration::zero()) break;
      // Leave the endpoints not tried yet their share, so one that hangs (a paused etcd
      // accepts connections) cannot eat the whole call.
      auto attempt_until = steady::now() + left / static_cast<long>(n - tried);
      const endpoint& ep = endpoints[current];
      unsigned http_status = 0;
      std::string text, transport;
      auto next = [&](const std::string& why) {
        if (!failures.empty()) failures += "; ";
        failures += ep.url + ": " + why;
        close();
        current = (current + 1) % n;
      };
      bool answered = false;
      try {
        answered = exchange(path, body, attempt_until, &http_status, &text, &transport);
      } catch (const std::exception& e) {  // an allocation for a hostile answer, say
        transport = std::string("failed reading the answer: ") + e.what();
      }
      if (!answered) {
        next(transport);
        continue;
      }
      json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        close();  // whatever answers there is not an etcd gateway
        return status::corruption("etcd " + ep.url + path + ": HTTP " + std::to_string(http_status) +
                                  " answer is not a JSON object");
      }
      if (http_status != 200) {
        int64_t code = 0;
        read_int(j, "code", &code);
        std::string message;
        if (auto it = j.find("message"); it != j.end() && it->is_string()) message = *it;
        if (code == kGrpcUnavailable) {
          next("unavailable (" + message + ")");
          continue;
        }
        if (code == kGrpcNotFound) return status::not_found("etcd " + ep.url + path + ": " + message);
        return status::io_error("etcd " + ep.url + path + ": HTTP " + std::to_string(http_status) +
                                ": " + (message.empty() ? std::string("no message") : message) +
                                " (grpc code " + std::to_string(code) + ")");
      }
      *answer = std::move(j);
      return status::ok();
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout).count();
    PCHAT_LOG(warn, "etcd", "no etcd endpoint answered",
              "path=" + path + " timeout_ms=" + std::to_string(ms) + " failures=" + log::quote(failures));
    return status::io_error("etcd: no endpoint answered " + path + " within " + std::to_string(ms) +
                            " ms (" + (failures.empty() ? std::string("no time left") : failures) +
                            "); check that etcd runs and --etcd names it");
  }

  std::string where(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu);
    return "etcd " + endpoints[current].url + path;
  }

  status bad_answer(const std::string& path, const std::string& what) const {
    return status::corruption(where(path) + ": " + what);
  }

  status read_kv(const std::string& path, const json& j, etcd_kv* out) const {
    if (!j.is_object()) return bad_answer(path, "a kv is not an object");
    auto key = j.find("key");
    if (key == j.end() || !key->is_string()) return bad_answer(path, "a kv without a key");
    auto k = text::base64_decode(key->get_ref<const std::string&>());
    if (!k) return bad_answer(path, "a key is not base64");
    out->key = std::move(*k);
    out->value.clear();
    if (auto v = j.find("value"); v != j.end()) {
      if (!v->is_string()) return bad_answer(path, "a value is not a string");
      auto value = text::base64_decode(v->get_ref<const std::string&>());
      if (!value) return bad_answer(path, "a value is not base64");
      out->value = std::move(*value);
    }
    if (!read_int(j, "create_revision", &out->create_revision) ||
        !read_int(j, "mod_revision", &out->mod_revision) || !read_int(j, "version", &out->version) ||
        !read_int(j, "lease", &out->lease))
      return bad_answer(path, "a kv's number is not a number");
    return status::ok();
  }

  // A RangeResponse (of /v3/kv/range or inside a txn) into *out.
  status read_range(const std::string& path, const json& j, etcd_range* out) const {
    out->kvs.clear();
    out->revision = 0;
    if (!j.is_object()) return bad_answer(path, "a range answer is not an object");
    if (auto h = j.find("header"); h != j.end() && h->is_object() && !read_int(*h, "revision", &out->revision))
      return bad_answer(path, "the header's revision is not a number");
    out->more = read_bool(j, "more");
    auto kvs = j.find("kvs");
    if (kvs == j.end() || kvs->is_null()) return status::ok();
    if (!kvs->is_array()) return bad_answer(path, "kvs is not an array");
    out->kvs.resize(kvs->size());
    for (size_t i = 0; i < kvs->size(); ++i)
      if (auto s = read_kv(path, (*kvs)[i], &out->kvs[i]); !s.is_ok()) return s;
    return status::ok();
  }
};

etcd_client::etcd_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
etcd_client::~etcd_client() = default;

status etcd_client::create(std::string_view endpoints, const etcd_options& options,
                           std::unique_ptr<etcd_client>* out) {
  auto p = std::make_unique<impl>();
  p->options = options;
  while (!endpoints.empty()) {
    auto comma = endpoints.find(',');
    auto one = endpoints.substr(0, comma);
    endpoint ep;
    if (auto s = parse_endpoint(one, &ep); !s.is_ok()) return s;
    p->endpoints.push_back(std::move(ep));
    if (comma == std::string_view::npos) break;
    endpoints.remove_prefix(comma + 1);
  }
  if (p->endpoints.empty()) return status::invalid_argument("no etcd endpoint given (--etcd=http://host:port,...)");
  if (options.timeout <= std::chrono::milliseconds::zero())
    return status::invalid_argument("etcd timeout must be positive");
  out->reset(new etcd_client(std::move(p)));
  return status::ok();
}

std::string etcd_client::current_endpoint() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->endpoints[impl_->current].url;
}

status etcd_client::grant_lease(int64_t ttl_s, int64_t* lease) {
  const std::string path = "/v3/lease/grant";
  json answer;
  if (auto s = impl_->call(path, {{"TTL", std::to_string(ttl_s)}}, &answer); !s.is_ok()) return s;
  if (auto e = answer.find("error"); e != answer.end() && e->is_string() && !e->get_ref<const std::string&>().empty())
    return status::io_error(impl_->where(path) + ": " + e->get<std::string>());
  if (!read_int(answer, "ID", lease) || *lease == 0) return impl_->bad_answer(path, "no lease ID");
  return status::ok();
}

status etcd_client::keep_alive(int64_t lease, int64_t* ttl_s) {
  const std::string path = "/v3/lease/keepalive";
  json answer;
  if (auto s = impl_->call(path, {{"ID", std::to_string(lease)}}, &answer); !s.is_ok()) return s;
  // A stream of one message: {"result": LeaseKeepAliveResponse} or {"error": {...}}.
  auto result = answer.find("result");
  if (result == answer.end() || !result->is_object()) {
    std::string why = "no result";
    if (auto e = answer.find("error"); e != answer.end() && e->is_object())
      if (auto m = e->find("message"); m != e->end() && m->is_string()) why = *m;
    return status::io_error(impl_->where(path) + ": " + why);
  }
  if (!read_int(*result, "TTL", ttl_s)) return impl_->bad_answer(path, "TTL is not a number");
  // etcd answers a lease it does not know with TTL 0 (omitted), not an error.
  if (*ttl_s <= 0)
    return status::not_found("etcd lease " + std::to_string(lease) + " expired or was revoked");
  return status::ok();
}

status etcd_client::revoke(int64_t lease) {
  json answer;
  return impl_->call("/v3/lease/revoke", {{"ID", std::to_string(lease)}}, &answer);
}

status etcd_client::put(std::string_view key, std::string_view value, int64_t lease, int64_t* revision) {
  const std::string path = "/v3/kv/put";
  json request = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0) request["lease"] = std::to_string(lease);
  json answer;
  if (auto s = impl_->call(path, request, &answer); !s.is_ok()) return s;
  int64_t rev = 0;
  auto h = answer.find("header");
  if (h == answer.end() || !h->is_object() || !read_int(*h, "revision", &rev) || rev <= 0)
    return impl_->bad_answer(path, "no header revision");
  if (revision) *revision = rev;
  return status::ok();
}

status etcd_client::get(std::string_view key, etcd_kv* out) {
  const std::string path = "/v3/kv/range";
  json answer;
  if (auto s = impl_->call(path, {{"key", b64(key)}}, &answer); !s.is_ok()) return s;
  etcd_range r;
  if (auto s = impl_->read_range(path, answer, &r); !s.is_ok()) return s;
  if (r.kvs.empty()) return status::not_found("etcd has no key '" + std::string(key) + "'");
  if (r.kvs.size() != 1 || r.kvs[0].key != key) return impl_->bad_answer(path, "another key than asked for");
  *out = std::move(r.kvs[0]);
  return status::ok();
}

status etcd_client::range(std::string_view prefix, etcd_range* out) {
  if (prefix.empty()) return status::invalid_argument("etcd range: empty prefix");
  const std::string path = "/v3/kv/range";
  json answer;
  json request = {{"key", b64(prefix)}, {"range_end", b64(prefix_end(prefix))}};
  if (auto s = impl_->call(path, request, &answer); !s.is_ok()) return s;
  return impl_->read_range(path, answer, out);
}

status etcd_client::range_created_since(std::string_view prefix, int64_t min_create_revision,
                                        int64_t limit, etcd_range* out) {
  if (prefix.empty() || limit < 1) return status::invalid_argument("etcd range: empty prefix or limit < 1");
  const std::string path = "/v3/kv/range";
  json request = {{"key", b64(prefix)},
                  {"range_end", b64(prefix_end(prefix))},
                  {"limit", std::to_string(limit)},
                  {"sort_order", "ASCEND"},
                  {"sort_target", "CREATE"}};
  if (min_create_revision > 0) request["min_create_revision"] = std::to_string(min_create_revision);
  json answer;
  if (auto s = impl_->call(path, request, &answer); !s.is_ok()) return s;
  return impl_->read_range(path, answer, out);
}

status etcd_client::current_revision(int64_t* revision) {
  const std::string path = "/v3/kv/range";
  json answer;
  // Any key will do: count_only reads no value, the header carries the revision.
  if (auto s = impl_->call(path, {{"key", b64(std::string_view("\0", 1))}, {"count_only", true}}, &answer); !s.is_ok()) return s;
  etcd_range r;
  if (auto s = impl_->read_range(path, answer, &r); !s.is_ok()) return s;
  if (r.revision <= 0) return impl_->bad_answer(path, "no header revision");
  *revision = r.revision;
  return status::ok();
}

status etcd_client::create_if_absent(std::string_view key, std::string_view value, int64_t lease,
                                     etcd_claim* out) {
  const std::string path = "/v3/kv/txn";
  json put = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  json read = {{"request_range", {{"key", b64(key)}}}};
  json request = {
      {"compare", json::array({{{"key", b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"},
                                {"create_revision", "0"}}})},
      // The success branch reads the key back after the put: the holder is then ours, with
      // the revisions etcd gave it.
      {"success", json::array({{{"request_put", put}}, read})},
      {"failure", json::array({read})}};
  json answer;
  if (auto s = impl_->call(path, request, &answer); !s.is_ok()) return s;
  out->created = read_bool(answer, "succeeded");
  auto responses = answer.find("responses");
  if (responses == answer.end() || !responses->is_array()) return impl_->bad_answer(path, "no responses");
  for (const auto& r : *responses) {
    if (!r.is_object()) continue;
    auto range = r.find("response_range");
    if (range == r.end()) continue;
    etcd_range got;
    if (auto s = impl_->read_range(path, *range, &got); !s.is_ok()) return s;
    if (got.kvs.size() != 1 || got.kvs[0].key != key)
      return impl_->bad_answer(path, "the claim's read found no single key");
    out->holder = std::move(got.kvs[0]);
    return status::ok();
  }
  return impl_->bad_answer(path, "no range in the transaction's responses");
}

status etcd_client::delete_if(std::string_view key, int64_t create_revision, bool* deleted) {
  if (create_revision <= 0) return status::invalid_argument("etcd delete_if: create_revision must be > 0");
  const std::string path = "/v3/kv/txn";
  json request = {
      {"compare", json::array({{{"key", b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"},
                                {"create_revision", std::to_string(create_revision)}}})},
      {"success", json::array({{{"request_delete_range", {{"key", b64(key)}}}}})}};
  json answer;
  if (auto s = impl_->call(path, request, &answer); !s.is_ok()) return s;
  if (deleted) *deleted = read_bool(answer, "succeeded");
  return status::ok();
}

status etcd_client::put_if(const std::vector<etcd_compare>& compares,
                           const std::vector<std::pair<std::string, std::string>>& puts, bool* succeeded) {
  const std::string path = "/v3/kv/txn";
  json cmp = json::array();
  for (const auto& c : compares) {
    bool create = c.what == etcd_compare::target::create;
    cmp.push_back({{"key", b64(c.key)}, {"target", create ? "CREATE" : "MOD"}, {"result", "EQUAL"},
                   {create ? "create_revision" : "mod_revision", std::to_string(c.revision)}});
  }
  json ops = json::array();
  for (const auto& [k, v] : puts) ops.push_back({{"request_put", {{"key", b64(k)}, {"value", b64(v)}}}});
  json answer;
  if (auto s = impl_->call(path, {{"compare", cmp}, {"success", ops}}, &answer); !s.is_ok()) return s;
  *succeeded = read_bool(answer, "succeeded");
  return status::ok();
}

status etcd_client::erase(std::string_view key, int64_t* deleted) {
  const std::string path = "/v3/kv/deleterange";
  json answer;
  if (auto s = impl_->call(path, {{"key", b64(key)}}, &answer); !s.is_ok()) return s;
  int64_t n = 0;
  if (!read_int(answer, "deleted", &n)) return impl_->bad_answer(path, "deleted is not a number");
  if (deleted) *deleted = n;
  return status::ok();
}

}  // namespace pchat::pool
