#!/usr/bin/env bash
# A five-minute tour of lmsctl on the demo data (run by `make demo` after `lmsctl demo seed`).
# Each step prints the command, then what it printed.
set -uo pipefail
run() {
    printf '\n\033[1m$ %s\033[0m\n' "$*"
    "$@"
    local code=$?
    [ "$code" -eq 0 ] || printf '(exit code %s)\n' "$code"
}

echo "== Is everything in place? (settings, database, migrations, files dir)"
run lmsctl doctor

echo; echo "== Who is here, and what do they teach and learn?"
run lmsctl users list
run lmsctl courses list
run lmsctl lessons list demo-python-basics

echo; echo "== The student finishes a lesson; progress is recomputed (idempotent: try it twice)"
run lmsctl --as student@demo.example.org enrollments complete-lesson \
    student@demo.example.org demo-python-basics/control-flow

echo; echo "== Roles are enforced: a student cannot unpublish a course (exit code 1)"
run lmsctl --as student@demo.example.org courses unpublish demo-python-basics

echo; echo "== The student completed SQL Essentials: eligibility, and the certificate the seed issued"
run lmsctl certificates eligible demo-sql-essentials
number=$(lmsctl certificates list demo-sql-essentials --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["number"])')
run lmsctl certificates verify "$(echo "$number" | tr 'A-Z' 'a-z' | tr -d '-')"   # typed sloppily

echo; echo "== Scripts read --json"
run lmsctl enrollments list --user student@demo.example.org --json

echo
echo "Next: lmsctl --help, lmsctl users --help; demo logins are printed above by 'lmsctl demo seed'."
