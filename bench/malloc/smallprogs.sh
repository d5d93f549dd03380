# The small programs that smallrss.sh and libpages.sh run, and their
# rounds, sourced after prelude.sh (ROUNDS) and after the script has set
# NAMES (its configurations):
#   small_prog P   sets cmd to program P's command line (0 .. 5):
#                  /bin/true, cat /etc/passwd, sort /etc/services,
#                  git --version, /usr/bin/python3 -c pass, and
#                  /usr/bin/python3 starting and joining a thread (the
#                  interpreter itself, not a wrapper found in PATH);
#   SMALL_PROGS    their names as the tables print them;
#   each_run TOOL FIELD...
#                  runs TOOL (a command line of words without spaces,
#                  given the program's) for every round, every
#                  configuration (their order rotated each round, its
#                  ENVS and LIBS) and every program 0 .. NPROGS-1 (cmd
#                  set by prog: small_prog unless the script defines its
#                  own), checks that TOOL's line ends in rc=0, and writes
#                  a line "PROGRAM CONFIG-NAME ROUND VALUE..." to
#                  $W/data, the values of the line's FIELD=VALUE words.
NPROGS=6
SMALL_PROGS='/bin/true|cat /etc/passwd|sort /etc/services|git --version|python3 -c pass|python3, one thread'
small_prog() {
    case $1 in
    0) cmd=(/bin/true) ;;
    1) cmd=(cat /etc/passwd) ;;
    2) cmd=(sort /etc/services) ;;
    3) cmd=(git --version) ;;
    4) cmd=(/usr/bin/python3 -c pass) ;;
    5) cmd=(/usr/bin/python3 -c 'import threading; t = threading.Thread(target=print); t.start(); t.join()') ;;
    esac
}
prog() { small_prog "$1"; }
each_run() {
    local n=${#NAMES[@]} tool=$1 r k c p line f v out
    shift
    for ((r = 0; r < ROUNDS; r++)); do
        for ((k = 0; k < n; k++)); do
            c=$(((k + r) % n))
            for ((p = 0; p < NPROGS; p++)); do
                prog $p
                line=$(env ${ENVS[$c]} ${LIBS[$c]:+LD_PRELOAD=${LIBS[$c]}} $tool "${cmd[@]}")
                case $line in *" rc=0"*) ;; *) echo "$(basename "$0"): ${cmd[*]} failed under ${NAMES[$c]}: $line" >&2; exit 1 ;; esac
                out="$p ${NAMES[$c]} $r"
                for f; do v=${line#* $f=}; [ "$v" != "$line" ] || v=${line#$f=}; out+=" ${v%% *}"; done
                echo "$out" >>"$W/data"
            done
        done
    done
}
