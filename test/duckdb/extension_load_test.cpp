// imlane.duckdb_extension loaded into a plain DuckDB program: linked only against the libduckdb.so
// that install_deps.sh fetched (Node bindings' build of DuckDB 1.4.4), never against IMLane.
//   imlane_extension_load_test /path/to/imlane.duckdb_extension
// The extension starts its own coordinator (build/bin/imlane, found from the extension's path) on a
// socket in a fresh temporary directory. Exits 0 when every check holds.
#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "duckdb.hpp"

namespace {

int failures = 0;

duckdb::unique_ptr<duckdb::MaterializedQueryResult> Run(duckdb::Connection& con, const std::string& sql,
                                                        bool expect_error = false) {
  auto r = con.Query(sql);
  if (r->HasError() != expect_error) {
    failures++;
    std::cerr << "FAIL: " << sql << "\n  " << (r->HasError() ? r->GetError() : "no error") << "\n";
  }
  return r;
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    failures++;
    std::cerr << "FAIL: " << what << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " EXTENSION_FILE\n";
    return 2;
  }
  const std::string extension = argv[1];
  char tmpl[] = "/tmp/imlane-ext-load-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  {
    duckdb::DBConfig config;
    config.SetOptionByName("allow_unsigned_extensions", duckdb::Value::BOOLEAN(true));
    config.SetOptionByName("extension_directory", duckdb::Value(dir + "/ext"));
    duckdb::DuckDB db(nullptr, &config);
    duckdb::Connection con(db);
    Run(con, "SELECT * FROM imlane_functions()", true);  // not there before LOAD
    Run(con, "LOAD '" + extension + "'");
    Run(con, "LOAD '" + extension + "'");  // a second LOAD does nothing
    Run(con, "SET imlane_socket = '" + dir + "/imlane.sock'");
    Run(con, "SET imlane_executors = 2");
    Run(con, "SET imlane_lane_bytes = 16777216");
    Run(con,
        "CALL imlane_create_function('lin', 'def pyfun(a, b):\n    return a * 3 - b * 2 + 1\n', "
        "'DOUBLE, DOUBLE', 'DOUBLE')");
    Run(con,
        "CREATE TABLE t AS SELECT range AS id, (range % 1000) / 10.0 AS a, (range % 37)::DOUBLE AS b "
        "FROM range(6000)");
    // The same arithmetic in DuckDB; predictions are multiples of 0.1, compared with a margin.
    auto r = Run(con, "SELECT count(*), count(*) FILTER (WHERE abs(lin(a, b) - (a * 3 - b * 2 + 1)) < 1e-9) FROM t");
    if (!r->HasError()) {
      Check(r->GetValue(0, 0).GetValue<int64_t>() == 6000, "6000 rows");
      Check(r->GetValue(1, 0).GetValue<int64_t>() == 6000, "every prediction equals a*3 - b*2 + 1");
    }
    auto w = Run(con,
                 "SELECT (SELECT count(*) FROM t WHERE lin(a, b) > 100.55), "
                 "(SELECT count(*) FROM t WHERE a * 3 - b * 2 + 1 > 100.55)");
    if (!w->HasError()) {
      Check(w->GetValue(0, 0) == w->GetValue(1, 0) && w->GetValue(0, 0).GetValue<int64_t>() > 0,
            "WHERE lin(a, b) > 100.55 selects " + w->GetValue(0, 0).ToString() + " rows, want " +
                w->GetValue(1, 0).ToString());
    }
    auto e = Run(con, "EXPLAIN SELECT lin(a, b) FROM t");
    if (!e->HasError()) Check(e->GetValue(1, 0).ToString().find("IMLANE_PREDICT_") != std::string::npos, "EXPLAIN");
  }
  std::filesystem::remove_all(dir);
  std::cout << (failures ? "FAILED" : "OK") << "\n";
  return failures ? 1 : 0;
}
