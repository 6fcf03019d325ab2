// imlane-duckdb: a DuckDB SQL shell with IMLane loaded. Zero set-up: the coordinator starts
// embedded when none runs (and stays imlane_idle_exit_ms after the shell, so the next run is warm).
//
//   imlane-duckdb [DATABASE] [-c SQL | -f FILE]... [--timer] [--unsigned] [--version]
//                  -c and -f run in command-line order; without them SQL comes from stdin, with
//                  line editing and history (libedit) on a terminal.
// Ctrl-C cancels the running statement (never the shell or its in-memory database); at the prompt it
// drops the line being typed. Dot commands: .help lists them.
#include <editline/readline.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "duckdb.hpp"
#include "duckdb/common/box_renderer.hpp"
#include "imlane_duckdb.hpp"
#include "query_runner.hpp"
#include "sql_input.hpp"

namespace {

using imlane::duckdb_shell::InputBlank;
using imlane::duckdb_shell::InputComplete;

std::atomic<duckdb::Connection *> g_running{nullptr};  // the connection while a statement runs
std::atomic<bool> g_interrupted{false};

// Ctrl-C: DuckDB's interrupt flag for a running statement (an atomic store, as DuckDB's own shell
// does); at the prompt, a note for the line editor's loop.
void OnInterrupt(int) {
  g_interrupted.store(true);
  if (duckdb::Connection *con = g_running.load()) con->Interrupt();
}

enum class Mode { kBox, kCsv, kTabs, kList, kLine };

const char *kHelp =
    ".help              this list\n"
    ".tables            the tables and views\n"
    ".schema [NAME]     CREATE statements (of NAME)\n"
    ".mode MODE         box (default), csv, tabs, list (| between values) or line (one value a line)\n"
    ".read FILE         run the SQL in FILE\n"
    ".timer on|off      print each statement's run time\n"
    ".quit, .exit       leave (also Ctrl-D)\n";

struct Shell {
  duckdb::Connection *con;
  bool timer = false;
  int errors = 0;
  Mode mode = Mode::kBox;

  // Runs the statements in `sql` (split by DuckDB's parser); prints results like DuckDB's shell.
  void Run(const std::string &sql) {
    if (InputBlank(sql)) return;
    duckdb::vector<duckdb::unique_ptr<duckdb::SQLStatement>> statements;
    try {
      statements = con->ExtractStatements(sql);
    } catch (std::exception &e) {
      Error(duckdb::ErrorData(e).Message());
      return;
    }
    for (auto &statement : statements) {
      const auto t0 = std::chrono::steady_clock::now();
      g_interrupted.store(false);
      g_running.store(con);
      auto result = imlane::duckdb_integration::RunQuery(*con, std::move(statement));
      g_running.store(nullptr);
      if (result->HasError()) {
        Error(result->GetError());
        if (g_interrupted.exchange(false)) return;  // Ctrl-C stops the rest of this input too
        continue;
      }
      Print(*result);
      if (timer) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("Run Time: %.3f s\n", s);
      }
    }
  }

  void Print(duckdb::MaterializedQueryResult &rows) {
    if (rows.ColumnCount() == 2 && rows.names[0] == "explain_key") {
      for (duckdb::idx_t r = 0; r < rows.RowCount(); r++) std::cout << rows.GetValue(1, r).ToString() << "\n";
      return;
    }
    if (mode == Mode::kBox) {
      duckdb::BoxRendererConfig config;
      config.max_rows = 40;
      std::cout << rows.ToBox(*con->context, config);
      return;
    }
    const char *sep = mode == Mode::kCsv ? "," : mode == Mode::kTabs ? "\t" : "|";
    auto cell = [&](const duckdb::Value &v) -> std::string {
      if (v.IsNull()) return mode == Mode::kLine ? "NULL" : "";
      std::string s = v.ToString();
      if (mode == Mode::kCsv && s.find_first_of(",\"\n") != std::string::npos) {
        std::string quoted = "\"";
        for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        return quoted + "\"";
      }
      return s;
    };
    if (mode == Mode::kLine) {
      for (duckdb::idx_t r = 0; r < rows.RowCount(); r++) {
        if (r) std::cout << "\n";
        for (duckdb::idx_t c = 0; c < rows.ColumnCount(); c++) {
          std::cout << rows.names[c] << " = " << cell(rows.GetValue(c, r)) << "\n";
        }
      }
      return;
    }
    for (duckdb::idx_t c = 0; c < rows.ColumnCount(); c++) std::cout << (c ? sep : "") << rows.names[c];
    std::cout << "\n";
    for (duckdb::idx_t r = 0; r < rows.RowCount(); r++) {
      for (duckdb::idx_t c = 0; c < rows.ColumnCount(); c++) std::cout << (c ? sep : "") << cell(rows.GetValue(c, r));
      std::cout << "\n";
    }
  }

