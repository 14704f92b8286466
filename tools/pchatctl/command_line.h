// pchatctl's command line on CLI11: the global options every command shares, and the
// leaf commands (`<noun> <verb>` or a lone noun) with their own --options.
//
// Each leaf is built by a *_commands.cpp file (add_*_commands) and given a run function;
// parsing chooses at most one leaf and stores its run in `ctl_context::action`, which main
// calls once the admin token is known. Unknown options, stray words, missing or bad values
// are CLI::ParseError from parse(): exit status 2 (docs/ADMIN.md lists them).
// Single-threaded; a ctl_context and its leaves live for the whole process.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pchat::ctl {

// Exit statuses (docs/ADMIN.md).
constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;     // the server refused (its reason printed) or a test failed
constexpr int kExitUsage = 2;       // bad command line: unknown option, missing or bad value
constexpr int kExitUnreachable = 3; // no answer from the server, or an answer that is not JSON

struct ctl_context {
  std::string server = "127.0.0.1:8011";
  bool json = false;
  std::function<int()> action;  // the chosen leaf's work
};

// One leaf command's options, by name without the dashes: text values in `text`, comma
// lists in `lists`. `has` tells whether the option was given on the command line.
class leaf {
 public:
  explicit leaf(CLI::App* cmd) : cmd_(cmd) {}
  CLI::App* cmd() const { return cmd_; }
  // False also for an option this leaf does not have (shared body builders ask for all).
  bool has(const std::string& name) const {
    const CLI::Option* o = cmd_->get_option_no_throw("--" + name);
    return o != nullptr && o->count() > 0;
  }
  const std::string& text(const std::string& name) { return text_[name]; }
  const std::vector<std::string>& list(const std::string& name) { return lists_[name]; }

  // --NAME VALUE. `required`: the command needs it (and not empty). `more_names`: other
  // spellings accepted, e.g. "--room-id".
  CLI::Option* add_text(const std::string& name, const std::string& help, bool required = false,
                        const std::string& more_names = "");
  // --NAME A,B,C (or repeated): a list of principals or names.
  CLI::Option* add_list(const std::string& name, const std::string& help, bool required = false);
  // --NAME true|false.
  CLI::Option* add_bool(const std::string& name, const std::string& help, bool required = false);
  // --NAME N, a whole number in [lo, hi].
  CLI::Option* add_number(const std::string& name, const std::string& help, long lo, long hi,
                          bool required = false);
  // --NAME, a flag without value; shown as "true" by text(name) when given.
  CLI::Option* add_flag(const std::string& name, const std::string& help);

 private:
  CLI::App* cmd_;
  std::map<std::string, std::string> text_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::map<std::string, bool> flags_;
};

// Refuses an empty value ("--identity ''").
const CLI::Validator& not_empty();

using leaf_run = std::function<int(leaf&, const ctl_context&)>;

// A leaf under `parent` named `name`: its run becomes ctx.action when it is chosen.
// The returned leaf is owned by the registry (lives for the process).
leaf& add_leaf(CLI::App* parent, const std::string& name, const std::string& help, ctl_context& ctx,
               leaf_run run);
// A noun (`room`, `user`, ...) whose verbs are leaves; exactly one verb is required.
CLI::App* add_noun(CLI::App& app, const std::string& name, const std::string& help);

}  // namespace pchat::ctl
