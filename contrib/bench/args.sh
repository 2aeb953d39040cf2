# shellcheck shell=bash disable=SC2034
# Sourced by the benchmark scripts: their common options.  Sets `here` (the
# repository), `user` (--rootless USER, else ""), `setup` (0 with --no-setup)
# and `args` (the rest); -h prints the calling script's header comment.
# `rootless_ok=0` before sourcing refuses --rootless.
here=$(cd "$(dirname "$0")/../.." && pwd)
user="" setup=1 args=()
while [ $# -gt 0 ]; do
    case $1 in
        --rootless)
            [ "${rootless_ok:-1}" = 1 ] || { echo "$(basename "$0"): --rootless is not an option here" >&2; exit 1; }
            user=$2; shift 2 ;;
        --no-setup) setup=0; shift ;;
        -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
