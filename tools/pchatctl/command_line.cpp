#include "tools/pchatctl/command_line.h"

#include <cstdlib>

namespace pchat::ctl {
namespace {

// Whole numbers only ("12", not "12.5", "1e3" or "twelve"), then the range.
CLI::Validator whole_number(long lo, long hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        char* end = nullptr;
        errno = 0;
        long n = v.empty() ? 0 : std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || errno == ERANGE)
          return "'" + v + "' is not a whole number";
        if (n < lo || n > hi) return std::to_string(n) + " is not in " + std::to_string(lo) + ".." + std::to_string(hi);
        return {};
      },
      "", "WHOLE NUMBER");
}

std::vector<std::unique_ptr<leaf>>& registry() {
  static std::vector<std::unique_ptr<leaf>> leaves;
  return leaves;
}

}  // namespace

const CLI::Validator& not_empty() {
  // Required values must say something: `--name ""` is as missing as no --name at all.
  static const CLI::Validator v(
      [](std::string& s) { return s.empty() ? std::string("must not be empty") : std::string(); }, "", "NOT EMPTY");
  return v;
}

CLI::Option* leaf::add_text(const std::string& name, const std::string& help, bool required,
                            const std::string& more_names) {
  auto* o = cmd_->add_option("--" + name + (more_names.empty() ? "" : "," + more_names), text_[name], help);
  if (required) o->required()->check(not_empty());
  return o;
}

CLI::Option* leaf::add_list(const std::string& name, const std::string& help, bool required) {
  auto* o = cmd_->add_option("--" + name, lists_[name], help)->delimiter(',')->type_name("A,B,..");
  if (required) o->required();
  return o;
}

CLI::Option* leaf::add_bool(const std::string& name, const std::string& help, bool required) {
  auto* o = cmd_->add_option("--" + name, text_[name], help)->check(CLI::IsMember({"true", "false"}));
  o->type_name("true|false");
  if (required) o->required();
  return o;
}

CLI::Option* leaf::add_number(const std::string& name, const std::string& help, long lo, long hi,
                              bool required) {
  auto* o = cmd_->add_option("--" + name, text_[name], help)->check(whole_number(lo, hi))->type_name("N");
  if (required) o->required();
  return o;
}

CLI::Option* leaf::add_flag(const std::string& name, const std::string& help) {
  return cmd_->add_flag_callback("--" + name, [this, name] { text_[name] = "true"; }, help);
}

leaf& add_leaf(CLI::App* parent, const std::string& name, const std::string& help, ctl_context& ctx,
               leaf_run run) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  registry().push_back(std::make_unique<leaf>(cmd));
  leaf* l = registry().back().get();
  cmd->callback([l, &ctx, run] { ctx.action = [l, &ctx, run] { return run(*l, ctx); }; });
  return *l;
}

CLI::App* add_noun(CLI::App& app, const std::string& name, const std::string& help) {
  CLI::App* noun = app.add_subcommand(name, help);
  noun->require_subcommand(1);
  return noun;
}

}  // namespace pchat::ctl
