#!/usr/bin/env bash
# Differential check of `ipw simulate` between two builds: every bundled cluster config x the
# three bundled traces x three option sets (defaults; --prefix-storage CPU; DEBUG log with the
# energy/standby fixes and no prefix caching) run by both binaries, and the per-request CSV,
# the --summary JSON, the console log and the exit status compared byte for byte. The only
# line allowed to differ is the log's "Total simulation time" (wall clock). A speed change to
# the simulator must leave every output identical: run this against the binary before it.
#
# usage: scripts/sim-diff.sh BEFORE_IPW AFTER_IPW [WORKDIR]
#   WORKDIR  where the outputs go (default: a fresh temporary directory, removed when equal)
# Exit status: 0 when every run is identical, 1 when one differs, 2 for a usage error.
set -uo pipefail

if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: scripts/sim-diff.sh BEFORE_IPW AFTER_IPW [WORKDIR] (two ipw executables)" >&2
    exit 2
fi
before=$(realpath "$1")
after=$(realpath "$2")
data=$(realpath "$(dirname "$0")/../data/sim")
keep=1
if [ $# -ge 3 ]; then
    out=$3
    rm -rf "$out"
else
    out=$(mktemp -d /tmp/ipw-sim-diff-XXXXXX)
    keep=0
fi
mkdir -p "$out/before" "$out/after"

extras=("" "--prefix-storage CPU"
        "--log-level DEBUG --fix-energy-at-completion --fix-standby-tail --no-enable-prefix-caching")
fail=0
runs=0
ok=0
for cfg in "$data"/configs/cluster/*.json; do
    name=$(basename "$cfg" .json)
    for trace in "$data"/workloads/*.jsonl; do
        tname=$(basename "$trace" .jsonl)
        for k in "${!extras[@]}"; do
            tag=$name.$tname.$k
            for side in before after; do
                bin=$before
                [ $side = after ] && bin=$after
                # outputs named relatively: the log prints the CSV's path
                (cd "$out/$side" &&
                     # shellcheck disable=SC2086 # the option set is split on purpose
                     "$bin" simulate --cluster-config "$cfg" --dataset "$trace" --output "$tag.csv" \
                         --summary "$tag.json" ${extras[$k]} >"$tag.log" 2>&1
                 echo "exit $?" >>"$tag.log")
            done
            runs=$((runs + 1))
            grep -q '^exit 0$' "$out/before/$tag.log" && ok=$((ok + 1))
            sed -i '/^Total simulation time: /d' "$out/before/$tag.log" "$out/after/$tag.log"
            for ext in csv json log; do
                b=$out/before/$tag.$ext a=$out/after/$tag.$ext
                [ ! -e "$b" ] && [ ! -e "$a" ] && continue
                if ! cmp -s "$b" "$a"; then
                    echo "differs: $tag.$ext (${extras[$k]:-defaults}; $b vs $a)"
                    fail=1
                fi
            done
        done
    done
done
echo "sim-diff: $runs runs ($ok of them exit 0 before), $([ $fail = 0 ] && echo identical || echo DIFFERENT)"
if [ $fail = 0 ] && [ $keep = 0 ]; then
    rm -rf "$out"
fi
exit $fail
