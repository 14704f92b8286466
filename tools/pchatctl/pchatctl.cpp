// pchatctl: the administration CLI, modelled on the *-CsPersistentChat* cmdlets.
//
//   pchatctl [--server=HOST:PORT] [--json] [--data-dir=D | --token-file=F | --token=T]
//            [--admin-name=NAME] <noun> <verb> [--option=value | --option value] ...
//
// Every noun and verb has --help. Commands: directory_commands.h (category, room, message,
// addin, file), identity_commands.h (user, group, policy, principal), config_commands.h
// (status, config, compliance), history_commands.h (search, export, import, backup),
// test_commands.h (test message, test credential), pool_commands.h (pool status).
// Every request names the acting admin (X-PChat-Admin, --admin-name: default the login
// behind sudo), recorded with the admin's compliance events.
// The reference, the --json shapes and the exit statuses are in docs/ADMIN.md:
// 0 ok, 1 the server refused (its reason printed), 2 bad usage, 3 cannot reach the server.
#include <CLI/CLI.hpp>

#include <iostream>

#include "text/admin_name.h"
#include "tools/pchatctl/admin_http.h"
#include "tools/pchatctl/command_line.h"
#include "tools/pchatctl/config_commands.h"
#include "tools/pchatctl/directory_commands.h"
#include "tools/pchatctl/history_commands.h"
#include "tools/pchatctl/identity_commands.h"
#include "tools/pchatctl/pool_commands.h"
#include "tools/pchatctl/test_commands.h"

namespace {

// "pchatctl room get": the deepest command the parse reached, for the --help hint.
std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  const CLI::App* at = &app;
  for (;;) {
    auto chosen = at->get_subcommands();
    if (chosen.empty()) return path;
    at = chosen.front();
    path += " " + at->get_name();
  }
}

}  // namespace

int main(int argc, char** argv) {
  pchat::ctl::ctl_context ctx;
  std::string token, token_file, data_dir, admin_name = pchat::ctl::default_admin_name();
  CLI::App app{"pchatctl: administer a pchat node over its admin API (docs/ADMIN.md)", "pchatctl"};
  app.option_defaults()->always_capture_default();
  // Global options may also follow the command: `pchatctl room get --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--server", ctx.server, "HOST:PORT of the admin API");
  app.add_flag("--json", ctx.json, "print the API's JSON (docs/ADMIN.md) instead of a table");
  app.add_option("--token", token, "the admin token (default: from --token-file, $PCHAT_ADMIN_TOKEN, "
                                   "DATA-DIR/admin.token)");
  app.add_option("--token-file", token_file, "file holding the admin token");
  app.add_option("--data-dir", data_dir, "pchatd's data folder: its admin.token is used (default ./data)");
  app.add_option("--admin-name", admin_name,
                 "the name your actions are recorded under in compliance (admin:NAME; default: your "
                 "login, the one behind sudo)")
      ->check(CLI::Validator(
          [](std::string& v) {
            return pchat::text::valid_admin_name(v) ? std::string()
                                                    : std::string("1..64 of A-Z a-z 0-9 . _ @ + -");
          },
          "NAME"));
  pchat::ctl::add_directory_commands(app, ctx);
  pchat::ctl::add_identity_commands(app, ctx);
  pchat::ctl::add_config_commands(app, ctx);
  pchat::ctl::add_history_commands(app, ctx);
  pchat::ctl::add_pool_commands(app, ctx);
  pchat::ctl::add_test_commands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // "room frobnicate" fails as a missing verb: name the word that was not one.
    std::string stray;
    for (auto& w : app.remaining(true)) stray += (stray.empty() ? "" : " ") + w;
    std::cerr << "pchatctl: " << e.what();
    if (!stray.empty() && dynamic_cast<const CLI::RequiredError*>(&e)) std::cerr << "; not understood: " << stray;
    std::cerr << " (see " << command_path(app) << " --help)\n";
    return pchat::ctl::kExitUsage;
  }
  if (!ctx.action) {
    std::cerr << "pchatctl: no command given (see pchatctl --help)\n";
    return pchat::ctl::kExitUsage;
  }
  pchat::ctl::set_admin_token(pchat::ctl::find_admin_token(token, token_file, data_dir));
  pchat::ctl::set_admin_name(admin_name);
  return ctx.action();
}
