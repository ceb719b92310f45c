#!/usr/bin/env python3
"""The end-to-end benchmarks of scripts/bench.sh, run through nightjar-simnet.

Each subcommand runs one or more simnets (docs/SIMNET.md), reads their JSON
reports and prints one JSON object on standard output; progress goes to
standard error. Every figure comes with a ratio to a raw libsodium cost read
from primitives_bench's JSON of the same bench.sh run (--primitives):

  e2e          latency percentiles at a fixed offered load, and the highest
               total message rate whose p99 send-to-received latency stays
               within 100 ms with nothing lost (a bounded search over rates)
  scale        the largest in-process network (of a bounded list of sizes) that
               runs with zero loss, and its resident memory per node
  growth       simnet CPU time per delivered message for several network sizes
               at the same offered load (in-process: nodes and clients are all
               in the simnet process, so its CPU time is the network's)
  idle-memory  resident memory of nightjar-node processes that joined a small
               network (process mode) and carry almost no traffic
  plot         draws docs/benchmarks-growth.svg from a bench.sh result file

When NIGHTJAR_BENCH_LOCK names a file, every simnet runs under `flock` on it,
one run at a time, so that shared machines can interleave their jobs.
Every search is over a fixed list, every run bounded by the simnet's own
duration, drain and ready timeouts, and by a wall-clock timeout here.
"""
import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

P99_LIMIT_MS = 100.0
# Directory epochs of every run: nodes re-register and fetch the directory
# every epoch. The simnet's default of 2 s makes faults show quickly; a
# production node's is 300 s; 10 s keeps a 500-node network's start short.
EPOCH_S = 10


def log(msg):
    print(f"bench_simnet: {msg}", file=sys.stderr, flush=True)


class Lock:
    """Holds NIGHTJAR_BENCH_LOCK (flock, exclusive) while a simnet runs, if set.
    Taken here rather than with flock(1) so the wait is not part of a run's time."""

    waited_s = 0.0  # over every run of this process

    def __enter__(self):
        path = os.environ.get("NIGHTJAR_BENCH_LOCK")
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if path else None
        if self.fd is not None:
            t0 = time.monotonic()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            Lock.waited_s += time.monotonic() - t0
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # releases the lock


def run_simnet(bin_dir, args, timeout_s, sampler=None):
    """Runs one simnet with --json into a temporary file; returns its report.
    `sampler(pid)` is called about every 0.5 s while it runs."""
    with tempfile.TemporaryDirectory(prefix="nightjar-bench-") as tmp:
        out = os.path.join(tmp, "report.json")
        cmd = [os.path.join(bin_dir, "nightjar-simnet"), "run", "--json", out, "--quiet",
               "--no-progress"] + [str(a) for a in args]
        log("running " + " ".join(cmd[2:]))
        with Lock(), tempfile.TemporaryFile(mode="w+") as err_file:
            started = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, text=True)
            while proc.poll() is None:
                if time.monotonic() - started > timeout_s:
                    proc.kill()
                    proc.wait()
                    raise RuntimeError(f"simnet ran longer than {timeout_s} s")
                if sampler:
                    sampler(proc.pid)
                time.sleep(0.5)
            err_file.seek(0)
            err = err_file.read()
        if proc.returncode not in (0, 3) or not os.path.exists(out):
            raise RuntimeError(f"simnet exited with {proc.returncode}: {err.strip()[-500:]}")
        with open(out) as f:
            return json.load(f)


def summary(report):
    """The figures of one simnet report that the benchmarks use."""
    c = report["counts"]
    res = report.get("resources", {})
    rec = report["latency_ms"]["received"]
    sto = report["latency_ms"]["stored"]
    delivered = c["delivered"]
    cpu = res.get("workload_cpu_s", 0.0)
    return {
        "nodes": report["nodes"],
        "sent": c["sent"], "delivered": delivered, "lost": c["lost"],
        "acked_lost": c["acked_lost"], "send_failed": c["send_failed"],
        "unanswered": c["unanswered"],
        "received_ms": {k: rec.get(k) for k in ("p50", "p90", "p99", "max")},
        "stored_ms": {k: sto.get(k) for k in ("p50", "p90", "p99", "max")},
        "ready_s": report["ready_s"], "wall_s": report["wall_s"], "drain_s": report["drain_s"],
        "rss_mb": res.get("rss_mb"), "rss_peak_mb": res.get("rss_peak_mb"),
        "workload_cpu_s": cpu,
        "cpu_per_message_us": round(cpu / delivered * 1e6, 1) if delivered else None,
        "notes": report.get("notes", []),
    }


