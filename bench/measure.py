"""`python bench/measure.py -- CMD…`: run CMD, pass its stdout through, and print one JSON line
{rc, wall, maxrss_kb, cpu_s} as the last line of stderr. A fresh process per run, so
`RUSAGE_CHILDREN.ru_maxrss` is the peak RSS of CMD alone (Linux: kilobytes) and `cpu_s` its
user + system CPU seconds (steadier than wall time on a shared machine)."""

import json
import resource
import subprocess
import sys
import time


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=sys.stdout, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    tail = proc.stderr.decode(errors="replace")[-4000:]
    sys.stderr.write(tail + ("\n" if tail and not tail.endswith("\n") else ""))
    sys.stderr.write(json.dumps({"rc": proc.returncode, "wall": wall,
                                 "maxrss_kb": usage.ru_maxrss,
                                 "cpu_s": usage.ru_utime + usage.ru_stime}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
