#!/usr/bin/env bash
# Assessments end to end, from lmsctl alone, as an instructor would run them:
# a quiz from a GIFT bank, three learners' attempts (a pass, a fail, an essay graded by hand),
# a fix to the answer key and a regrade, an assignment with files, grading offline in a
# spreadsheet, and the gradebook.
#
#   LMS_DATABASE_URL=sqlite:///var/walkthrough.db examples/assessments/walkthrough.sh
#   examples/assessments/walkthrough.sh --database postgresql://lms@db/lms
#
# Environment: LMSCTL (default lmsctl), PYTHON (a python3 with openpyxl, default python3: the
# venv's when it is on PATH), WORKDIR (where files are written; default a new temporary
# directory), COURSE (default walkthrough-python: run it once per database, or change COURSE).
# Exit codes: 0 done; anything else: the step that failed is the last one printed.
set -euo pipefail

examples=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
db_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --database) db_args=(--database "$2"); shift 2 ;;
        --database=*) db_args=(--database "${1#*=}"); shift ;;
        *) echo "usage: $0 [--database URL]" >&2; exit 2 ;;
    esac
done
PY=${PYTHON:-python3}
course=${COURSE:-walkthrough-python}
teacher=ines@example.org
work=${WORKDIR:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"

lms() { "${LMSCTL:-lmsctl}" ${db_args[@]+"${db_args[@]}"} "$@"; }
# Print the command, then run it (as the instructor with `teach`).
run() { printf '\n\033[1m$ lmsctl %s\033[0m\n' "$*"; lms "$@"; }
teach() { run --as "$teacher" "$@"; }
step() { printf '\n== %s\n' "$*"; }
json_field() { "$PY" -c "import json, sys; print(json.load(sys.stdin)$1)"; }

step "Working in $work"
run init

step "People: an instructor and three learners (again: updated, not duplicated)"
run users create "$teacher" --name "Ines Instructor" --role instructor --update-existing
for who in ana bo cy; do
    name="$(tr '[:lower:]' '[:upper:]' <<< "${who:0:1}")${who:1} Learner"
    run users create "$who@example.org" --name "$name" --role student --update-existing
done

step "A course with a quiz lesson and an assignment lesson"
run courses create "$course" --title "Python, assessed" --instructor "$teacher"
teach lessons add "$course/basics" --title "Basics" --type text
teach lessons add "$course/checkpoint" --title "Checkpoint" --type quiz
teach lessons add "$course/homework" --title "Homework: loops" --type assignment
teach courses publish "$course"

step "The quiz: settings, then its questions from a GIFT bank (dry run first)"
quiz="$course/checkpoint"
teach quizzes create "$course/checkpoint" --title "Python checkpoint" --passing-score 50 \
    --max-attempts 2 --grading-method highest --shuffle-options
bank="$examples/quizzes/python-basics.gift"
teach quizzes import "$quiz" "$bank" --dry-run
teach quizzes import "$quiz" "$bank"
teach quizzes publish "$quiz"

step "Three learners enroll"
for who in ana bo cy; do run enrollments enroll "$who@example.org" "$course"; done

step "Ana answers everything right but the essay (left blank: 0 points, no waiting): a pass"
attempt=$(lms quizzes start "$quiz" ana@example.org --json | json_field '["attempt"]["id"]')
echo "attempt $attempt"
cat > ana.json <<'EOF'
{"1": 0, "2": 0, "3": [0, 1], "4": 0, "5": true, "6": false, "7": "len", "8": 3.14, "9": 3,
 "10": 8, "11": {"0": "list", "1": "dict", "2": "tuple", "3": "str"}, "13": 0}
EOF
run quizzes answer "$attempt" --answers ana.json
run quizzes submit "$attempt"

step "Bo answers four questions, one at a time (options by their stored index): a fail"
attempt=$(lms quizzes start "$quiz" bo@example.org --json | json_field '["attempt"]["id"]')
run quizzes answer "$attempt" 1 2          # "function": wrong
run quizzes answer "$attempt" 4 1          # 3.5: half credit in this bank
run quizzes answer "$attempt" 5 false      # wrong
run quizzes answer "$attempt" 7 size       # half credit
run quizzes submit "$attempt"

step "Cy writes the essay: the attempt waits for the instructor, who reads and grades it"
attempt=$(lms quizzes start "$quiz" cy@example.org --json | json_field '["attempt"]["id"]')
echo "attempt $attempt"
# len(x) is not in the key (yet); "3,14": a decimal comma is fine; two pairs of four matched.
cat > cy.json <<'EOF'
{"1": 0, "3": [0, 1], "5": true, "6": false, "7": "len(x)", "8": "3,14",
 "11": {"0": "list", "1": "dict"}}
EOF
run quizzes answer "$attempt" --answers cy.json
run quizzes answer "$attempt" 12 'It runs its body once for each item of an iterable.'
run quizzes submit "$attempt"
teach quizzes attempts "$quiz" --status submitted    # what waits for the instructor
teach quizzes attempt "$attempt"
teach quizzes grade-essay "$attempt" --question 12 --points 0.75

step "A fix to the key: 3.5 earns nothing for 7 // 2, and len(x) is accepted for len"
awk '
    { sub(/~%50%3\.5#/, "~3.5#") }
    { print }
    /^[[:space:]]*=len$/ { print "\t=len(x)#Calling it works too." }
' "$bank" > fixed.gift
diff -u "$bank" fixed.gift || true
teach quizzes import "$quiz" fixed.gift --replace --dry-run
teach quizzes import "$quiz" fixed.gift --replace
teach quizzes regrade "$quiz" --dry-run
teach quizzes regrade "$quiz"
teach quizzes attempts "$quiz"

step "An assignment; Ana and Bo hand in files (Cy does not)"
due=$("$PY" -c 'import datetime as d; print(d.date.today() + d.timedelta(days=7))')
homework="$course/homework"
teach assignments create "$course/homework" --title "Loops" --due "$due" --max-points 20 \
    --late-policy accept --penalty 10
run submissions submit "$homework" ana@example.org --text "Two loops, see the file." \
    --file "$examples/assignments/loops.py"
run submissions submit "$homework" bo@example.org --file "$examples/assignments/reflection.md"

step "Grading offline: export the worksheet, grade it in a spreadsheet"
teach grading export "$homework" --format xlsx -o grades.xlsx
grade_sheet() {  # EMAIL=GRADE|FEEDBACK ...: what an instructor types in Excel or LibreOffice
    "$PY" - grades.xlsx "$@" <<'EOF'
import sys
from openpyxl import load_workbook

path, edits = sys.argv[1], dict(arg.split("=", 1) for arg in sys.argv[2:])
book = load_workbook(path)
sheet = book["grades"]
header = [cell.value for cell in sheet[1]]
email, grade, feedback = (header.index(c) + 1 for c in ("email", "grade", "feedback"))
for row in range(2, sheet.max_row + 1):
    edit = edits.get(sheet.cell(row, email).value)
    if edit:
        value, text = edit.split("|", 1)
        sheet.cell(row, grade).value = float(value) if value.replace(".", "").isdigit() else value
        sheet.cell(row, feedback).value = text
book.save(path)
EOF
}
echo "(a slip first: 25 out of 20 for Bo)"
grade_sheet "ana@example.org=18|Clean loops." "bo@example.org=25|Reflect on the off-by-one."
teach grading import grades.xlsx --dry-run || echo "(refused, exit code $?: nothing written)"
echo "(fixed: 7,5 typed with a decimal comma)"
grade_sheet "bo@example.org=7,5|Reflect on the off-by-one."
teach grading import grades.xlsx --dry-run
teach grading import grades.xlsx
teach submissions list "$homework"

step "The gradebook: quiz score, assignment points, total, progress"
teach gradebook export "$course" --format csv -o gradebook.csv
cat gradebook.csv

step "Done: files in $work"
ls "$work"
