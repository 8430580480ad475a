# Sourced by the board scripts once they have set ARCH: ROOT (the repository), the
# architecture's facts (board/$ARCH/env.sh) and its cache folder, CACHE
# (target/board/$ARCH, or $BOARD_CACHE/$ARCH).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$ROOT/board/$ARCH/env.sh" ] || { echo "unknown arch $ARCH" >&2; exit 2; }
. "$ROOT/board/$ARCH/env.sh"
CACHE=${BOARD_CACHE:-$ROOT/target/board}/$ARCH
