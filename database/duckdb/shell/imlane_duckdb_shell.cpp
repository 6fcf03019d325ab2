// imlane-duckdb: a DuckDB SQL shell with IMLane loaded. Zero set-up: the coordinator starts
// embedded when none runs, and stops when the shell exits.
//
//   imlane-duckdb [DATABASE] [-c SQL]... [-f FILE] [--timer] [--unsigned]
//                                                      (no -c/-f: SQL from stdin, prompt on a tty)
// Dot commands: .timer on|off, .quit
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "duckdb.hpp"
#include "duckdb/common/box_renderer.hpp"
#include "imlane_duckdb.hpp"
#include "query_runner.hpp"

namespace {

struct Shell {
  duckdb::Connection *con;
  bool timer = false;
  int errors = 0;

  // Runs every complete statement in `sql`; prints results like DuckDB's shell does.
  void Run(const std::string &sql) {
    std::string text = sql;
    while (!text.empty() && isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.empty()) return;
    if (text[0] == '.') return DotCommand(text);
    auto start = std::chrono::steady_clock::now();
    duckdb::vector<duckdb::unique_ptr<duckdb::SQLStatement>> statements;
    try {
      statements = con->ExtractStatements(text);
    } catch (std::exception &e) {
      Error(duckdb::ErrorData(e).Message());
      return;
    }
    for (auto &statement : statements) {
      auto t0 = std::chrono::steady_clock::now();
      auto result = imlane::duckdb_integration::RunQuery(*con, std::move(statement));
      if (result->HasError()) {
        Error(result->GetError());
        continue;
      }
      if (result->ColumnCount() == 2 && result->names[0] == "explain_key") {
        auto &rows = result->Cast<duckdb::MaterializedQueryResult>();
        for (duckdb::idx_t r = 0; r < rows.RowCount(); r++) std::cout << rows.GetValue(1, r).ToString() << "\n";
      } else {
        duckdb::BoxRendererConfig config;
        config.max_rows = 40;
        std::cout << result->ToBox(*con->context, config);
      }
      if (timer) {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("Run Time: %.3f s\n", s);
      }
    }
    (void)start;
  }

  void DotCommand(const std::string &cmd) {
    if (cmd == ".timer on") {
      timer = true;
    } else if (cmd == ".timer off") {
      timer = false;
    } else if (cmd == ".quit" || cmd == ".exit") {
      std::exit(errors ? 1 : 0);
    } else {
      Error("unknown command " + cmd + " (supported: .timer on|off, .quit)");
    }
  }

  void Error(const std::string &message) {
    errors++;
    std::cerr << "Error: " << message << "\n";
  }
};

// Splits SQL text into statements at semicolons outside quotes; dot commands end at the line end.
void Feed(Shell &shell, std::istream &in, bool prompt) {
  std::string pending, line;
  bool single = false, dbl = false;
  if (prompt) std::cout << "imlane-duckdb> " << std::flush;
  while (std::getline(in, line)) {
    const bool blank = pending.find_first_not_of(" \t\n") == std::string::npos;
    const size_t first = line.find_first_not_of(" \t");
    if (blank && first != std::string::npos && line.compare(first, 2, "--") == 0) {
      continue;  // a comment between statements
    }
    if (blank && first != std::string::npos && line[first] == '.') {
      pending.clear();
      shell.Run(line.substr(first));
    } else {
      for (char c : line) {
        pending += c;
        if (c == '\'' && !dbl) single = !single;
        if (c == '"' && !single) dbl = !dbl;
        if (c == ';' && !single && !dbl) {
          shell.Run(pending);
          pending.clear();
        }
      }
      pending += '\n';
    }
    if (prompt)
      std::cout << (pending.find_first_not_of(" \n\t") == std::string::npos ? "imlane-duckdb> " : "   ...> ")
                << std::flush;
  }
  shell.Run(pending);
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{
      "imlane-duckdb: DuckDB with IMLane AI functions.\n\n"
      "  CALL imlane_create_function('name', 'model.py' or 'python code', 'DOUBLE, VARCHAR', 'INTEGER');\n"
      "  SELECT name(a, b) FROM t;\n"
      "  SELECT * FROM imlane_functions();\n"
      "Settings: SET imlane_executors / imlane_batch_size / imlane_max_inflight / imlane_timeout_ms /\n"
      "imlane_socket / imlane_lane_bytes. The coordinator starts by itself when none runs."};
  std::string database;
  std::vector<std::string> commands;
  std::vector<std::string> files;
  bool timer = false;
  bool unsigned_extensions = false;
  app.add_option("database", database, "database file (default: in-memory)");
  app.add_option("-c,--command", commands, "SQL to run (repeatable, in order); the shell exits afterwards");
  app.add_option("-f,--file", files, "file of SQL to run (repeatable)")->check(CLI::ExistingFile);
  app.add_flag("--timer", timer, "print each statement's run time (same as .timer on)");
  app.add_flag("--unsigned", unsigned_extensions,
               "allow loading unsigned extensions (allow_unsigned_extensions; like duckdb -unsigned)");
  CLI11_PARSE(app, argc, argv);

  duckdb::DBConfig config;
  if (unsigned_extensions) config.SetOptionByName("allow_unsigned_extensions", duckdb::Value::BOOLEAN(true));
  duckdb::DuckDB db(database.empty() ? nullptr : database.c_str(), unsigned_extensions ? &config : nullptr);
  imlane::duckdb_integration::LoadIMLane(*db.instance);
  duckdb::Connection con(db);
  // DuckDB draws its progress bar for long queries when a person is watching.
  if (isatty(STDERR_FILENO)) con.Query("SET enable_progress_bar = true");
  Shell shell{&con, timer};
  if (!commands.empty() || !files.empty()) {
    for (const auto &f : files) {
      std::ifstream in(f);
      Feed(shell, in, false);
    }
    for (const auto &c : commands) {
      std::istringstream in(c);
      Feed(shell, in, false);
    }
  } else {
    Feed(shell, std::cin, isatty(STDIN_FILENO));
  }
  return shell.errors ? 1 : 0;
}
