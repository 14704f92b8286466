// pchat-etcd-bench: what one call of pool::etcd_client costs against a running etcd
// (issue 12: leases, room claims and directory records go through it).
//
//   pchat-etcd-bench --etcd=http://127.0.0.1:2379 [--n=1000] [--prefix=/pchat-etcd-bench/]
//
// Runs --n of each, one at a time over the client's kept-alive connection: put (a 100-byte
// value), create_if_absent on a fresh key (a transaction: compare, put, read back),
// lease keep_alive, get, and a range over the --n keys put. Prints p50/p99/max in ms per
// call. Deletes its keys and revokes its lease at the end. etcd's own fsync is in every
// write's figure.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pool/etcd_client.h"

namespace {

using clock_type = std::chrono::steady_clock;

void report(const char* what, std::vector<double> ms) {
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  std::printf("%-18s n=%-6zu p50=%.3f ms  p99=%.3f ms  max=%.3f ms\n", what, ms.size(), at(0.5), at(0.99),
              ms.back());
}

bool timed(const char* what, int n, const std::function<pchat::status(int)>& call) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    auto s = call(i);
    if (!s.is_ok()) {
      std::fprintf(stderr, "%s #%d: %s\n", what, i, s.to_string().c_str());
      return false;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
  }
  report(what, std::move(ms));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoints, prefix = "/pchat-etcd-bench/";
  int n = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--etcd=", 0) == 0)
      endpoints = a.substr(7);
    else if (a.rfind("--n=", 0) == 0)
      n = std::max(1, std::atoi(a.c_str() + 4));
    else if (a.rfind("--prefix=", 0) == 0 && a.size() > 9)
      prefix = a.substr(9);
    else {
      std::fprintf(stderr, "usage: pchat-etcd-bench --etcd=URL[,URL...] [--n=1000] [--prefix=/p/]\n");
      return 2;
    }
  }
  std::unique_ptr<pchat::pool::etcd_client> c;
  if (auto s = pchat::pool::etcd_client::create(endpoints, {}, &c); !s.is_ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 2;
  }
  int64_t lease = 0, ttl = 0;
  if (auto s = c->grant_lease(30, &lease); !s.is_ok()) {
    std::fprintf(stderr, "grant: %s\n", s.to_string().c_str());
    return 1;
  }
  const std::string value(100, 'v');
  bool ok = timed("put", n, [&](int i) { return c->put(prefix + "k/" + std::to_string(i), value, 0, nullptr); }) &&
            timed("create_if_absent", n,
                  [&](int i) {
                    pchat::pool::etcd_claim claim;
                    return c->create_if_absent(prefix + "claim/" + std::to_string(i), "node", lease, &claim);
                  }) &&
            timed("keep_alive", n, [&](int) { return c->keep_alive(lease, &ttl); }) &&
            timed("get", n, [&](int i) {
              pchat::pool::etcd_kv kv;
              return c->get(prefix + "k/" + std::to_string(i), &kv);
            }) &&
            timed("range (n keys)", std::min(n, 100), [&](int) {
              pchat::pool::etcd_range r;
              return c->range(prefix + "k/", &r);
            });
  c->revoke(lease);
  for (int i = 0; i < n; ++i) c->erase(prefix + "k/" + std::to_string(i), nullptr);
  return ok ? 0 : 1;
}
