"""A private PostgreSQL 15 server tree that can load a freshly built imlane extension.

PostgreSQL 15 finds extensions only in its share/extension and lib directories (extension_control_path
arrives in PostgreSQL 18), which it computes relative to the running `postgres` binary. A copy of
Debian's `postgres` and `pg_ctl` in <root>/lib/postgresql/15/bin, next to share/ and lib/ directories of
symlinks to Debian's files plus the build tree's imlane.so, imlane.control and imlane--*.sql, is a
server that loads the build tree's extension without installing anything into the system. Used by the
ctest (test/postgres) and by bench/run.py's postgres-imlane system.
"""
import glob
import os
import shutil

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_LIB = "/usr/lib/postgresql/15/lib"
PG_SHARE = "/usr/share/postgresql/15"


def make_private_tree(root, build_dir):
    """Creates the tree under `root` (replacing an old one); returns its bin directory (pg_ctl)."""
    so = os.path.join(build_dir, "lib", "postgresql", "imlane.so")
    ext_files = glob.glob(os.path.join(build_dir, "share", "postgresql", "extension", "imlane*"))
    if not os.path.exists(so) or not ext_files:
        raise FileNotFoundError(f"no PostgreSQL extension in {build_dir} (lib/postgresql/imlane.so): build it "
                                "(needs pg_config and postgresql-server-dev-15)")
    shutil.rmtree(root, ignore_errors=True)
    bindir = os.path.join(root, "lib", "postgresql", "15", "bin")
    os.makedirs(bindir)
    for b in ("postgres", "pg_ctl"):
        shutil.copy2(os.path.join(PG_BIN, b), bindir)  # a copy: PostgreSQL resolves symlinks to itself
    lib = os.path.join(root, "lib", "postgresql", "15", "lib")
    os.makedirs(lib)
    # An imlane installed into the system (make install) is left out: the build tree's is the one tested.
    for f in os.listdir(PG_LIB):
        if f != "imlane.so":
            os.symlink(os.path.join(PG_LIB, f), os.path.join(lib, f))
    os.symlink(os.path.abspath(so), os.path.join(lib, "imlane.so"))
    share = os.path.join(root, "share", "postgresql", "15")
    os.makedirs(os.path.join(share, "extension"))
    for f in os.listdir(PG_SHARE):
        if f != "extension":
            os.symlink(os.path.join(PG_SHARE, f), os.path.join(share, f))
    for f in os.listdir(os.path.join(PG_SHARE, "extension")):
        if not f.startswith("imlane"):
            os.symlink(os.path.join(PG_SHARE, "extension", f), os.path.join(share, "extension", f))
    for f in ext_files:
        os.symlink(os.path.abspath(f), os.path.join(share, "extension", os.path.basename(f)))
    for d, _, _ in os.walk(root):
        os.chmod(d, 0o755)
    return bindir