def flatten_counts(report):
    # The report keeps the counts at its top level (docs/SIMNET.md); nodes[] is a list.
    r = dict(report)
    r["counts"] = {k: report[k] for k in ("planned", "sent", "acked", "send_failed",
                                          "unanswered", "delivered", "lost", "acked_lost")}
    r["nodes"] = report["node_count"]
    return r


def simnet(bin_dir, args, timeout_s, sampler=None):
    return summary(flatten_counts(run_simnet(bin_dir, args, timeout_s, sampler)))


def in_x25519(us, prim):
    return round(us / prim["x25519_us"], 1) if us is not None else None


# --- e2e -------------------------------------------------------------------------


def cmd_e2e(a, prim):
    nodes, clients = 30, 20
    fixed_rate = 0.5  # per client: 10 messages/s in all, the SIMNET.md reference load
    dur = 10 if a.quick else 30
    base = ["--nodes", nodes, "--clients", clients, "--seed", 1, "--size", 100, "--drain", 20,
            "--epoch-seconds", EPOCH_S]
    fixed = simnet(a.bin, base + ["--rate", fixed_rate, "--duration", dur], dur + 200)
    out = {
        "nodes": nodes, "clients": clients, "size_bytes": 100, "epoch_seconds": EPOCH_S,
        "fixed_load": {"messages_per_s": fixed_rate * clients, "duration_s": dur, **fixed},
    }
    for key in ("p50", "p90", "p99"):
        out["fixed_load"][f"received_{key}_in_x25519"] = in_x25519(
            fixed["received_ms"][key] * 1000 if fixed["received_ms"][key] is not None else None,
            prim)

    # The search: total rates, doubling; one bisection step after the first
    # failure in the full run.
    totals = [20, 40, 80, 160] if a.quick else [20, 40, 80, 160, 320, 640]
    search_dur = 8 if a.quick else 20
    steps, best, failed_at = [], None, None

    def passes(s):
        p99 = s["received_ms"]["p99"]
        return (s["lost"] == 0 and s["send_failed"] == 0 and s["unanswered"] == 0
                and s["delivered"] > 0 and p99 is not None and p99 <= P99_LIMIT_MS)

    def step(total):
        s = simnet(a.bin, base + ["--rate", total / clients, "--duration", search_dur],
                   search_dur + 200)
        ok = passes(s)
        steps.append({"messages_per_s": total, "ok": ok, "sent": s["sent"], "lost": s["lost"],
                      "send_failed": s["send_failed"], "received_p99_ms": s["received_ms"]["p99"],
                      "delivered": s["delivered"], "workload_cpu_s": s["workload_cpu_s"],
                      "cpu_per_message_us": s["cpu_per_message_us"]})
        return ok, s

    best_summary = None
    for total in totals:
        ok, s = step(total)
        if not ok:
            failed_at = total
            break
        best, best_summary = total, s
    if failed_at and best and not a.quick:
        mid = (best + failed_at) // 2
        ok, s = step(mid)
        if ok:
            best, best_summary = mid, s
    # The cost of one more message: the CPU time the passing steps added per
    # message they added (the idle network's own work cancels out).
    ok_steps = [x for x in steps if x["ok"]]
    marginal = None
    if len(ok_steps) >= 2:
        lo, hi = min(ok_steps, key=lambda x: x["delivered"]), max(ok_steps, key=lambda x: x["delivered"])
        if hi["delivered"] > lo["delivered"]:
            marginal = round((hi["workload_cpu_s"] - lo["workload_cpu_s"]) /
                             (hi["delivered"] - lo["delivered"]) * 1e6, 1)
    out["max_rate"] = {
        "p99_limit_ms": P99_LIMIT_MS, "duration_s": search_dur,
        "messages_per_s": best, "first_failing_messages_per_s": failed_at,
        "searched_up_to": totals[-1], "steps": steps,
        # The machine's CPU at that rate, in X25519 scalar multiplications of
        # one core per message: cores x X25519/s / messages/s.
        "x25519_per_message_of_machine": (round(os.cpu_count() * prim["x25519_per_s"] / best, 1)
                                          if best else None),
        "cpu_per_message_us": best_summary["cpu_per_message_us"] if best_summary else None,
        "cpu_per_message_x25519": (in_x25519(best_summary["cpu_per_message_us"], prim)
                                   if best_summary else None),
        "marginal_cpu_per_message_us": marginal,
        "marginal_cpu_per_message_x25519": in_x25519(marginal, prim),
    }
    return out