  // A query whose first column is printed one value a line (.tables, .schema).
  void PrintColumn(const std::string &sql, const char *suffix) {
    auto result = con->Query(sql);
    if (result->HasError()) return Error(result->GetError());
    for (duckdb::idx_t r = 0; r < result->RowCount(); r++) std::cout << result->GetValue(0, r).ToString() << suffix;
  }

  void DotCommand(const std::string &line);
  // One input line: a dot command between statements, or part of the statement in *pending, which
  // runs once complete.
  void Line(const std::string &line, std::string *pending);
  void Feed(std::istream &in);

  void Error(const std::string &message) {
    errors++;
    std::cerr << "Error: " << message << "\n";
  }
};

std::string QuoteLiteral(const std::string &s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

void Shell::DotCommand(const std::string &line) {
  std::istringstream words(line);
  std::string cmd, arg, extra;
  words >> cmd >> arg >> extra;
  if (!extra.empty()) return Error("too many arguments: " + line + " (.help lists the commands)");
  if (cmd == ".help") {
    std::cout << kHelp;
  } else if (cmd == ".timer" && (arg == "on" || arg == "off")) {
    timer = arg == "on";
  } else if (cmd == ".quit" || cmd == ".exit") {
    std::exit(errors ? 1 : 0);
  } else if (cmd == ".tables") {
    PrintColumn(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION "
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1",
        "\n");
  } else if (cmd == ".schema") {
    const std::string where = arg.empty() ? "" : " AND name = " + QuoteLiteral(arg);
    PrintColumn(
        "SELECT sql FROM (SELECT table_name AS name, sql FROM duckdb_tables() WHERE NOT internal UNION ALL "
        "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal) WHERE true" +
            where + " ORDER BY name",
        "\n");
  } else if (cmd == ".mode") {
    static const std::pair<const char *, Mode> kModes[] = {
        {"box", Mode::kBox}, {"csv", Mode::kCsv}, {"tabs", Mode::kTabs}, {"list", Mode::kList}, {"line", Mode::kLine}};
    for (const auto &m : kModes) {
      if (arg == m.first) {
        mode = m.second;
        return;
      }
    }
    Error("unknown mode '" + arg + "' (box, csv, tabs, list or line)");
  } else if (cmd == ".read" && !arg.empty()) {
    std::ifstream in(arg);
    if (!in) return Error("cannot open '" + arg + "'");
    Feed(in);
  } else {
    Error("unknown or incomplete command '" + line + "' (.help lists the commands)");
  }
}

// Statements from a stream or the terminal: each runs once the input holds a complete one (a `;`
// outside quotes and comments); a dot command is a line of its own between statements.
void Shell::Line(const std::string &line, std::string *pending) {
  const size_t first = line.find_first_not_of(" \t");
  if (InputBlank(*pending) && first != std::string::npos && line[first] == '.') {
    pending->clear();
    DotCommand(line.substr(first));
    return;
  }
  *pending += line + "\n";
  if (InputComplete(*pending)) {
    Run(*pending);
    pending->clear();
  }
}

void Shell::Feed(std::istream &in) {
  std::string pending, line;
  while (std::getline(in, line)) Line(line, &pending);
  Run(pending);  // the rest, even without a final `;`
}

// libedit's input: one byte at a time, but a Ctrl-C (read interrupted, the flag set) ends the line
// being edited as if at end of input; Interactive() then drops it.
int ReadKey(FILE *stream) {
  while (true) {
    unsigned char c;
    const ssize_t r = read(fileno(stream), &c, 1);
    if (r == 1) return c;
    if (r < 0 && errno == EINTR && !g_interrupted.load()) continue;
    return EOF;
  }
}

// The terminal: libedit's line editing and a history file.
void Interactive(Shell &shell) {
  rl_catch_signals = 0;  // our SIGINT handler stays in place while libedit reads
  rl_getc_function = ReadKey;
  const char *home = std::getenv("HOME");
  const std::string history = home ? std::string(home) + "/.imlane_duckdb_history" : "";
  using_history();
  if (!history.empty()) read_history(history.c_str());
  std::string pending;
  while (true) {
    g_interrupted.store(false);
    char *raw = readline(InputBlank(pending) ? "imlane-duckdb> " : "   ...> ");
    if (g_interrupted.exchange(false)) {  // Ctrl-C at the prompt: drop the statement being typed, stay
      std::free(raw);
      pending.clear();
      std::cout << "^C" << std::endl;
      continue;
    }
    if (raw == nullptr) break;  // Ctrl-D
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
    shell.Line(line, &pending);
  }
  std::cout << "\n";
  shell.Run(pending);
  if (!history.empty()) write_history(history.c_str());
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{
      "imlane-duckdb: DuckDB with IMLane AI functions.\n\n"
      "  CALL imlane_create_function('name', 'model.py' or 'python code', 'DOUBLE, VARCHAR', 'INTEGER');\n"
      "  SELECT name(a, b) FROM t;\n"
      "  SELECT * FROM imlane_functions();\n"
      "Settings: SET imlane_executors / imlane_batch_size / imlane_max_inflight / imlane_timeout_ms /\n"
      "imlane_socket / imlane_lane_bytes / imlane_idle_exit_ms / imlane_python_env. The coordinator\n"
      "starts by itself when none runs. Ctrl-C cancels the running statement; .help lists the dot commands."};
  app.set_version_flag("--version", std::string("imlane-duckdb ") + IMLANE_VERSION + " (DuckDB " +
                                        duckdb::DuckDB::LibraryVersion() + ")");
  std::string database;
  std::vector<std::string> commands;
  std::vector<std::string> files;
  bool timer = false;
  bool unsigned_extensions = false;
  app.add_option("database", database, "database file (default: in-memory)");
  auto *command_opt =
      app.add_option("-c,--command", commands, "SQL to run (repeatable; with -f, in command-line order); then exit");
  auto *file_opt = app.add_option("-f,--file", files, "file of SQL to run (repeatable)")->check(CLI::ExistingFile);
  app.add_flag("--timer", timer, "print each statement's run time (same as .timer on)");
  app.add_flag("--unsigned", unsigned_extensions,
               "allow loading unsigned extensions (allow_unsigned_extensions; like duckdb -unsigned)");
  CLI11_PARSE(app, argc, argv);

  duckdb::DBConfig config;
  if (unsigned_extensions) config.SetOptionByName("allow_unsigned_extensions", duckdb::Value::BOOLEAN(true));
  std::unique_ptr<duckdb::DuckDB> db;
  try {
    db = std::make_unique<duckdb::DuckDB>(database.empty() ? nullptr : database.c_str(),
                                          unsigned_extensions ? &config : nullptr);
  } catch (std::exception &e) {
    std::cerr << "Error: cannot open database '" << database << "': " << duckdb::ErrorData(e).Message() << "\n";
    return 1;
  }
  imlane::duckdb_integration::LoadIMLane(*db->instance);
  duckdb::Connection con(*db);
  // DuckDB draws its progress bar for long queries when a person is watching.
  if (isatty(STDERR_FILENO)) con.Query("SET enable_progress_bar = true");
  Shell shell{&con, timer};

  struct sigaction on_interrupt = {};
  on_interrupt.sa_handler = OnInterrupt;
  sigemptyset(&on_interrupt.sa_mask);
  sigaction(SIGINT, &on_interrupt, nullptr);

  if (!commands.empty() || !files.empty()) {
    size_t next_command = 0, next_file = 0;
    for (const CLI::Option *opt : app.parse_order()) {
      if (opt == command_opt && next_command < commands.size()) {
        std::istringstream in(commands[next_command++]);
        shell.Feed(in);
      } else if (opt == file_opt && next_file < files.size()) {
        std::ifstream in(files[next_file++]);
        shell.Feed(in);
      }
    }
  } else if (isatty(STDIN_FILENO)) {
    Interactive(shell);
  } else {
    shell.Feed(std::cin);
  }
  return shell.errors ? 1 : 0;
}
