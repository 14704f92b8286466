#include "actors/web_edge.h"

#include <caf/all.hpp>

#include <utility>

#include "actors/messages.h"
#include "actors/web_session_actor.h"
#include "pool/node_tag.h"

namespace pchat::actors {

uint64_t web_edge::open_dialog(const caf::actor& session, const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = kWebBit | next_id_++;
  dialogs_.emplace(id, dialog{session, user});
  return id;
}

void web_edge::close_dialog(uint64_t d) {
  std::lock_guard<std::mutex> lock(mu_);
  d = pool::local_of(d);
  dialogs_.erase(d);
  for (auto it = txns_.begin(); it != txns_.end();)
    it = it->second == d ? txns_.erase(it) : std::next(it);
}

uint64_t web_edge::new_txn(uint64_t d) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = kWebBit | next_id_++;
  txns_.emplace(id, pool::local_of(d));
  return id;
}

void web_edge::end_user(const std::string& user, const std::string& reason) {
  std::vector<caf::actor> ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, d] : dialogs_)
      if (d.user == user) ended.push_back(d.session);
  }
  for (auto& s : ended) caf::anon_send(s, closed_atom::value, reason);
}

void web_edge::end_all() {
  std::vector<caf::actor> ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, d] : dialogs_) ended.push_back(d.session);
  }
  for (auto& s : ended) caf::anon_send(s, closed_atom::value, std::string(kServerStopping));
}

size_t web_edge::dialogs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dialogs_.size();
}

size_t web_edge::dialogs_of(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& [id, d] : dialogs_) n += d.user == user ? 1 : 0;
  return n;
}

caf::actor web_edge::take_txn(uint64_t txn, uint64_t* dialog_out) {
  auto it = txns_.find(pool::local_of(txn));
  if (it == txns_.end()) return {};
  uint64_t d = it->second;
  txns_.erase(it);
  if (dialog_out) *dialog_out = d;
  auto di = dialogs_.find(d);
  return di == dialogs_.end() ? caf::actor() : di->second.session;
}

std::vector<std::pair<uint64_t, caf::actor>> web_edge::split(std::vector<sip::dialog_id>& targets) {
  std::vector<std::pair<uint64_t, caf::actor>> web;
  size_t n = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto d : targets) {
    if (!is_web(d)) {
      targets[n++] = d;
      continue;
    }
    if (auto it = dialogs_.find(pool::local_of(d)); it != dialogs_.end()) web.emplace_back(it->first, it->second.session);
  }
  targets.resize(n);
  return web;
}

void web_edge::respond(sip::txn_id txn, int code) {
  if (!is_web(txn)) return next_.respond(txn, code);
  caf::actor s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = take_txn(txn, nullptr);
  }
  if (s) caf::anon_send(s, web_answer_atom::value, static_cast<uint64_t>(pool::local_of(txn)), int32_t{code}, std::string());
}

void web_edge::send_info(sip::dialog_id d, std::shared_ptr<const std::string> body) {
  if (!is_web(d)) return next_.send_info(d, std::move(body));
  caf::actor s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = dialogs_.find(pool::local_of(d)); it != dialogs_.end()) s = it->second.session;
  }
  if (s && body) caf::anon_send(s, web_info_atom::value, *body);
}

void web_edge::send_info_many(std::vector<sip::dialog_id> targets, std::shared_ptr<const std::string> body) {
  auto web = split(targets);
  if (!targets.empty()) next_.send_info_many(std::move(targets), body);
  if (!body) return;
  for (auto& [id, s] : web) caf::anon_send(s, web_info_atom::value, *body);
}

void web_edge::respond_then_send_info_many(sip::txn_id txn, int code, std::vector<sip::dialog_id> targets,
                                           std::shared_ptr<const std::string> body) {
  auto web = split(targets);
  uint64_t author_dialog = 0;
  caf::actor author;
  if (is_web(txn)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      author = take_txn(txn, &author_dialog);
    }
    if (!targets.empty()) next_.send_info_many(std::move(targets), body);
    // The author's answer carries its echo (its seq): one message, not two.
    if (author)
      caf::anon_send(author, web_answer_atom::value, static_cast<uint64_t>(pool::local_of(txn)), int32_t{code},
                     body ? *body : std::string());
  } else if (targets.empty()) {
    next_.respond(txn, code);
  } else {
    next_.respond_then_send_info_many(txn, code, std::move(targets), body);
  }
  if (!body) return;
  for (auto& [id, s] : web)
    if (!(author && id == author_dialog)) caf::anon_send(s, web_info_atom::value, *body);
}

void web_edge::answer(sip::txn_id txn, int code, sip::dialog_id d, std::shared_ptr<const std::string> reply) {
  if (!is_web(txn)) return next_.answer(txn, code, d, std::move(reply));
  caf::actor s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = take_txn(txn, nullptr);
  }
  if (s)
    caf::anon_send(s, web_answer_atom::value, static_cast<uint64_t>(pool::local_of(txn)), int32_t{code},
                   reply ? *reply : std::string());
}

}  // namespace pchat::actors