# --- scale -----------------------------------------------------------------------


def cmd_scale(a, prim):
    sizes = [100, 200] if a.quick else [100, 200, 400, 800]
    dur = 10 if a.quick else 20
    runs, largest = [], None
    for n in sizes:
        try:
            s = simnet(a.bin, ["--nodes", n, "--clients", 20, "--rate", 0.5, "--duration", dur,
                               "--epoch-seconds", EPOCH_S, "--drain", 30, "--ready-timeout", 180,
                               "--seed", 1], dur + 600)
        except RuntimeError as e:
            runs.append({"nodes": n, "ok": False, "error": str(e)})
            break
        ok = s["lost"] == 0 and s["send_failed"] == 0 and s["delivered"] > 0
        per_node = s["rss_mb"] / n if s["rss_mb"] else None
        runs.append({"nodes": n, "ok": ok, "sent": s["sent"], "lost": s["lost"],
                     "send_failed": s["send_failed"], "ready_s": s["ready_s"],
                     "received_ms": s["received_ms"], "rss_mb": s["rss_mb"],
                     "rss_per_node_mb": round(per_node, 3) if per_node else None,
                     "rss_per_node_in_floor": (round(per_node / prim["rss_floor_mb"], 3)
                                               if per_node else None),
                     "notes": s["notes"]})
        if not ok:
            break
        largest = runs[-1]
    return {"clients": 20, "messages_per_s": 10, "duration_s": dur, "epoch_seconds": EPOCH_S,
            "sizes_tried": sizes, "largest_zero_loss_nodes": largest["nodes"] if largest else None,
            "rss_per_node_mb": largest["rss_per_node_mb"] if largest else None,
            "rss_per_node_in_floor": largest["rss_per_node_in_floor"] if largest else None,
            "runs": runs}


# --- growth ----------------------------------------------------------------------


def cmd_growth(a, prim):
    sizes = [10, 100] if a.quick else [10, 100, 500]
    dur = 10 if a.quick else 30
    points = []
    for n in sizes:
        s = simnet(a.bin, ["--nodes", n, "--clients", 20, "--rate", 0.5, "--duration", dur,
                           "--epoch-seconds", EPOCH_S, "--drain", 30, "--ready-timeout", 180,
                           "--seed", 1], dur + 600)
        points.append({"nodes": n, "sent": s["sent"], "delivered": s["delivered"],
                       "lost": s["lost"], "workload_cpu_s": s["workload_cpu_s"],
                       "cpu_per_message_us": s["cpu_per_message_us"],
                       "cpu_per_message_x25519": in_x25519(s["cpu_per_message_us"], prim),
                       # Cores the whole network kept busy over the workload and drain.
                       "cores_busy": round(s["workload_cpu_s"] / (dur + s["drain_s"]), 3),
                       "received_ms": s["received_ms"], "rss_mb": s["rss_mb"]})
    return {"clients": 20, "messages_per_s": 10, "duration_s": dur, "epoch_seconds": EPOCH_S,
            "x25519_us": prim["x25519_us"], "points": points}


# --- idle memory -----------------------------------------------------------------


