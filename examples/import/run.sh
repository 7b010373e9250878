#!/usr/bin/env bash
# Bulk import end to end, on the small example school in this folder:
#   templates -> dry run -> apply -> re-run (no change) -> export and re-import (no change)
#   -> history -> undo -> a file with deliberate mistakes (its report must match
#   users-with-mistakes.expected.txt / .expected.json) -> a OneRoster bundle.
#
#   examples/import/run.sh [WORKDIR]
#
# Uses LMS_DATABASE_URL when set (give it a scratch database: the example adds users and
# courses), else a fresh SQLite file in WORKDIR (default: a new temporary folder).
# LMSCTL names the command (default: lmsctl on PATH). Exit 0 when every step did what it
# should, non-zero at the first one that did not.
set -euo pipefail
LMSCTL=${LMSCTL:-lmsctl}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/lms-import-example.XXXXXX")}
mkdir -p "$work"
export LMS_DATABASE_URL=${LMS_DATABASE_URL:-sqlite:///$work/school.db}
export LMS_FILES_DIR=${LMS_FILES_DIR:-$work/files}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# The command goes to stderr, so that stdout carries only what lmsctl prints (--json).
run() { printf '$ lmsctl %s\n' "$*" >&2; "$LMSCTL" "$@"; }
# Reads an import's --json on stdin; fails unless it changed nothing.
no_change() {
    python3 -c '
import json, sys
def changes(counts):  # courses nest their lessons: {"create": 0, ..., "lessons": {...}}
    for key, value in counts.items():
        if isinstance(value, dict):
            yield from changes(value)
        elif key != "unchanged" and value:
            yield key, value
counts = json.load(sys.stdin)["counts"]
changed = list(changes(counts))
print(counts.get("unchanged", 0), "unchanged; changes:", changed or "none")
sys.exit(1 if changed else 0)'
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Work on copies, and name files relative to the work folder: the error report names them so.
cp "$here"/users.csv "$here"/courses.csv "$here"/lessons.csv "$here"/enrollments.csv \
    "$here"/users-with-mistakes.csv "$work"/
rm -rf "$work/oneroster" && cp -R "$here/oneroster" "$work/oneroster"
cd "$work"

step "A database at the newest schema (safe to run again)"
run init

step "Templates to start from: the columns, one example row; IDs formatted as text in XLSX"
run import template users --format xlsx -o users-template.xlsx
run import template courses --format xlsx -o courses-template.xlsx
run import template enrollments --format csv -o enrollments-template.csv
head -2 enrollments-template.csv

step "Users: the plan first (writes nothing), then the import, then the same file again"
run import users users.csv --dry-run
run import users users.csv --invites-out invites.csv
echo "invitation links for users without a password: $(($(wc -l < invites.csv) - 1))"
run import users users.csv --json | no_change

step "Courses with their lessons, from a workbook with two sheets"
python3 "$here/make_courses_xlsx.py" courses.xlsx
run import courses courses.xlsx --dry-run
run import courses courses.xlsx
run import courses courses.csv --lessons lessons.csv --json | no_change

step "Enrollments"
enrollments_run=$(run import enrollments enrollments.csv --json | field run_id)
echo "run $enrollments_run"
run import enrollments enrollments.csv --json | no_change

step "An export is a file you can edit and import again: unedited, it changes nothing"
run export users -o users-export.xlsx
run import users users-export.xlsx --json | no_change

step "Every run is in the ledger; undo puts the database back as it was before a run"
run import history
run import undo "$enrollments_run"
left=$("$LMSCTL" enrollments list --course intro-python --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
echo "enrollments in intro-python after the undo: $left"
[ "$left" -eq 0 ]

step "A file with mistakes: refused whole (exit 1), every problem named by line and column"
echo '$ lmsctl import users users-with-mistakes.csv' >&2
set +e
"$LMSCTL" import users users-with-mistakes.csv 2> mistakes.txt
code=$?
"$LMSCTL" import users users-with-mistakes.csv --json > mistakes.json
json_code=$?
set -e
cat mistakes.txt
[ "$code" -eq 1 ] && [ "$json_code" -eq 1 ] || { echo "expected exit 1, got $code / $json_code" >&2; exit 1; }
diff -u "$here/users-with-mistakes.expected.txt" mistakes.txt
python3 -c '
import json, sys
got, want = (json.load(open(p, encoding="utf-8"))["errors"] for p in sys.argv[1:])
sys.exit(0 if got == want else f"errors differ from {sys.argv[2]}")' mistakes.json "$here/users-with-mistakes.expected.json"
echo "the report matches users-with-mistakes.expected.txt and .expected.json"

step "A OneRoster 1.1 bundle (a folder or a zip with manifest.csv)"
run import oneroster oneroster --dry-run
run import oneroster oneroster
run import oneroster oneroster --json | no_change

step "Done: every step did what it should"
