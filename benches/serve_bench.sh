#!/usr/bin/env bash
# Benchmark of the pre-save paths (issue #6): `art9 serve` under a fixed request rate and
# `art9 check --stdio` throughput on one core. Figures and how to read them: docs/serve-bench.md.
#
#   benches/serve_bench.sh            # full run (~5 min after the release build)
#   QUICK=1 benches/serve_bench.sh    # shorter runs, for trying the script
#
# Needs: python3, taskset, and a load generator on PATH: `oha` (cargo install oha; open loop,
# fixed rate, --latency-correction) or else `wrk` (apt-get install wrk; closed loop: no fixed
# rate, no latency correction — its figures are labelled as such).
# Load goes to 127.0.0.1 only. The server is pinned to core 1, the load generator and the
# co-process run to core 0, so that neither steals the other's CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${SHARED:-$ROOT/../shared}
OUT=${OUT:-$ROOT/target/serve-bench}
DUR=${DUR:-15}
RATES=${RATES:-"1000 2000 4000 6000 8000 10000 12000 15000 20000"}
if [[ -n "${QUICK:-}" ]]; then DUR=5; RATES="1000 5000 10000"; fi
mkdir -p "$OUT"

echo "== release build (once)"
cargo build --release --bin art9 --quiet
BIN=$ROOT/target/release/art9

echo "== corpus: 1 KB notes from gen_corpus.py"
python3 "$SHARED/bench/gen_corpus.py" --size-mb 25 --seed 6 --out "$OUT/corpus.jsonl" --format jsonl
python3 - "$OUT/corpus.jsonl" "$OUT" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
# Join consecutive notes of one language into notes of at most 1024 bytes (UTF-8), >= 900.
notes, cur, cur_lang = [], [], None
for line in open(src, encoding="utf-8"):
    r = json.loads(line)
    if r["lang"] != cur_lang:
        cur, cur_lang = [], r["lang"]
    cand = " ".join(cur + [r["text"]])
    if len(cand.encode()) > 1024:
        if len(" ".join(cur).encode()) >= 900:
            notes.append(" ".join(cur))
        cur = [r["text"]] if len(r["text"].encode()) <= 1024 else []
    else:
        cur.append(r["text"])
with open(f"{out}/requests.jsonl", "w", encoding="utf-8") as f:
    for i, n in enumerate(notes):
        f.write(json.dumps({"id": i, "text": n}, ensure_ascii=False) + "\n")