def descendants(root):
    """PIDs and names of every process below `root`, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append((int(d), name))
    out, todo = [], [root]
    while todo:
        for pid, name in children.get(todo.pop(), []):
            out.append((pid, name))
            todo.append(pid)
    return out


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def is_authority(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"--authority" in f.read().split(b"\0")
    except OSError:
        return True


def cmd_idle_memory(a, prim):
    nodes = 8
    dur = 10 if a.quick else 30
    last = {}  # the last sample with every node up: {pid: MB}

    def sample(root):
        found = {}
        for pid, name in descendants(root):
            if name.startswith("nightjar-node") and not is_authority(pid):
                mb = rss_mb(pid)
                if mb:
                    found[pid] = mb
        if len(found) == nodes:
            last.clear()
            last.update(found)

    s = simnet(a.bin, ["--mode", "process", "--nodes", nodes, "--clients", 2, "--rate", 0.25,
                       "--duration", dur, "--drain", 10, "--epoch-seconds", EPOCH_S, "--seed", 1],
               dur + 200, sample)
    values = sorted(last.values())
    if not values:
        return {"skipped": "no sample with every nightjar-node process up"}
    med = values[len(values) // 2]
    return {"nodes": nodes, "clients": 2, "messages_per_s": 0.5, "duration_s": dur,
            "delivered": s["delivered"],
            "node_rss_median_mb": round(med, 2), "node_rss_max_mb": round(values[-1], 2),
            "node_rss_min_mb": round(values[0], 2),
            "node_rss_median_in_floor": round(med / prim["rss_floor_mb"], 2),
            "rss_floor_mb": prim["rss_floor_mb"]}


# --- plot ------------------------------------------------------------------------


def cmd_plot(a):
    with open(a.results) as f:
        res = json.load(f)
    pts = [p for p in res.get("growth", {}).get("points", []) if p.get("cpu_per_message_us")]
    if not pts:
        raise RuntimeError("no growth points in " + a.results)
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "growth.dat")
        with open(dat, "w") as f:
            for p in pts:
                f.write(f"{p['nodes']} {p['cpu_per_message_us'] / 1000:.3f} "
                        f"{p['cpu_per_message_x25519']}\n")
        script = f"""
set terminal svg size 720,440 dynamic font 'sans,12' background '#ffffff'
set output '{a.out}'
set title "Nightjar: CPU time per delivered message against network size\\n(in-process simnet, 20 clients, 10 messages/s in all)"
set xlabel 'service nodes'
set ylabel 'CPU ms per delivered message'
set y2label 'X25519 scalar multiplications per message'
set logscale x
set xrange [5:1000]
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
set format y2 '%.0f'
set grid
set key top left
set offsets 0, 0, graph 0.15, 0
set link y2 via y*1000/{res['primitives']['x25519_us']} inverse y*{res['primitives']['x25519_us']}/1000
plot '{dat}' using 1:2 with linespoints lw 2 pt 7 ps 1.2 title 'CPU per message', \\
     '' using 1:2:(sprintf('%.0f X25519', $3)) with labels offset 0,1.2 notitle
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    log("wrote " + a.out)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["e2e", "scale", "growth", "idle-memory", "plot"])
    ap.add_argument("--bin", default="build/bin", help="directory of nightjar-simnet")
    ap.add_argument("--primitives", help="primitives_bench --json output (a file)")
    ap.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    ap.add_argument("--results", help="plot: bench.sh's result file")
    ap.add_argument("--out", help="plot: the SVG to write")
    a = ap.parse_args()
    try:
        if a.command == "plot":
            cmd_plot(a)
            return 0
        with open(a.primitives) as f:
            prim = json.load(f)
        fn = {"e2e": cmd_e2e, "scale": cmd_scale, "growth": cmd_growth,
              "idle-memory": cmd_idle_memory}[a.command]
        started = time.monotonic()
        out = fn(a, prim)
        out["bench_wall_s"] = round(time.monotonic() - started, 1)
        out["lock_wait_s"] = round(Lock.waited_s, 1)
        print(json.dumps(out))
        return 0
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        log(f"{a.command}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
