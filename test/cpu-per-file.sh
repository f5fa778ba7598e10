#!/usr/bin/env bash
# CPU time of each test file, with everything it starts (skyrec, PostgreSQL, Caddy, sshd, apps):
# each file runs alone in `vitest run`, in a cgroup of its own, in its own network namespace, and
# the cgroup's CPU counters are read after it. Daemons a test starts stay in its cgroup even when
# they leave its process tree, so none is missed. Needs root (cgroups, unshare) and a built dist/.
#
#   bash test/cpu-per-file.sh [out.tsv] [test files...]      # default: every test file
#
# Prints one line per file: user and system CPU seconds, wall seconds, exit code; then the sums.
# Each line includes vitest's own start-up (about 1 CPU-second here), which `npm test` pays once
# per shard, not per file: the first line is an empty test file's, to subtract.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/skyrec-cpu-per-file.tsv}
shift || true
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi

if [ -d /sys/fs/cgroup/cpuacct ]; then
  base=/sys/fs/cgroup/cpuacct/skyrec-cpu-per-file
  usage() { echo "$(cat "$1/cpuacct.usage_user") $(cat "$1/cpuacct.usage_sys")" | awk '{printf "%.1f\t%.1f", $1 / 1e9, $2 / 1e9}'; }
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  base=/sys/fs/cgroup/skyrec-cpu-per-file
  usage() { awk '/^user_usec/ {u = $2} /^system_usec/ {s = $2} END {printf "%.1f\t%.1f", u / 1e6, s / 1e6}' "$1/cpu.stat"; }
else
  echo "no cgroup CPU accounting found under /sys/fs/cgroup" >&2
  exit 2
fi
mkdir -p "$base"

empty=$(mktemp -d)/empty.test.ts
printf "import { expect, it } from 'vitest';\nit('starts vitest and nothing else', () => expect(1).toBe(1));\n" > "$empty"
cp "$empty" test/zz-cpu-per-file-empty.test.ts
trap 'rm -f test/zz-cpu-per-file-empty.test.ts' EXIT

printf "file\tuser_s\tsys_s\twall_s\texit\n" > "$out"
for f in test/zz-cpu-per-file-empty.test.ts "${files[@]}"; do
  cg="$base/run-$$"
  mkdir -p "$cg"
  started=$(date +%s%N)
  set +e
  bash -c "echo \$\$ > '$cg/cgroup.procs'; exec unshare -n sh -c 'ip link set lo up && exec \"\$@\"' sh node node_modules/vitest/vitest.mjs run '$f'" > /dev/null 2>&1
  code=$?
  set -e
  wall=$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  sleep 1 # what the test left running is counted until here, then moved out
  printf "%s\t%s\t%s\t%s\n" "$f" "$(usage "$cg")" "$wall" "$code" | tee -a "$out"
  while read -r pid; do echo "$pid" > "$base/../cgroup.procs" 2>/dev/null || true; done < "$cg/cgroup.procs"
  rmdir "$cg"
done
awk -F'\t' 'NR > 2 {u += $2; s += $3; w += $4} END {printf "sum (without the empty file): user %.0f s, system %.0f s, wall %.0f s\n", u, s, w}' "$out"
