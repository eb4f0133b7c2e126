#!/usr/bin/env bash
# The lost-update reproduction of issue 23 on PostgreSQL: 400,000 notes in lu(id, body);
# `art9 mask --update` runs while the "CRM application" rewrites three rows 0.3 s after the
# start. Afterwards the three rows must hold the application's text, the run must report
# three conflicts and exit with code 2.
#
#   scripts/lost_update_repro.sh postgres://postgres@127.0.0.1:5432/test [path/to/art9]
set -euo pipefail
url=${1:?postgres URL}
bin=${2:-target/release/art9}
psql -qX "$url" <<'SQL'
DROP TABLE IF EXISTS lu;
CREATE TABLE lu (id int PRIMARY KEY, body text);
INSERT INTO lu
SELECT i, CASE i % 3 WHEN 0 THEN 'Klant heeft diabetes, belt terug op dinsdag ' || i
                     WHEN 1 THEN 'Kunden er medlem af 3F og vil have et tilbud ' || i
                     ELSE 'She is a devout Muslim, asked for a quote ' || i END
FROM generate_series(1, 400000) AS i;
SQL
start=$(date +%s.%N)
"$bin" mask "$url" --table lu --field body --key id --update -q \
  --conflicts-out /tmp/lu-conflicts.jsonl --summary-json /tmp/lu-summary.json &
pid=$!
sleep 0.3
psql -qX "$url" -c "UPDATE lu SET body = 'Nieuwe notitie van de app: klant wil opzeggen.' \
  WHERE id IN (399000, 399500, 399999)"
set +e; wait $pid; code=$?; set -e
end=$(date +%s.%N)
echo "exit code: $code (run took $(echo "$end - $start" | bc) s)"
echo "rows 399000, 399500, 399999 now:"
psql -qXAt "$url" -c "SELECT id, body FROM lu WHERE id IN (399000, 399500, 399999) ORDER BY id"
echo "conflicts file:"; cat /tmp/lu-conflicts.jsonl
echo "summary: $(python3 -c 'import json;d=json.load(open("/tmp/lu-summary.json"))["write"];print(d["mode"],"rows_updated",d["rows_updated"],"conflicts",d["conflicts"])')"
echo "rows not masked: $(psql -qXAt "$url" -c "SELECT count(*) FROM lu WHERE body NOT LIKE '%[%'")"
