# cpus.sh — sourced by the agent benches: the CPUs a run is pinned to.
#
# CPUS: the CPUs this process may use (at most BENCH_CPUS, default 4), or
# (any) when BENCH_PIN=0 or taskset is missing.  on_cpu CPU COMMAND...
# runs COMMAND pinned to CPU (or wherever the scheduler puts it for
# "any").  A bare read and an agent run are compared on one CPU: a shared
# host's CPUs differ (docs/performance.md, "The CPUs of a shared host").
if [[ ${BENCH_PIN:-1} = 1 ]] && command -v taskset >/dev/null; then
    read -r -a CPUS <<<"$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
    CPUS=("${CPUS[@]:0:${BENCH_CPUS:-4}}")
else
    CPUS=(any)
fi
on_cpu() { # CPU COMMAND...
    local c=$1
    shift
    if [[ $c = any ]]; then "$@"; else taskset -c "$c" "$@"; fi
}
