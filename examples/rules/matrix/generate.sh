#!/usr/bin/env bash
# Writes the driver matrix's JSON rules (examples/rules.lua as rules) into a
# directory to load with `understudy --rules DIR`:
#   DIR/10-users.json  SELECT name FROM users WHERE id = ? with params [N] ->
#                      'user-N', one rule per id 0..IDS-1 (rules.lua answers
#                      any number; a rule file names the ids the checks use:
#                      0..DRIVERS_MANY-1 and 7, 8)
#   DIR/20-big.json    SELECT * FROM big -> 200,000 rows from DIR/big.csv
#   DIR/big.csv        id, name, val as rules.lua computes them: i, row-i,
#                      (i * 7919) % 100003 - 50000 for i = 1..200000 (~5 MB,
#                      so written here rather than committed)
#   DIR/matrix.json    a copy of the committed rules next to this script
#                      (typed, users-unknown, INSERT INTO t, missing, sysbench)
# The generated files sort before matrix.json: a users-N rule answers before
# matrix.json's users-unknown.
#
# usage: generate.sh DIR [IDS]      (IDS default max(DRIVERS_MANY or 500, 9))
set -eu
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR=${1:?usage: generate.sh DIR [IDS]}
IDS=${2:-${DRIVERS_MANY:-500}}
[ "$IDS" -ge 9 ] 2>/dev/null || IDS=9
mkdir -p "$DIR"
cp "$HERE/matrix.json" "$DIR/matrix.json"

awk -v n="$IDS" 'BEGIN {
  print "{"
  print "  \"rules\": ["
  for (i = 0; i < n; i++)
    printf "    { \"name\": \"users-%d\", \"match\": { \"sql\": \"SELECT name FROM users WHERE id = ?\", \"params\": [%d] },\n      \"result\": { \"columns\": [ { \"name\": \"name\", \"type\": \"VARCHAR(32)\", \"charset\": \"utf8mb4_general_ci\" } ], \"rows\": [ [\"user-%d\"] ] } }%s\n", i, i, i, (i < n - 1) ? "," : ""
  print "  ]"
  print "}"
}' >"$DIR/10-users.json.tmp"
mv "$DIR/10-users.json.tmp" "$DIR/10-users.json"

awk 'BEGIN { for (i = 1; i <= 200000; i++) printf "%d,row-%d,%d\n", i, i, (i * 7919) % 100003 - 50000 }' \
  >"$DIR/big.csv.tmp"
mv "$DIR/big.csv.tmp" "$DIR/big.csv"
cat >"$DIR/20-big.json" <<'EOF'
{
  "rules": [
    {
      "name": "big",
      "comment": "rules.lua's big(): 200,000 rows, from big.csv (generate.sh)",
      "match": { "sql": "SELECT * FROM big" },
      "result": {
        "columns": [
          { "name": "id", "type": "INT" },
          { "name": "name", "type": "VARCHAR(32)", "charset": "utf8mb4_general_ci" },
          { "name": "val", "type": "BIGINT" }
        ],
        "rows_csv": "big.csv"
      }
    }
  ]
}
EOF
