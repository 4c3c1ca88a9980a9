# Sourced by the simulator's shell tests (simulate_dp.sh, simulate_memq.sh, simulate_parallel.sh,
# simulate_pim.sh) after `set -u`, with their arguments: IPW_BIN SOURCE_DIR WORK_DIR. Sets IPW,
# SRC, DATA (the bundled data/sim), FIX (tests/fixtures/sim), enters WORK, and defines the
# failure flag and the CSV helpers they share.
IPW=$1
SRC=$2
WORK=$3
mkdir -p "$WORK"
cd "$WORK" || exit 1
DATA=$SRC/data/sim
FIX=$SRC/tests/fixtures/sim
fail=0
err() { echo "FAIL: $*"; fail=1; }
# field F of the row of request ID in CSV
col() { awk -F, -v id="$2" -v f="$3" '$2 == id {print $f}' "$1"; }
# the first eleven (unquoted) fields of the row of request ID in CSV
row() { awk -F, -v id="$2" '$2 == id {print $1","$2","$3","$4","$5","$6","$7","$8","$9","$10","$11}' "$1"; }
