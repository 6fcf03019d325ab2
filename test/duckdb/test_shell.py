"""imlane-duckdb behaves like a shell (issue 10, item 12): Ctrl-C cancels the running statement and
keeps the shell and its in-memory database, line editing and history on a terminal (driven through a
pseudo-terminal), dot commands, statements split by DuckDB's parser with comments and quotes inside,
-c and -f in command-line order, --version, and an unopenable database as an error, not an abort.

Run by ctest with Debian's Python (only the standard library); IMLANE_DUCKDB names the shell.
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

SHELL = os.environ.get("IMLANE_DUCKDB") or sys.argv[1]


class Terminal:
    """imlane-duckdb on a pseudo-terminal, as a person would use it."""

    def __init__(self, home, socket):
        env = dict(os.environ, HOME=home, IMLANE_SOCKET=socket, IMLANE_IDLE_EXIT_MS="0", TERM="xterm")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(SHELL, [SHELL], env)
        self.seen = b""

    def read_until(self, text, timeout=60):
        end = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} within {timeout} s; the terminal showed:\n" +
                                     self.seen.decode(errors="replace")[-3000:])
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("the shell exited; it showed:\n" + self.seen.decode(errors="replace")[-3000:])
                self.seen += chunk
        at = self.seen.index(text.encode()) + len(text)
        before, self.seen = self.seen[:at], self.seen[at:]
        return before.decode(errors="replace")

    def send(self, data):
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def close(self):
        try:
            self.send("\x04")  # Ctrl-D
            for _ in range(100):
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return
                time.sleep(0.05)
        except OSError:
            pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def check_terminal(tmp):
    t = Terminal(tmp, os.path.join(tmp, "pty.sock"))
    try:
        t.read_until("imlane-duckdb> ")
        t.send("CREATE TABLE kept AS SELECT range AS i FROM range(1000);\r")
        t.read_until("imlane-duckdb> ")
        # A statement that runs for minutes; Ctrl-C cancels it, the shell and its table stay.
        t.send("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3;\r")
        t.read_until("WHERE a.range")  # echoed (before the terminal wraps it): the shell has the line
        time.sleep(1.5)
        t.send("\x03")
        shown = t.read_until("imlane-duckdb> ", timeout=30)
        assert "INTERRUPT" in shown.upper(), shown
        t.send("SELECT sum(i) AS total FROM kept;\r")
        assert "499500" in t.read_until("imlane-duckdb> "), "the in-memory table did not survive Ctrl-C"
        # Ctrl-C at the prompt drops the line being typed and keeps the shell.
        t.send("SELECT 'half typed")
        t.read_until("half typed")  # echoed by the line editor, so Ctrl-C meets the typed line
        t.send("\x03")
        t.read_until("^C")
        t.read_until("imlane-duckdb> ")  # a fresh prompt, not a continuation
        t.send("SELECT 40 + 2 AS answer;\r")
        assert "42" in t.read_until("imlane-duckdb> ")
        # Line editing: cursor left and insert; history: arrow up brings the last statement back.
        t.send("SELECT 1;" + "\x1b[D" + "71\r")  # the cursor goes back before ';': SELECT 171;
        assert "171" in t.read_until("imlane-duckdb> ")
        t.send("\x1b[A\r")  # the previous statement again
        assert "171" in t.read_until("imlane-duckdb> ")
        # A statement over several lines, with a ';' and a quote inside a comment.
        t.send("SELECT 5 -- it's; not the end\r")
        t.read_until("...> ")
        t.send("  * 3 AS product;\r")
        assert "15" in t.read_until("imlane-duckdb> ")
        t.send(".tables\r")
        assert "kept" in t.read_until("imlane-duckdb> ")
    finally:
        t.close()
    history = open(os.path.join(tmp, ".imlane_duckdb_history")).read()
    assert "SELECT 171;" in history.replace("\\040", " "), history  # libedit's file escapes blanks


def run(*args, stdin=None):
    env = dict(os.environ, IMLANE_IDLE_EXIT_MS="0")
    return subprocess.run([SHELL, *args], input=stdin, capture_output=True, text=True, timeout=120, env=env)


def check_batch(tmp):
    sock = os.path.join(tmp, "batch.sock")
    first = os.path.join(tmp, "first.sql")
    with open(first, "w") as f:
        f.write(f"SET imlane_socket = '{sock}';\nCREATE TABLE t AS SELECT 1 AS x;\n")
    # -c and -f in command-line order: the file creates t, the command after it reads it.
    r = run("-c", "SELECT 'start' AS s", "-f", first, "-c", "SELECT count(*) AS n FROM t")
    assert r.returncode == 0, r.stderr
    n_header = re.search(r"│\s+n\s+│", r.stdout)
    assert n_header and r.stdout.index("start") < n_header.start(), r.stdout
    # Comments and quotes inside statements; several statements on one line; no final ';'.
    script = ("/* a block comment; with a ' quote */ SELECT 'a;b' AS s; -- trailing; comment\n"
              "SELECT $$dollar; quoted$$ AS d; SELECT \"weird;name\" FROM (SELECT 7 AS \"weird;name\")\n")
    r = run(stdin=script)
    assert r.returncode == 0, r.stderr
    for expected in ("a;b", "dollar; quoted", "7"):
        assert expected in r.stdout, (expected, r.stdout)
    # Dot commands.
    r = run(stdin=".help\nCREATE TABLE t2 (a INTEGER, b VARCHAR);\nCREATE VIEW v AS SELECT 1;\n.tables\n"
                  ".schema t2\n.mode csv\nSELECT 1 AS a, 'x,y' AS b, NULL AS c;\n.mode line\nSELECT 3 AS three;\n"
                  ".mode tabs\nSELECT 1 AS a, 2 AS b;\n.mode box\n.read " + first + "\nSELECT x FROM t;\n.nonsense\n")
    assert ".schema" in r.stdout and ".read FILE" in r.stdout, r.stdout
    assert "t2\nv\n" in r.stdout, r.stdout
    assert "CREATE TABLE t2(a INTEGER, b VARCHAR);" in r.stdout, r.stdout
    assert 'a,b,c\n1,"x,y",\n' in r.stdout, r.stdout
    assert "three = 3\n" in r.stdout, r.stdout
    assert "a\tb\n1\t2\n" in r.stdout, r.stdout
    assert "unknown or incomplete command '.nonsense'" in r.stderr and r.returncode == 1, r.stderr
    # --version on both binaries.
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("imlane-duckdb ") and "DuckDB v" in r.stdout, r.stdout
    coordinator = os.path.join(os.path.dirname(SHELL), "imlane")
    v = subprocess.run([coordinator, "--version"], capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.startswith("imlane "), v.stdout + v.stderr
    # A database that cannot be opened: an error message and exit code 1, not an abort.
    r = run(os.path.join(tmp, "no", "such", "dir", "db.duckdb"), "-c", "SELECT 1")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.startswith("Error: cannot open database"), r.stderr


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_batch(tmp)
        check_terminal(tmp)
    print("imlane-duckdb shell: OK")


if __name__ == "__main__":
    main()
