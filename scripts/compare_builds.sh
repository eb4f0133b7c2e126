#!/usr/bin/env bash
# Byte-identical check of two art9 builds: findings in all four output formats (from JSON
# Lines, CSV and a JSON array input, with and without a policy and a subject), masked copies
# of JSON Lines, CSV and JSON arrays, and a masked SQLite table (--into), on a generated corpus.
#
#   bash scripts/compare_builds.sh OLD_BIN NEW_BIN [SIZE_MB]
#
# Prints one line per comparison and exits 1 if any output differs. Needs ../shared (the
# corpus generator) and sqlite3 (Python's module).
set -euo pipefail
old=$1
new=$2
size=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
gen="$here/../shared/bench/gen_corpus.py"
[ -f "$gen" ] || { echo "needs $gen" >&2; exit 2; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
python3 "$gen" --size-mb "$size" --seed 7 --out "$d/c.jsonl" >/dev/null 2>&1
python3 "$gen" --size-mb "$size" --seed 7 --out "$d/c.csv" --format csv >/dev/null 2>&1
python3 - "$d" <<'EOF'
import json, sqlite3, sys
d = sys.argv[1]
rows = [json.loads(l) for l in open(f"{d}/c.jsonl", encoding="utf-8")]
with open(f"{d}/c.json", "w", encoding="utf-8") as f:
    f.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n")
db = sqlite3.connect(f"{d}/c.db")
db.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, customer_id TEXT, lang TEXT, text TEXT)")
db.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)",
               [(r["id"], r["customer_id"], r["lang"], r["text"]) for r in rows])
db.commit()
EOF
fail=0
same() {
  local what=$1 a=$2 b=$3
  if cmp -s "$a" "$b"; then
    echo "same  $what ($(wc -c <"$a") bytes)"
  else
    echo "DIFF  $what"
    fail=1
  fi
}
for input in c.jsonl c.csv c.json; do
  for fmt in jsonl json csv table; do
    for extra in "" "--policy default --subject customer_id"; do
      # shellcheck disable=SC2086
      "$old" scan "$d/$input" --field text --key id --format "$fmt" $extra -q >"$d/o.out" 2>/dev/null || true
      # shellcheck disable=SC2086
      "$new" scan "$d/$input" --field text --key id --format "$fmt" $extra -q >"$d/n.out" 2>/dev/null || true
      same "scan $input --format $fmt $extra" "$d/o.out" "$d/n.out"
    done
  done
  ext=${input#c.}
  "$old" mask "$d/$input" --field text --key id -o "$d/o-masked.$ext" -q 2>/dev/null || true
  "$new" mask "$d/$input" --field text --key id -o "$d/n-masked.$ext" -q 2>/dev/null || true
  same "mask $input" "$d/o-masked.$ext" "$d/n-masked.$ext"
done
cp "$d/c.db" "$d/o.db"
cp "$d/c.db" "$d/n.db"
"$old" mask "sqlite:$d/o.db" --table notes --field text --key id --into masked -q 2>/dev/null || true
"$new" mask "sqlite:$d/n.db" --table notes --field text --key id --into masked -q 2>/dev/null || true
python3 -c "import sqlite3,sys; [print(*r, sep='\t') for r in sqlite3.connect(sys.argv[1]).execute('SELECT * FROM masked ORDER BY id')]" "$d/o.db" >"$d/o.tsv"
python3 -c "import sqlite3,sys; [print(*r, sep='\t') for r in sqlite3.connect(sys.argv[1]).execute('SELECT * FROM masked ORDER BY id')]" "$d/n.db" >"$d/n.tsv"
same "mask sqlite --into" "$d/o.tsv" "$d/n.tsv"
exit $fail
