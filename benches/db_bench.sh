#!/usr/bin/env bash
# Database scan benchmark: art9 against each database's own export floor.
#   benches/db_bench.sh [--rows N] [--reuse] [--rounds R]   (default 1,000,000 rows, 3 rounds)
# Loads N synthetic notes (shared/bench/gen_corpus.py) into PostgreSQL and MariaDB (table
# notes in database art9_bench), then times
#   psql -c "\copy (SELECT id, body FROM notes) TO '/dev/null'"   vs  art9 scan postgres://...
#   mariadb -e 'SELECT id, body FROM notes' > /dev/null            vs  art9 scan mysql://...
# with a release build, and prints the ratios; also art9 on the same notes from a JSON Lines
# file, which splits art9's own scanning cost from the cost of reading the database.
# Each round times the floor and then art9, so that a machine whose speed drifts (a shared
# VM) affects both alike; the script prints the best of the rounds for each and the median
# of the per-round ratios.
# Servers as in ci/db-setup.sh.
# --reuse skips generating and loading when both tables already hold N rows (from an earlier
# run with the same N; the generated files are then kept in target/db_bench-N/).
# ART9_BIN=path times that binary instead of building this tree (before/after comparisons).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=1000000
reuse=0
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--reuse] [--rounds R]" >&2; exit 2 ;;
  esac
done
gen=${GEN_CORPUS:-../shared/bench/gen_corpus.py}
[ -f "$gen" ] || gen=/work/shared/bench/gen_corpus.py
db=art9_bench
PG="postgres://postgres@127.0.0.1:5432/$db"
MY="mysql://root@127.0.0.1:3306/$db"
if [ $reuse = 1 ]; then
  tmp=target/db_bench-$rows; mkdir -p "$tmp"
else
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fi

if [ -n "${ART9_BIN:-}" ]; then
  BIN=$ART9_BIN
else
  cargo build --release --quiet
  BIN=target/release/art9
fi

loaded() {
  [ -s "$tmp/notes-n.jsonl" ] \
  && [ "$(psql -Atq -h 127.0.0.1 -U postgres -d $db -c 'SELECT count(*) FROM notes' 2>/dev/null)" = "$rows" ] \
  && [ "$(mariadb -N -h 127.0.0.1 -u root $db -e 'SELECT count(*) FROM notes' 2>/dev/null)" = "$rows" ]
}
if [ $reuse = 1 ] && loaded; then
  echo "== reusing the loaded tables ($rows rows)" >&2
  n=$rows; bytes=$(stat -c %s "$tmp/notes.tsv")
else
echo "== generating $rows notes" >&2
mb=$(( rows / 3000 + 2 ))
python3 "$gen" --size-mb "$mb" --seed 1 --format jsonl --out "$tmp/notes.jsonl"
head -n "$rows" "$tmp/notes.jsonl" | python3 -c '
import json, sys
esc = lambda s: s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
for line in sys.stdin:
    r = json.loads(line)
    sys.stdout.write(esc(r["id"]) + "\t" + esc(r["customer_id"]) + "\t" + esc(r["text"]) + "\n")
' > "$tmp/notes.tsv"
head -n "$rows" "$tmp/notes.jsonl" > "$tmp/notes-n.jsonl"
n=$(wc -l < "$tmp/notes.tsv"); bytes=$(stat -c %s "$tmp/notes.tsv")
echo "== $n rows, $bytes bytes" >&2

echo "== loading PostgreSQL" >&2
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -q -h 127.0.0.1 -U postgres -d $db \
  -c "CREATE TABLE notes (id text PRIMARY KEY, customer_id text, body text)" \
  -c "\\copy notes FROM '$tmp/notes.tsv'" -c "VACUUM ANALYZE notes"
echo "== loading MariaDB" >&2
mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
mariadb --local-infile=1 -h 127.0.0.1 -u root $db -e "SET GLOBAL local_infile=1; CREATE TABLE notes (id varchar(32) PRIMARY KEY, customer_id varchar(16), body text) CHARSET utf8mb4; LOAD DATA LOCAL INFILE '$tmp/notes.tsv' INTO TABLE notes CHARACTER SET utf8mb4; ANALYZE TABLE notes" >/dev/null
fi

t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
# pair FLOOR ART9: $rounds rounds of (floor, art9); prints "best_floor best_art9 median_ratio".
pair() {
  for _ in $(seq "$rounds"); do echo "$(t "$1") $(t "$2")"; done | python3 -c '
import sys, statistics
r = [tuple(map(float, l.split())) for l in sys.stdin]
print("%.2f %.2f %.2f" % (min(f for f, _ in r), min(a for _, a in r), statistics.median(a / f for f, a in r)))'
}
best() { # best of $rounds runs
  local b=999999 x
  for _ in $(seq "$rounds"); do x=$(t "$@"); b=$(echo "if ($x < $b) $x else $b" | bc); done
  echo "$b"
}
pg_floor() { psql -q -h 127.0.0.1 -U postgres -d $db -c "\\copy (SELECT id, body FROM notes) TO '/dev/null'"; }
pg_art9() { "$BIN" scan "$PG" --table notes --field body --key id --format jsonl -q > /dev/null || [ $? = 1 ]; }
my_floor() { mariadb -h 127.0.0.1 -u root $db -e 'SELECT id, body FROM notes' > /dev/null; }
my_art9() { "$BIN" scan "$MY" --table notes --field body --key id --format jsonl -q > /dev/null || [ $? = 1 ]; }
file_art9() { "$BIN" scan "$tmp/notes-n.jsonl" --field text --key id --format jsonl -q > /dev/null || [ $? = 1 ]; }

read -r pf pa pm < <(pair pg_floor pg_art9)
read -r mf ma mm < <(pair my_floor my_art9)
fa=$(best file_art9)
findings=$("$BIN" scan "$PG" --table notes --field body --key id --format jsonl -q | wc -l || true)
printf 'rows %s  bytes %s  findings %s  (%s rounds, floor and art9 alternating; seconds)\n' "$n" "$bytes" "$findings" "$rounds"
printf 'postgres  floor %.2f  art9 %.2f  ratio of bests %.2f  median ratio %.2f\n' "$pf" "$pa" "$(echo "$pa / $pf" | bc -l)" "$pm"
printf 'mariadb   floor %.2f  art9 %.2f  ratio of bests %.2f  median ratio %.2f\n' "$mf" "$ma" "$(echo "$ma / $mf" | bc -l)" "$mm"
printf 'jsonl     art9 %.2f  (the same notes from a file: art9 scanning alone)\n' "$fa"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
