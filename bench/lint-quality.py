#!/usr/bin/env python3
"""Runs `stagegate lint` over the lint-quality case files and prints, per file, how many
unsafe cases are caught at error, flagged at any level, and how many safe cases fail (an
error) or are warned.

    python3 bench/lint-quality.py [--bin target/debug/stagegate] [-v] FILE.toml...

Each case is a migration set: its `setup` scripts as released migrations, then its `sql`.
A case with `env = true` needs facts from a database: a scratch database on
$STAGEGATE_TEST_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432) runs
`setup`, and the case is linted as a lone file with `--env`. Needs psql on PATH.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import uuid

SERVER = os.environ.get("STAGEGATE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql: {out.stderr}")


def db_url(name):
    base = SERVER.rsplit("/", 1)[0]
    return f"{base}/{name}"


def lint_case(binary, case):
    with tempfile.TemporaryDirectory() as tmp:
        if case.get("env"):
            name = "lintq_" + uuid.uuid4().hex[:12]
            psql(SERVER, f"CREATE DATABASE {name}")
            try:
                url = db_url(name)
                for sql in case.get("setup", []):
                    psql(url, sql.replace(":db", name))
                with open(os.path.join(tmp, "stagegate.toml"), "w") as f:
                    f.write(f'[environments.probe]\nurl = "{url}"\n')
                path = os.path.join(tmp, "change.sql")
                with open(path, "w") as f:
                    f.write(case["sql"])
                out = subprocess.run([binary, "lint", "--format", "json", "--env", "probe", path],
                                     capture_output=True, text=True, cwd=tmp)
            finally:
                psql(SERVER, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            last = "change.sql"
        else:
            migrations = os.path.join(tmp, "migrations")
            os.mkdir(migrations)
            scripts = list(case.get("setup", [])) + [case["sql"]]
            for i, sql in enumerate(scripts):
                with open(os.path.join(migrations, f"{i + 1:04}_step.up.sql"), "w") as f:
                    f.write(sql)
            last = f"{len(scripts):04}_step.up.sql"
            out = subprocess.run([binary, "lint", "--format", "json", migrations],
                                 capture_output=True, text=True, cwd=tmp)
        if out.returncode not in (0, 1):
            raise RuntimeError(f"{case['id']}: exit {out.returncode}: {out.stderr}")
        report = json.loads(out.stdout)
        return [f for f in report["findings"] if f.get("path", "").endswith(last)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/debug/stagegate")
    parser.add_argument("-v", action="store_true", help="list each case's findings")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    rows = []
    for path in args.files:
        with open(path, "rb") as f:
            cases = tomllib.load(f)["case"]
        n = {"unsafe": 0, "safe": 0, "error": 0, "any": 0, "failed": 0, "warned": 0}
        for case in cases:
            findings = lint_case(args.bin, case)
            levels = {f["severity"] for f in findings}
            verdict = case["verdict"]
            n[verdict] += 1
            if verdict == "unsafe":
                ok = "error" in levels
                n["error"] += ok
                n["any"] += bool(levels)
            else:
                ok = not levels & {"error", "warning"}
                n["failed"] += "error" in levels
                n["warned"] += "error" not in levels and "warning" in levels
            if args.v or not ok:
                mark = "ok  " if ok else "MISS"
                print(f"{mark} {path}:{case['id']} ({verdict})")
                for f in findings:
                    print(f"       {f['code']} {f['severity']}: {f['message'][:160]}")
        rows.append((path, n))
    print()
    print("| set | unsafe caught at error | flagged at any level | safe failed | safe warned |")
    print("|---|---|---|---|---|")
    for path, n in rows:
        print(f"| {os.path.basename(path)} ({n['unsafe']} unsafe / {n['safe']} safe) | "
              f"{n['error']}/{n['unsafe']} | {n['any']}/{n['unsafe']} | {n['failed']} | {n['warned']} |")


if __name__ == "__main__":
    sys.exit(main())
