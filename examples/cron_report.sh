#!/usr/bin/env bash
# Nightly report, cron style: check health, then write a dated JSON report of enrollments
# that need attention (active and under a progress threshold). `--jsonl` streams every
# enrollment (no paging, constant memory), one JSON object a line.
#
#   # crontab: every night at 02:30
#   30 2 * * *  LMS_DATABASE_URL=postgresql://lms@db/lms /opt/lms/examples/cron_report.sh /var/reports
#
# Exit codes: 0 report written, 1 lmsctl refused or the database is not healthy.
set -euo pipefail
out_dir=${1:-./var/reports}
threshold=${LMS_REPORT_THRESHOLD:-50}
mkdir -p "$out_dir"

# doctor exits non-zero on any failed check (3: the database is empty); cron mails the
# output to the admin, and this script exits 1.
lmsctl doctor --wait 30 --json > /dev/null || exit 1

report="$out_dir/enrollments-$(date +%Y-%m-%d).json"
trap 'rm -f "$report.tmp"' EXIT
lmsctl enrollments list --status active --jsonl \
  | python3 -c '
import json, sys
threshold = float(sys.argv[1])
active, behind = 0, []
for line in sys.stdin:
    row = json.loads(line)
    active += 1
    if row["progress_percentage"] < threshold:
        behind.append(row)
json.dump({"threshold": threshold, "active": active, "behind": behind}, sys.stdout, indent=2)
print(f"{len(behind)} of {active} active enrollments under {threshold}%", file=sys.stderr)
' "$threshold" > "$report.tmp"
mv "$report.tmp" "$report"  # never a half-written report: lmsctl failing stops the script
echo "wrote $report"