sizes = sorted(len(n.encode()) for n in notes)
print(f"{len(notes)} notes, bytes: min {sizes[0]}, median {sizes[len(sizes)//2]}, max {sizes[-1]}")
# One representative body for load generators that send a single body: the median-size note
# among those with a finding-prone word is not known here, so take the median note.
mid = sorted(notes, key=lambda n: len(n.encode()))[len(notes) // 2]
open(f"{out}/body.json", "w", encoding="utf-8").write(json.dumps({"text": mid}, ensure_ascii=False))
PY
N=$(wc -l < "$OUT/requests.jsonl")

echo "== art9 check --stdio on one core (taskset -c 0), $N notes"
# Warm-up run, then three timed runs; best of three.
taskset -c 0 "$BIN" check --stdio < "$OUT/requests.jsonl" > "$OUT/stdio.out"
test "$(wc -l < "$OUT/stdio.out")" -eq "$N"
best=0
for _ in 1 2 3; do
  s=$(date +%s.%N)
  taskset -c 0 "$BIN" check --stdio < "$OUT/requests.jsonl" > /dev/null
  e=$(date +%s.%N)
  r=$(python3 -c "print(int($N / ($e - $s)))")
  (( r > best )) && best=$r
done
decisions=$(python3 -c "
import json, collections, sys
c = collections.Counter(json.loads(l).get('decision', 'error') for l in open('$OUT/stdio.out'))
print(dict(c))")
echo "stdio: $best notes/s (best of 3), decisions $decisions" | tee "$OUT/stdio.txt"

if [[ -n "${PRESIDIO_PY:-}" ]]; then
  # PRESIDIO_PY: a python with presidio-analyzer installed, e.g.
  #   python3 -m venv /tmp/presidio-venv && /tmp/presidio-venv/bin/pip install presidio-analyzer
  echo "== peer: Presidio analyzer (deny lists, blank spaCy pipeline) in process, one core"
  taskset -c 0 "$PRESIDIO_PY" "$ROOT/benches/presidio_peer.py" "$OUT/requests.jsonl" \
    "$SHARED/bench/lexicon-terms.tsv" "$DUR" | tee "$OUT/presidio.txt"
  p=$(awk '{print $1}' "$OUT/presidio.txt")
  echo "art9 check --stdio / Presidio analyzer: $(python3 -c "print(f'{$best / $p:.0f}x')")" \
    | tee -a "$OUT/presidio.txt"
fi

echo "== art9 serve on core 1"
taskset -c 1 "$BIN" serve --addr 127.0.0.1:0 --threads 1 --concurrency 1024 --log-level warn \
  > "$OUT/serve.stdout" 2> "$OUT/serve.stderr" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$OUT/serve.stdout" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's#.*http://##p' "$OUT/serve.stdout" | head -1)
URL="http://$ADDR/v1/check"
echo "serving on $ADDR"
curl -sf -H 'content-type: application/json' --data-binary @"$OUT/body.json" "$URL" > /dev/null

: > "$OUT/rates.tsv"
if command -v oha > /dev/null; then
  GEN="oha $(oha --version | head -1)"
  echo "== load: $GEN, open loop, fixed rate, latency correction, ${DUR}s per rate"
  for rate in $RATES; do
    taskset -c 0 oha --no-tui --output-format json -z "${DUR}s" -q "$rate" --latency-correction \
      -c 64 -m POST -H 'content-type: application/json' -D "$OUT/body.json" "$URL" \
      > "$OUT/oha-$rate.json"
    python3 - "$OUT/oha-$rate.json" "$rate" >> "$OUT/rates.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
errors = sum(d.get("errorDistribution", {}).values()) + sum(v for k, v in codes.items() if k != "200")
print(f"{sys.argv[2]}\t{s['requestsPerSec']:.0f}\t{p['p50']*1000:.3f}\t{p['p99']*1000:.3f}\t{p['p99.9']*1000:.3f}\t{errors}")
PY
    tail -1 "$OUT/rates.tsv"
  done
else
  GEN="wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') (CLOSED LOOP: no fixed rate, no latency correction)"
  echo "== load: $GEN"
  cat > "$OUT/bodies.lua" <<'LUA'
local bodies = {}
for line in io.lines(os.getenv("ART9_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json"}, bodies[i])
end
LUA
  for c in 1 2 4 8 16 32 64; do
    ART9_BODIES="$OUT/requests.jsonl" taskset -c 0 wrk -t1 -c"$c" -d"${DUR}s" --latency \
      -s "$OUT/bodies.lua" "http://$ADDR" > "$OUT/wrk-$c.txt"
    python3 - "$OUT/wrk-$c.txt" "$c" >> "$OUT/rates.tsv" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
pct = {m.group(1): ms(m.group(2), m.group(3)) for m in re.finditer(r"\s(50|99)\.000%\s+([\d.]+)(us|ms|s)", t)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
err = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", t))
print(f"c={sys.argv[2]}\t{rps:.0f}\t{pct['50']:.3f}\t{pct['99']:.3f}\t-\t{err}")
PY
    tail -1 "$OUT/rates.tsv"
  done
fi

kill -TERM $SERVER; wait $SERVER || true
trap - EXIT
echo "== results ($GEN)"
echo -e "target\tachieved_rps\tp50_ms\tp99_ms\tp99.9_ms\terrors"
cat "$OUT/rates.tsv"
cat "$OUT/stdio.txt"
[[ -f "$OUT/presidio.txt" && -n "${PRESIDIO_PY:-}" ]] && cat "$OUT/presidio.txt"
exit 0
