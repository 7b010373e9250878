#!/usr/bin/env bash
# Nightly report, cron style: check health, then write a dated JSON report of enrollments
# that need attention (active and under a progress threshold), using --json output.
#
#   # crontab: every night at 02:30
#   30 2 * * *  LMS_DATABASE_URL=postgresql://lms@db/lms /opt/lms/examples/cron_report.sh /var/reports
#
# Exit codes: 0 report written, 1 lmsctl refused or the database is not healthy.
set -euo pipefail
out_dir=${1:-./var/reports}
threshold=${LMS_REPORT_THRESHOLD:-50}
mkdir -p "$out_dir"

# doctor exits non-zero on any failed check; cron mails the output to the admin.
lmsctl doctor --wait 30 --json > /dev/null

report="$out_dir/enrollments-$(date +%Y-%m-%d).json"
lmsctl enrollments list --status active --per-page 10000 --json \
  | python3 -c '
import json, sys
threshold = float(sys.argv[1])
rows = json.load(sys.stdin)
behind = [r for r in rows if r["progress_percentage"] < threshold]
json.dump({"threshold": threshold, "active": len(rows), "behind": behind}, sys.stdout, indent=2)
print(f"{len(behind)} of {len(rows)} active enrollments under {threshold}%", file=sys.stderr)
' "$threshold" > "$report"
echo "wrote $report"
