# stagegate's Alembic renderer (shipped inside the stagegate binary, run with `python -c`
# from the directory of alembic.ini).
#
# Renders the SQL of every revision's upgrade() and downgrade() offline (Alembic's `--sql`
# mode), in this one Python process: one upgrade of the whole graph and one downgrade of it,
# split per revision. What Alembic frames a revision with (BEGIN/COMMIT, the alembic_version
# bookkeeping, the "-- Running" comments) is left out: stagegate runs each revision in its own
# transaction and keeps alembic_version itself. A COMMIT/BEGIN pair inside a revision comes
# from autocommit_block(): the revision is marked as one stagegate does not wrap in a
# transaction, and what Alembic runs in a transaction around the block is written as explicit
# BEGIN; ... COMMIT; blocks, so that only the block's own statements run outside one (as
# Alembic runs them).
# Before each operation's SQL, a `-- alembic: line N` comment says where the operation is in
# the revision file, and the `# stagegate:...` comment lines standing right above it there
# are written as `-- stagegate:...` comments.
#
# argv: [alembic.ini, output.json]. The output: one JSON document (see src/alembic/mod.rs).
import ast
import json
import linecache
import os
import sys
import traceback


# What autocommit_block() emits inside a revision, kept in its parts as markers.
BEGIN = ("begin",)
COMMIT = ("commit",)


def has_sql(texts):
    """True when the texts hold more than comments and blank lines."""
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("--"):
                return True
    return False


def framed(parts):
    """A revision's SQL. Without autocommit_block() (no markers), its statements as they are:
    stagegate runs them in one transaction. With it, the statements Alembic runs in a
    transaction (before the block, after it) inside explicit BEGIN; ... COMMIT; blocks, and
    the block's own statements alone, as Alembic runs them."""
    if not any(p is BEGIN or p is COMMIT for p in parts):
        return "".join(parts)
    out = []
    segment = []
    in_transaction = True  # a revision starts inside Alembic's transaction

    def flush():
        if in_transaction and has_sql(segment):
            out.append("BEGIN;\n")
            out.extend(segment)
            out.append("COMMIT;\n")
        else:
            out.extend(segment)
        segment.clear()

    for part in parts:
        if part is COMMIT:
            flush()
            in_transaction = False
        elif part is BEGIN:
            flush()
            in_transaction = True
        else:
            segment.append(part)
    flush()
    return "".join(out)


def main():
    ini_path, out_path = sys.argv[1], sys.argv[2]
    import alembic
    import sqlalchemy
    from alembic import command
    from alembic.config import Config
    from alembic.ddl import impl as ddl_impl
    from alembic.runtime import migration as rt

    revisions = {}
    state = {"current": None, "version_table": None, "version_table_schema": None}

    class Capture:
        """Alembic's output buffer: keeps what the revision being rendered writes."""

        def write(self, text):
            current = state["current"]
            if current is not None:
                current["parts"].append(text)

        def flush(self):
            pass

    def entry(revision_id):
        return revisions.setdefault(
            revision_id,
            {"upgrade": None, "downgrade": None, "upgrade_autocommit": False,
             "downgrade_autocommit": False, "upgrade_error": None, "downgrade_error": None},
        )

    statements_of_file = {}

    def statement_start(path, line):
        """The first line of the statement of `path` holding `line` (innermost)."""
        starts = statements_of_file.get(path)
        if starts is None:
            starts = []
            try:
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.stmt) and not isinstance(
                        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.With,
                               ast.For, ast.If, ast.While, ast.Try)
                    ):
                        starts.append((node.lineno, node.end_lineno or node.lineno))
            except (OSError, SyntaxError, ValueError):
                pass
            statements_of_file[path] = starts
        best = None
        for start, end in starts:
            if start <= line <= end and (best is None or start > best):
                best = start
        return best if best is not None else line

    def directives_above(path, line):
        start = statement_start(path, line)
        found = []
        at = start - 1
        while at > 0:
            text = linecache.getline(path, at).strip()
            if not text.startswith("#"):
                break
            body = text[1:].strip()
            if body.startswith("stagegate:"):
                found.append("-- " + body)
            at -= 1
        found.reverse()
        return found

    original_exec = ddl_impl.DefaultImpl._exec

    def exec_(self, construct, *args, **kwargs):
        current = state["current"]
        if current is not None and self.as_sql:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename != current["path"]:
                frame = frame.f_back
            if frame is not None:
                key = statement_start(current["path"], frame.f_lineno)
                if key not in current["seen"]:
                    current["seen"].add(key)
                    # Where the operation is in the revision file (findings point there).
                    current["parts"].append("-- alembic: line %d\n" % key)
                    for directive in directives_above(current["path"], frame.f_lineno):
                        current["parts"].append(directive + "\n")
        return original_exec(self, construct, *args, **kwargs)

    ddl_impl.DefaultImpl._exec = exec_

    def framing(original, marker):
        def emit(self):
            current = state["current"]
            if current is not None:
                # Only autocommit_block() ends and restarts the transaction inside a revision:
                # COMMIT when it starts, BEGIN when it ends.
                current["autocommit"] = True
                current["parts"].append(marker)
                return None
            return original(self)

        return emit

    ddl_impl.DefaultImpl.emit_begin = framing(ddl_impl.DefaultImpl.emit_begin, BEGIN)
    ddl_impl.DefaultImpl.emit_commit = framing(ddl_impl.DefaultImpl.emit_commit, COMMIT)

    original_run = rt.MigrationContext.run_migrations

    def run_migrations(self, **kw):
        state["version_table"] = self.version_table
        state["version_table_schema"] = self.version_table_schema
        return original_run(self, **kw)

    rt.MigrationContext.run_migrations = run_migrations

    original_init = rt.RevisionStep.__init__

    def step_init(self, revision_map, revision, is_upgrade):
        original_init(self, revision_map, revision, is_upgrade)
        function = self.migration_fn
        direction = "upgrade" if is_upgrade else "downgrade"

        def run(**kw):
            current = {"parts": [], "autocommit": False, "path": revision.path, "seen": set()}
            state["current"] = current
            record = entry(revision.revision)
            try:
                function(**kw)
            except Exception as error:  # the revision could not be rendered offline
                frames = traceback.extract_tb(error.__traceback__)
                where = ""
                for frame in frames:
                    if frame.filename == revision.path:
                        where = " (line %d: %s)" % (frame.lineno, (frame.line or "").strip())
                record[direction + "_error"] = "%s: %s%s" % (
                    type(error).__name__, str(error).strip(), where)
            else:
                record[direction] = framed(current["parts"])
                record[direction + "_autocommit"] = current["autocommit"]
            finally:
                state["current"] = None

        run.__name__ = getattr(function, "__name__", direction)
        self.migration_fn = run

    rt.RevisionStep.__init__ = step_init

    config = Config(ini_path, output_buffer=Capture())
    # An env.py that takes its URL from alembic.ini (Alembic's own template) gets stagegate's
    # (the environment's without its password, or a placeholder) when the ini holds none of
    # PostgreSQL's, such as the template's `driver://user:pass@localhost/dbname`: offline, the
    # URL only picks the dialect.
    url = os.environ.get("STAGEGATE_ALEMBIC_URL")
    try:
        current = config.get_main_option("sqlalchemy.url") or ""
    except Exception:  # an interpolation of a missing value
        current = ""
    if url and not current.startswith("postgresql"):
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    failure = None
    try:
        command.upgrade(config, "heads", sql=True)
        # Offline, a downgrade starts at one head: each head's, down to base (revisions
        # shared by two heads render the same twice).
        from alembic.script import ScriptDirectory

        for head in ScriptDirectory.from_config(config).get_heads():
            command.downgrade(config, "%s:base" % head, sql=True)
    except Exception as error:
        failure = "%s: %s" % (type(error).__name__, str(error).strip())
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(
            {
                "alembic": alembic.__version__,
                "sqlalchemy": sqlalchemy.__version__,
                "version_table": state["version_table"],
                "version_table_schema": state["version_table_schema"],
                "revisions": revisions,
                "failure": failure,
            },
            out,
        )


main()
