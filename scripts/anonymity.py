#!/usr/bin/env python3
"""The anonymity figures of docs/ANONYMITY.md, in one command.

Runs `nightjar-simnet run --adversary --json ...` once per configuration of a
sweep of defences, one run after another, and composes the results:

  none        no defence
  mix μ       per-hop mixing delays, exponential with mean μ ms (--mix)
  cover λ     loop and drop cover cells, λ_loop + λ_drop per second per
              client (--cover)
  padding P   streamed long polls answered every P ms (--padding)
  custom      any combination (--config)

For every configuration it also makes one short *idle* run (`--rate 0`: no
client sends or receives a message) to measure what a client that only
stays subscribed pays in bytes per second under that defence; the
difference to the idle run without defences is the defence's own cost.

Last, one *Sybil* run without defences (--sybil N, --sybil-join S): N more
nodes, all the adversary's, join the network S seconds into the workload;
the run reports what that set links, beside random sets held from the start.

Output (in --out, default anonymity-results/): a table on standard output
(and table.md), summary.json (every configuration's anonymity object,
latency and counts, the command line, the seed, the simnet's version),
runs/ (each run's scenario file, raw JSON, summary text and standard
error), and plots/ (data files, gnuplot scripts and, when gnuplot is
installed, SVG plots).

Every run is bounded by a timeout (--timeout, or one computed from the
run's duration). The script stops at the first run that fails, prints the
tail of its standard error and exits 1; summary.json then says what was
done ("complete": false). When NIGHTJAR_BENCH_LOCK names a file, each run
holds an exclusive flock on it (as scripts/bench_simnet.py does), so that
jobs on a shared machine do not overlap.

Examples:
  python3 scripts/anonymity.py --quick
  python3 scripts/anonymity.py                       # 100 nodes, 100 clients, 60 s
  python3 scripts/anonymity.py --mix 50,200,500 --cover '' --padding ''
  python3 scripts/anonymity.py --config mix=50,loop=0.5,drop=0.5,padding=500
"""
import argparse
import datetime
import fcntl
import hashlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_SCENARIO = os.path.join(REPO, "simnet", "scenarios", "anonymity.json")

# --quick: a small network, a few minutes for the whole default sweep.
QUICK = {"nodes": 30, "clients": 30, "duration": 20.0, "sybil": 3}
DEFAULTS = {"nodes": 100, "clients": 100, "duration": 60.0, "sybil": 10}


class Failure(Exception):
    """A run failed, or the setup is wrong: the message says what to do."""


def log(msg):
    print(f"anonymity: {msg}", file=sys.stderr, flush=True)


def fmt_num(v):
    """50.0 -> '50', 0.5 -> '0.5' (for names, labels and command lines)."""
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


# --- configurations ---------------------------------------------------------------


def parse_numbers(text, option):
    """'50,200' -> [50.0, 200.0]; '' or 'none' -> []."""
    text = text.strip()
    if text in ("", "none", "off"):
        return []
    out = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            raise Failure(f"{option}: '{part}' is not a number (expected a list like 50,200)")
        if not math.isfinite(v) or v <= 0:
            raise Failure(f"{option}: {part} must be above 0 (leave the list empty for none)")
        out.append(v)
    return out


def parse_cover(text):
    """'0.5,2' -> [(0.5, 0.5), (2, 2)]; '0.5+1' -> [(0.5, 1)] (loop + drop)."""
    text = text.strip()
    if text in ("", "none", "off"):
        return []
    out = []
    for part in text.split(","):
        pieces = part.split("+")
        try:
            rates = [float(p) for p in pieces]
        except ValueError:
            raise Failure(f"--cover: '{part}' is not R or LOOP+DROP (cells per second)")
        if len(rates) == 1:
            rates = rates * 2
        if len(rates) != 2 or any(not math.isfinite(r) or r < 0 for r in rates) or sum(rates) == 0:
            raise Failure(f"--cover: '{part}' is not R or LOOP+DROP with rates of at least 0")
        out.append((rates[0], rates[1]))
    return out


def defences(mix=0.0, mix_max=0.0, loop=0.0, drop=0.0, padding=0.0):
    return {"mix_delay_ms": mix, "mix_delay_max_ms": mix_max, "loop_rate": loop,
            "drop_rate": drop, "poll_padding_ms": padding}


def describe(d):
    parts = []
    if d["mix_delay_ms"]:
        parts.append(f"mix μ={fmt_num(d['mix_delay_ms'])} ms"
                     + (f" (max {fmt_num(d['mix_delay_max_ms'])})" if d["mix_delay_max_ms"] else ""))
    if d["loop_rate"] or d["drop_rate"]:
        parts.append(f"cover λ={fmt_num(d['loop_rate'])}+{fmt_num(d['drop_rate'])}/s")
    if d["poll_padding_ms"]:
        parts.append(f"padding P={fmt_num(d['poll_padding_ms'])} ms")
    return ", ".join(parts) if parts else "none"


def slug(d):
    parts = []
    if d["mix_delay_ms"]:
        parts.append("mix" + fmt_num(d["mix_delay_ms"])
                     + (("-max" + fmt_num(d["mix_delay_max_ms"])) if d["mix_delay_max_ms"] else ""))
    if d["loop_rate"] or d["drop_rate"]:
        parts.append(f"cover{fmt_num(d['loop_rate'])}+{fmt_num(d['drop_rate'])}")
    if d["poll_padding_ms"]:
        parts.append("padding" + fmt_num(d["poll_padding_ms"]))
    return "-".join(parts) if parts else "none"


def parse_config(spec):
    """'mix=50,loop=0.5,drop=0.5,padding=500[,mix_max=250][,name=N]' -> (name, defences)."""
    keys = {"mix": "mix_delay_ms", "mix_max": "mix_delay_max_ms", "loop": "loop_rate",
            "drop": "drop_rate", "padding": "poll_padding_ms"}
    d = defences()
    name = None
    for item in spec.split(","):
        if "=" not in item:
            raise Failure(f"--config {spec}: '{item}' is not KEY=VALUE "
                          f"(keys: {', '.join(keys)}, name)")
        k, v = (s.strip() for s in item.split("=", 1))
        if k == "name":
            if not v or any(c in v for c in "/ \t"):
                raise Failure(f"--config {spec}: name must be non-empty, without '/' or spaces")
            name = v
            continue
        if k not in keys:
            raise Failure(f"--config {spec}: unknown key '{k}' (keys: {', '.join(keys)}, name)")
        try:
            d[keys[k]] = float(v)
        except ValueError:
            raise Failure(f"--config {spec}: {k}={v} is not a number")
        if not math.isfinite(d[keys[k]]) or d[keys[k]] < 0:
            raise Failure(f"--config {spec}: {k} must be at least 0")
    return name, d


def check_defences(d, where):
    """The simnet's own checks (simnet/scenario.cpp), so that a sweep fails before it starts."""
    if d["mix_delay_max_ms"] and not d["mix_delay_ms"]:
        raise Failure(f"{where}: mix_max set without mix")
    if d["mix_delay_max_ms"] and d["mix_delay_max_ms"] < d["mix_delay_ms"]:
        raise Failure(f"{where}: mix_max must be at least mix")
    if d["mix_delay_ms"] and not d["mix_delay_max_ms"] and d["mix_delay_ms"] * 5 > 10000:
        raise Failure(f"{where}: mix {fmt_num(d['mix_delay_ms'])} ms: 5 x the mean (the default "
                      "bound) is over 10000 ms; give mix_max with --config")
    if d["mix_delay_ms"] > 10000 or d["mix_delay_max_ms"] > 10000:
        raise Failure(f"{where}: mixing delays are at most 10000 ms")
    if d["loop_rate"] > 100 or d["drop_rate"] > 100:
        raise Failure(f"{where}: cover rates are at most 100 per second")
    if d["poll_padding_ms"] and not 50 <= d["poll_padding_ms"] <= 60000:
        raise Failure(f"{where}: poll padding must be 50..60000 ms")


def configurations(a):
    """The sweep, in order: (name, label, kind, defences)."""
    out = []
    if not a.skip_none:
        out.append(("none", "none", "none", defences()))
    for mu in parse_numbers(a.mix, "--mix"):
        out.append((None, None, "mix", defences(mix=mu)))
    for loop, drop in parse_cover(a.cover):
        out.append((None, None, "cover", defences(loop=loop, drop=drop)))
    for p in parse_numbers(a.padding, "--padding"):
        out.append((None, None, "padding", defences(padding=p)))
    for spec in a.config:
        name, d = parse_config(spec)
        out.append((name, None, "custom", d))
    result, seen = [], set()
    for name, label, kind, d in out:
        name = name or slug(d)
        label = label or describe(d)
        check_defences(d, f"configuration {name}")
        if name in seen:
            raise Failure(f"configuration {name} is in the sweep twice")
        seen.add(name)
        result.append({"name": name, "label": label, "kind": kind, "defences": d})
    if not result:
        raise Failure("the sweep is empty (every list was emptied and --skip-none given)")
    return result


# --- running the simnet -----------------------------------------------------------


class Lock:
    """Holds NIGHTJAR_BENCH_LOCK (flock, exclusive) while a run goes on, if set."""

    def __enter__(self):
        path = os.environ.get("NIGHTJAR_BENCH_LOCK")
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if path else None
        if self.fd is not None:
            log(f"waiting for the lock {path}")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            text = f.read().rstrip("\n").split("\n")
    except OSError:
        return "(no standard error)"
    text = [t for t in text if t.strip()]
    return "\n".join("    " + t for t in text[-lines:]) if text else "    (empty)"


def stop_group(proc):
    """Ends a run that went past its timeout, or that the user interrupted: SIGINT
    first (the simnet stops its network and nodes), then SIGTERM, then SIGKILL
    to its process group (the simnet and, in process mode, its nightjar-nodes)."""
    for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        try:
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass


def run_simnet(cmd, json_path, stdout_path, stderr_path, timeout_s):
    """Runs one simnet; returns (report, wall seconds). Raises Failure."""
    if os.path.exists(json_path):
        os.remove(json_path)  # a report left by an earlier sweep must not pass for this run's
    with Lock(), open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        started = time.monotonic()
        # A session of its own: a timeout can end the simnet and its node
        # processes together, and the terminal's Ctrl-C reaches only this script.
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            raise Failure(f"the run went past its timeout of {timeout_s:.0f} s and was stopped\n"
                          f"  command: {shlex.join(cmd)}\n  standard error ({stderr_path}):\n"
                          + tail(stderr_path))
        except KeyboardInterrupt:
            log("interrupted: stopping the running simnet")
            stop_group(proc)
            raise
        wall = time.monotonic() - started
    if proc.returncode != 0:
        raise Failure(f"nightjar-simnet exited with status {proc.returncode}\n"
                      f"  command: {shlex.join(cmd)}\n  standard error ({stderr_path}):\n"
                      + tail(stderr_path))
    try:
        with open(json_path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure(f"the run wrote no readable JSON report ({json_path}: {e})\n"
                      f"  command: {shlex.join(cmd)}\n  standard error:\n" + tail(stderr_path))
    if not isinstance(report.get("anonymity"), dict):
        raise Failure(f"the report {json_path} has no anonymity object: is this nightjar-simnet "
                      "built with the adversary models (run --adversary)?")
    return report, wall


def defence_unseen(d, anonymity):
    """The defences this configuration set that left no trace in the nodes'
    figures: a run whose defence did not take effect must not be reported as
    that defence. Uses the report's own check (defences_unseen) when the build
    has it, and the nodes' counters otherwise."""
    if isinstance(anonymity.get("defences_unseen"), list):
        return list(anonymity["defences_unseen"])
    cost = anonymity.get("cost") or {}
    unseen = []
    if d["mix_delay_ms"] and not cost.get("mix_released"):
        unseen.append("mixing delays")
    if (d["loop_rate"] or d["drop_rate"]) and cost.get("cover_cells") == 0:
        unseen.append("cover traffic")
    if d["poll_padding_ms"] and cost.get("padding_segments") == 0:
        unseen.append("poll padding")
    return unseen


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def simnet_version(path):
    try:
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        return r.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_state():
    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return {"commit": commit or None, "uncommitted_changes": bool(dirty)}
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "uncommitted_changes": None}


# --- composing --------------------------------------------------------------------


def counts_of(report):
    return {k: report.get(k) for k in ("planned", "sent", "acked", "send_failed", "unanswered",
                                       "delivered", "lost", "acked_lost", "duplicates")}


def fractions_of(results):
    """The fractions of nodes the compromised-node columns are for: as the simnet
    rounded them (count = round(fraction x nodes); fraction_of_nodes = count / nodes)."""
    for r in results:
        comp = r["anonymity"].get("compromised_nodes") or []
        if comp:
            return [c["fraction_of_nodes"] for c in comp]
    return []


def pct(v, digits=1):
    return "-" if v is None else f"{100 * v:.{digits}f}"


def num(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def signed(v):
    return "-" if v is None else f"{v:+,.0f}"


def table_rows(results, idle_columns=True):
    fractions = fractions_of(results)
    labels = [f"linked c={pct(f)}%" for f in fractions]
    labels = [f"{x} ({i + 1})" if labels.count(x) > 1 else x for i, x in enumerate(labels)]
    head = (["defence", "recv p50 ms", "recv p99 ms", "lost"] + labels
            + ["timing P", "timing R", "swarm bits seen/senders/max", "B/s per client"]
            + (["B/s per idle client", "idle: over none"] if idle_columns else []))
    rows = []
    for r in results:
        a = r["anonymity"]
        lat = r["latency_ms"]["received"]
        comp = a.get("compromised_nodes") or []
        t = a["timing_attack"]
        sv = a["swarm_view"]
        idle = r.get("idle") or {}
        row = [r["label"],
               num(lat.get("p50"), 1) if lat.get("count") else "-",
               num(lat.get("p99"), 1) if lat.get("count") else "-",
               f"{r['counts'].get('lost')}/{r['counts'].get('sent')}"]
        for i in range(len(fractions)):
            row.append(pct(comp[i]["linked_fraction"], 1) + "%" if i < len(comp) else "-")
        row += [f"{t['precision']:.3f}", f"{t['recall']:.3f}",
                f"{sv['seen_bits']:.2f}/{sv['sender_bits']:.2f}/{sv['max_bits']:.2f}",
                num(a["cost"]["client_bytes_per_s"])]
        if idle_columns:
            row += [num(idle.get("idle_client_bytes_per_s")), signed(idle.get("over_none_bytes_per_s"))]
        rows.append(row)
    return head, rows


def text_table(head, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def legend(settings, idle_ran):
    lines = [
        f"{settings['nodes']} nodes, {settings['clients']} clients, {fmt_num(settings['duration_s'])} s "
        f"workload, seed {settings['seed']}, {settings['mode']} mode.",
        "recv: send to the recipient's client having the message (ms); lost: never received / sent.",
        "linked c=X%: messages whose store had guard and destination among X% compromised nodes "
        f"(mean of {settings['trials']} random adversaries).",
        "timing P/R: the global passive observer's timing attack on client links, precision and recall.",
        "swarm bits: entropy of the last relays the recipient's swarm sees / of the true senders / "
        "log2 of the messages (per recipient, weighted by messages).",
        "B/s per client: bytes on a client's links (both directions), all clients of the main run, "
        "directory fetches included.",
    ]
    if idle_ran:
        lines.append(
            f"B/s per idle client: a separate run with --rate 0 ({fmt_num(settings['idle_duration_s'])} s; "
            "no client sends or receives a message): polls, link pings, directory fetches every "
            f"{fmt_num(settings['epoch_seconds'])} s epoch and the defence's own traffic.")
        lines.append("idle: over none: that figure minus the same for no defence: what the defence "
                     "itself costs an idle client.")
    return lines


def sybil_summary(report, cmd, json_path, out_path, out_dir, wall):
    """The Sybil run's figures, beside the random adversaries of the same run."""
    an = report["anonymity"]
    if not an.get("sybil"):
        raise Failure(f"the Sybil run reported no Sybil figures ({json_path})")
    return {
        "run": {"command": shlex.join(cmd), "json": os.path.relpath(json_path, out_dir),
                "summary_text": os.path.relpath(out_path, out_dir), "wall_s": round(wall, 1)},
        "sybil": an["sybil"],
        "random": an["compromised_nodes"],
        "messages": an["timing_attack"].get("messages"),
        "latency_ms": report["latency_ms"],
        "notes": report.get("notes", []),
    }


def sybil_lines(sy):
    s = sy["sybil"]
    first = "none linked" if s.get("first_link_s") is None else f"the first at {s['first_link_s']:.1f} s"
    lines = [f"Sybil run (no defence): {s['nodes']} adversary nodes joined at {fmt_num(s['join_s'])} s "
             f"of the workload: {pct(s['linked_fraction'], 2)}% of {sy.get('messages')} messages "
             f"linked ({first}), {pct(s['senders_linked_fraction'])}% of senders; "
             f"{pct(s['guard_exposure_fraction'])}% of clients used one as a guard."]
    for r in sy.get("random") or []:
        lines.append(f"  the same run, {pct(r['fraction_of_nodes'])}% of its first nodes held from the "
                     f"start: {pct(r['linked_fraction'], 2)}% linked, "
                     f"{pct(r['guard_exposure_fraction'])}% guard exposure.")
    return lines


# --- plots ------------------------------------------------------------------------


def gp_quote(s):
    return "'" + s.replace("'", "''") + "'"


def gp_title(title, sub):
    """A two-line title (a double-quoted gnuplot string: \\n is a new line)."""
    esc = lambda t: t.replace("\\", "\\\\").replace('"', '\\"')  # noqa: E731
    return '"' + esc(title) + "\\n" + esc(sub) + '"'


GP_HEAD = """set terminal svg size 760,560 dynamic noenhanced font 'sans,12'
set encoding utf8
set output {out}
set title {title}
set grid
set key below
"""


def write_plots(results, plot_dir, settings):
    """Writes data files and gnuplot scripts; runs gnuplot when it is installed.
    Returns a list of notes (what was drawn, what was skipped and why)."""
    os.makedirs(plot_dir, exist_ok=True)
    notes = []
    scripts = []
    sub = (f"{settings['nodes']} nodes, {settings['clients']} clients, "
           f"{fmt_num(settings['duration_s'])} s, seed {settings['seed']}")

    # 1. Attacker success against the fraction of nodes compromised, one line per configuration.
    with_comp = [r for r in results if r["anonymity"].get("compromised_nodes")]
    if with_comp:
        with open(os.path.join(plot_dir, "attacker_success.dat"), "w") as f:
            for i, r in enumerate(with_comp):
                f.write(f"# {r['label']}\n# c_percent linked_percent senders_linked_percent "
                        "guard_exposure_percent\n")
                for c in r["anonymity"]["compromised_nodes"]:
                    f.write(f"{100 * c['fraction_of_nodes']:.4f} {100 * c['linked_fraction']:.4f} "
                            f"{100 * c['senders_linked_fraction']:.4f} "
                            f"{100 * c['guard_exposure_fraction']:.4f}\n")
                f.write("\n\n")
        plots = ", ".join(f"'attacker_success.dat' index {i} using 1:2 with linespoints title "
                          f"{gp_quote(r['label'])}" for i, r in enumerate(with_comp))
        with open(os.path.join(plot_dir, "attacker_success.gp"), "w") as f:
            f.write(GP_HEAD.format(out=gp_quote("attacker_success.svg"),
                                   title=gp_title("Messages linked by c% compromised nodes", sub)))
            f.write("set xlabel 'compromised nodes c (% of nodes)'\n"
                    "set ylabel 'messages linked (%)'\nset xrange [0:*]\nset yrange [0:*]\n")
            f.write("plot " + plots + "\n")
        scripts.append("attacker_success.gp")

    # 2, 3. Timing attack against the mixing delay and against the cover rate,
    # from the configurations with only that defence (and no defence at 0).
    def series(kind, x_of, fname, xlabel, title):
        pts = [(0.0, r) for r in results if r["kind"] == "none"]
        pts += [(x_of(r["defences"]), r) for r in results if r["kind"] == kind]
        pts.sort(key=lambda p: p[0])
        if len([p for p in pts if p[1]["kind"] == kind]) < 1 or len(pts) < 2:
            notes.append(f"{fname}.svg: skipped (needs no defence and at least one {kind} "
                         "configuration in the sweep)")
            return
        with open(os.path.join(plot_dir, fname + ".dat"), "w") as f:
            f.write(f"# {xlabel}  precision  recall  (configuration)\n")
            for x, r in pts:
                t = r["anonymity"]["timing_attack"]
                f.write(f"{x:g} {t['precision']:.4f} {t['recall']:.4f}  # {r['label']}\n")
        with open(os.path.join(plot_dir, fname + ".gp"), "w") as f:
            f.write(GP_HEAD.format(out=gp_quote(fname + ".svg"), title=gp_title(title, sub)))
            f.write(f"set xlabel {gp_quote(xlabel)}\nset ylabel 'timing attack'\nset yrange [0:1]\n")
            f.write(f"plot '{fname}.dat' using 1:2 with linespoints title 'precision', "
                    f"'{fname}.dat' using 1:3 with linespoints title 'recall'\n")
        scripts.append(fname + ".gp")

    series("mix", lambda d: d["mix_delay_ms"], "timing_vs_mix",
           "mean mixing delay per hop μ (ms)", "Timing attack against mixing delays")
    series("cover", lambda d: d["loop_rate"] + d["drop_rate"], "timing_vs_cover",
           "cover rate λ = loop + drop (cells per second per client)",
           "Timing attack against cover traffic")

    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        notes.append("gnuplot is not installed: SVG plots skipped; the data files and gnuplot "
                     f"scripts are in {plot_dir} (run: cd {plot_dir} && gnuplot NAME.gp)")
        return notes
    for s in scripts:
        r = subprocess.run([gnuplot, s], cwd=plot_dir, capture_output=True, text=True, timeout=120)
        svg = os.path.join(plot_dir, s[:-3] + ".svg")
        if r.returncode != 0 or not os.path.exists(svg):
            notes.append(f"gnuplot failed on {s}: {r.stderr.strip()[-300:]}")
        else:
            notes.append(f"plot: {svg}")
    return notes


# --- main -------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="anonymity.py",
        description="Runs nightjar-simnet with --adversary over a sweep of defences (no defence, "
                    "mixing delays, cover traffic, poll padding) and composes the anonymity figures "
                    "of docs/ANONYMITY.md: a table, summary.json, each run's JSON, and plots.",
        epilog="Lists are comma-separated; an empty list ('') leaves that family out. The runs go "
               "one after another. See docs/ANONYMITY.md for what every figure means.")
    g = p.add_argument_group("the sweep")
    g.add_argument("--mix", default="50,200", metavar="MS,...",
                   help="mean per-hop mixing delays μ, one configuration each (default: 50,200)")
    g.add_argument("--cover", default="0.5,2", metavar="R|L+D,...",
                   help="cover rates, one configuration each: R is R loop + R drop cells per second "
                        "per client, L+D gives the two (default: 0.5,2)")
    g.add_argument("--padding", default="500", metavar="MS,...",
                   help="poll padding periods P, one configuration each (default: 500)")
    g.add_argument("--config", action="append", default=[], metavar="SPEC",
                   help="one more configuration, KEY=VALUE,... with keys mix, mix_max, loop, drop, "
                        "padding, name (e.g. mix=50,loop=0.5,drop=0.5,padding=500); repeatable")
    g.add_argument("--skip-none", action="store_true",
                   help="leave out the configuration without defences (no 'over none' column then)")
    g = p.add_argument_group("the network and workload (every run)")
    g.add_argument("--nodes", type=int, help=f"service nodes (default {DEFAULTS['nodes']}; "
                                             f"--quick: {QUICK['nodes']})")
    g.add_argument("--clients", type=int, help=f"clients (default {DEFAULTS['clients']}; "
                                               f"--quick: {QUICK['clients']})")
    g.add_argument("--duration", type=float, help=f"seconds of workload (default "
                                                  f"{fmt_num(DEFAULTS['duration'])}; --quick: "
                                                  f"{fmt_num(QUICK['duration'])})")
    g.add_argument("--quick", action="store_true",
                   help=f"a small sweep: {QUICK['nodes']} nodes, {QUICK['clients']} clients, "
                        f"{fmt_num(QUICK['duration'])} s (explicit --nodes/--clients/--duration win)")
    g.add_argument("--seed", type=int, default=1,
                   help="the simnet's seed (workload and adversaries; default: 1)")
    g.add_argument("--mode", choices=("inproc", "process"), default="process",
                   help="the simnet's mode (default: process: every node a nightjar-node process "
                        "of its own, as deployed; in one process a busy 100-node network with "
                        "cover traffic needs more file descriptors than common limits allow)")
    g.add_argument("--rate", type=float, help="messages per second per client (default: the "
                                              "scenario's, 0.5)")
    g.add_argument("--epoch-seconds", type=int, help="directory epoch (default: the scenario's, 2 s; "
                                                     "clients fetch the directory every epoch)")
    g.add_argument("--scenario", default=BASE_SCENARIO if os.path.exists(BASE_SCENARIO) else None,
                   help="base scenario file; its defences are ignored (the sweep sets them); "
                        "default: simnet/scenarios/anonymity.json")
    g = p.add_argument_group("the adversary models")
    g.add_argument("--fractions", default="0.05,0.1,0.2", metavar="F,...",
                   help="fractions of the nodes compromised (default: 0.05,0.1,0.2; the simnet "
                        "rounds each to whole nodes)")
    g.add_argument("--trials", type=int, default=20,
                   help="random adversaries per fraction, averaged (default: 20)")
    g.add_argument("--window-ms", type=float, help="timing attack window (default: the scenario's, 1000)")
    g.add_argument("--reply-guard-ms", type=float, help="timing attack reply guard (default 300)")
    g.add_argument("--carry-ms", type=float, help="timing attack carry (default 2000)")
    g.add_argument("--sybil", type=int, metavar="N",
                   help=f"one more run without defences in which N adversary nodes join during the "
                        f"workload (default {DEFAULTS['sybil']}; --quick: {QUICK['sybil']}; 0: no "
                        "Sybil run)")
    g.add_argument("--sybil-join", type=float, metavar="S",
                   help="seconds into the workload the Sybil nodes join (default: a third of "
                        "--duration)")
    g = p.add_argument_group("idle-client cost")
    g.add_argument("--idle-duration", type=float,
                   help="seconds of each idle run (--rate 0); default: the duration, at most 30; "
                        "0: no idle runs")
    g = p.add_argument_group("running")
    env_build = os.environ.get("NIGHTJAR_BUILD_DIR")
    default_simnet = os.path.join(env_build or os.path.join(REPO, "build"), "bin", "nightjar-simnet")
    g.add_argument("--simnet", default=default_simnet,
                   help="the nightjar-simnet binary ($NIGHTJAR_BUILD_DIR/bin/nightjar-simnet when "
                        f"NIGHTJAR_BUILD_DIR is set; default here: {default_simnet})")
    g.add_argument("--out", default="anonymity-results",
                   help="output directory (default: anonymity-results)")
    g.add_argument("--timeout", type=float,
                   help="seconds each run may take before it is stopped and the sweep fails "
                        "(default: 2 x (duration + drain) + ready timeout + 120)")
    g.add_argument("--dry-run", action="store_true", help="print the runs' commands and stop")
    return p.parse_args(argv)


def load_base(path):
    if path is None:
        return {}
    try:
        with open(path) as f:
            base = json.load(f)
    except (OSError, ValueError) as e:
        raise Failure(f"--scenario {path}: {e}")
    if not isinstance(base, dict):
        raise Failure(f"--scenario {path}: expected one JSON object")
    return base


def main(argv):
    a = parse_args(argv)
    started_utc = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()

    size = QUICK if a.quick else DEFAULTS
    nodes = size["nodes"] if a.nodes is None else a.nodes
    clients = size["clients"] if a.clients is None else a.clients
    duration = size["duration"] if a.duration is None else a.duration
    if nodes < 1 or clients < 1 or duration <= 0:
        raise Failure("--nodes, --clients and --duration must be above 0")
    idle_duration = min(duration, 30.0) if a.idle_duration is None else a.idle_duration
    if idle_duration < 0:
        raise Failure("--idle-duration must be at least 0")
    fractions = parse_numbers(a.fractions, "--fractions")
    if not fractions or any(f > 1 for f in fractions) or len(fractions) > 20:
        raise Failure("--fractions: 1 to 20 fractions of the nodes, each in (0, 1]")
    if not 1 <= a.trials <= 1000:
        raise Failure("--trials: 1..1000")
    configs = configurations(a)
    sybil_nodes = size["sybil"] if a.sybil is None else a.sybil
    sybil_join = float(round(duration / 3)) if a.sybil_join is None else a.sybil_join
    if sybil_nodes < 0 or sybil_nodes > 1000:
        raise Failure("--sybil: 0..1000 nodes")
    if sybil_nodes and not 0 <= sybil_join < duration:
        raise Failure("--sybil-join: from 0 to below --duration")

    if not (os.path.isfile(a.simnet) and os.access(a.simnet, os.X_OK)):
        raise Failure(f"no nightjar-simnet at {a.simnet}: build it (scripts/build.sh, or cmake "
                      "--build build --target nightjar-simnet), or give --simnet PATH or "
                      "NIGHTJAR_BUILD_DIR")
    simnet = os.path.abspath(a.simnet)

    # The scenario every run reads: the base, without its defences (each
    # configuration writes its own), with the adversary settings of the sweep.
    base = load_base(a.scenario)
    base_defences = base.pop("defences", None)
    adv = dict(base.get("adversary") or {})
    adv.update({"enabled": True, "fractions": fractions, "trials": a.trials})
    for key, v in (("window_ms", a.window_ms), ("reply_guard_ms", a.reply_guard_ms),
                   ("carry_ms", a.carry_ms)):
        if v is not None:
            adv[key] = v
    base["adversary"] = adv
    if a.epoch_seconds is not None:
        base["epoch_seconds"] = a.epoch_seconds
    drain = float(base.get("drain_s", 20))
    ready_timeout = float(base.get("ready_timeout_s", 60))
    settle = float(base.get("settle_s", 0))
    epoch = base.get("epoch_seconds", 2)

    def timeout_for(d):
        return a.timeout or 2 * (d + drain) + ready_timeout + settle + 120

    out_dir = os.path.abspath(a.out)
    runs_dir = os.path.join(out_dir, "runs")
    plot_dir = os.path.join(out_dir, "plots")
    if not a.dry_run:
        os.makedirs(runs_dir, exist_ok=True)

    common = ["--nodes", str(nodes), "--clients", str(clients), "--seed", str(a.seed),
              "--mode", a.mode, "--adversary", "--no-progress"]
    if a.rate is not None:
        common += ["--rate", fmt_num(a.rate)]

    plan = []  # (config, which, command, json, stdout, stderr, timeout)
    sybil_config = {"name": "sybil", "label": f"Sybil: {sybil_nodes} nodes join at "
                    f"{fmt_num(sybil_join)} s", "kind": "sybil", "defences": defences()}
    for c in configs:
        scen = dict(base)
        d = c["defences"]
        scen["defences"] = {k: v for k, v in d.items() if v}
        scen_path = os.path.join(runs_dir, c["name"] + ".scenario.json")
        c["scenario_file"] = os.path.relpath(scen_path, out_dir)
        if not a.dry_run:
            with open(scen_path, "w") as f:
                json.dump(scen, f, indent=2)
                f.write("\n")
        for which in ("main", "idle"):
            if which == "idle" and idle_duration == 0:
                continue
            stem = c["name"] if which == "main" else c["name"] + ".idle"
            json_path = os.path.join(runs_dir, stem + ".json")
            cmd = [simnet, "run", "--scenario", scen_path] + common
            if which == "main":
                cmd += ["--duration", fmt_num(duration)]
            else:
                cmd += ["--duration", fmt_num(idle_duration), "--rate", "0"]
            cmd += ["--json", json_path]
            plan.append((c, which, cmd, json_path, os.path.join(runs_dir, stem + ".txt"),
                         os.path.join(runs_dir, stem + ".stderr.txt"),
                         timeout_for(duration if which == "main" else idle_duration)))
    if sybil_nodes:
        # Without defences (they change no path, so none of the Sybil figures).
        scen_path = os.path.join(runs_dir, "sybil.scenario.json")
        sybil_config["scenario_file"] = os.path.relpath(scen_path, out_dir)
        if not a.dry_run:
            with open(scen_path, "w") as f:
                json.dump(dict(base), f, indent=2)
                f.write("\n")
        json_path = os.path.join(runs_dir, "sybil.json")
        cmd = [simnet, "run", "--scenario", scen_path] + common + [
            "--duration", fmt_num(duration), "--sybil-nodes", str(sybil_nodes),
            "--sybil-join", fmt_num(sybil_join), "--json", json_path]
        plan.append((sybil_config, "sybil", cmd, json_path, os.path.join(runs_dir, "sybil.txt"),
                     os.path.join(runs_dir, "sybil.stderr.txt"), timeout_for(duration)))

    settings = {"nodes": nodes, "clients": clients, "duration_s": duration, "seed": a.seed,
                "mode": a.mode, "fractions": fractions, "trials": a.trials,
                "timing_attack": {k: adv.get(k) for k in ("window_ms", "reply_guard_ms", "carry_ms")},
                "rate_per_client": a.rate if a.rate is not None
                else (base.get("messages") or {}).get("rate_per_client", 0.5),
                "epoch_seconds": epoch, "drain_s": drain, "idle_duration_s": idle_duration,
                "sybil_nodes": sybil_nodes, "sybil_join_s": sybil_join if sybil_nodes else None,
                "base_scenario": os.path.abspath(a.scenario) if a.scenario else None}

    if a.dry_run:
        for c, which, cmd, *_ in plan:
            print(f"# {c['label']} ({which})\n{shlex.join(cmd)}")
        return 0

    if base_defences:
        log(f"the base scenario's defences {base_defences} are ignored: each configuration sets its own")
    est = sum(idle_duration if w == "idle" else duration for _, w, *_ in plan)
    log(f"{len(configs)} configurations, {len(plan)} runs of {nodes} nodes and {clients} clients, "
        f"one after another (at least {est / 60:.0f} min of workload); results in {out_dir}")

    summary = {
        "tool": "scripts/anonymity.py",
        "command_line": shlex.join([sys.executable, os.path.relpath(os.path.abspath(__file__))]
                                   + list(argv)),
        "argv": list(argv),
        "seed": a.seed,
        "started_utc": started_utc.isoformat(timespec="seconds"),
        "simnet": {"path": simnet, "version": simnet_version(simnet), "sha256": sha256_of(simnet),
                   "modified_utc": datetime.datetime.fromtimestamp(
                       os.path.getmtime(simnet), datetime.timezone.utc).isoformat(timespec="seconds")},
        "git": git_state(),
        "settings": settings,
        "configurations": [],
        "complete": False,
        "failure": None,
    }
    summary_path = os.path.join(out_dir, "summary.json")

    def save_summary():
        summary["elapsed_s"] = round(time.monotonic() - t0, 1)
        with open(summary_path + ".tmp", "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        os.replace(summary_path + ".tmp", summary_path)

    results = {}
    failure = None
    try:
        for i, (c, which, cmd, json_path, out_path, err_path, timeout_s) in enumerate(plan, 1):
            log(f"[{i}/{len(plan)}] {c['label']} ({which}{', --rate 0' if which == 'idle' else ''}): "
                f"running, at most {timeout_s:.0f} s")
            report, wall = run_simnet(cmd, json_path, out_path, err_path, timeout_s)
            log(f"[{i}/{len(plan)}] done in {wall:.1f} s")
            if which == "sybil":
                summary["sybil"] = sybil_summary(report, cmd, json_path, out_path, out_dir, wall)
                save_summary()
                continue
            unseen = defence_unseen(c["defences"], report["anonymity"])
            if unseen:
                raise Failure(f"{c['label']} ({which}): {', '.join(unseen)} set, but the nodes' "
                              f"figures show none ({json_path}): the run did not have the defence, "
                              "so its figures are not that defence's")
            r = results.setdefault(c["name"], {**c})
            run_info = {"command": shlex.join(cmd), "json": os.path.relpath(json_path, out_dir),
                        "summary_text": os.path.relpath(out_path, out_dir),
                        "wall_s": round(wall, 1)}
            if which == "main":
                r["run"] = run_info
                r["latency_ms"] = report["latency_ms"]
                r["counts"] = counts_of(report)
                r["anonymity"] = report["anonymity"]
                r["notes"] = report.get("notes", [])
                r["paths"] = {k: report.get("paths", {}).get(k) for k in
                              ("paths", "distinct_guards", "guards_per_client")}
            else:
                a_idle = report["anonymity"]
                r["idle"] = {
                    "run": run_info,
                    "idle_client_bytes_per_s": a_idle["cost"].get("idle_client_bytes_per_s"),
                    "client_bytes_per_s": a_idle["cost"].get("client_bytes_per_s"),
                    "recorded_s": a_idle["record"].get("recorded_s"),
                    "requests": a_idle["record"].get("requests"),
                    "client_frames": a_idle["record"].get("client_frames"),
                    "sent": report.get("sent"),
                    "notes": report.get("notes", []),
                }
            summary["configurations"] = [results[k] for k in results]
            save_summary()
    except Failure as e:
        failure = str(e)
    except KeyboardInterrupt:
        failure = "interrupted"

    done = [results[c["name"]] for c in configs
            if c["name"] in results and "anonymity" in results[c["name"]]]

    # Idle cost over no defence, and the cover rate the idle runs show (their
    # requests are polls and cover cells only).
    none_idle = (results.get("none") or {}).get("idle")
    for r in done:
        idle = r.get("idle")
        if not idle:
            continue
        if none_idle and idle.get("idle_client_bytes_per_s") is not None \
                and none_idle.get("idle_client_bytes_per_s") is not None:
            idle["over_none_bytes_per_s"] = round(
                idle["idle_client_bytes_per_s"] - none_idle["idle_client_bytes_per_s"], 1)
            if idle.get("recorded_s"):
                idle["cover_cells_per_s_per_client"] = round(
                    (idle["requests"] - none_idle["requests"]) / clients / idle["recorded_s"], 3)
        else:
            idle["over_none_bytes_per_s"] = None

    summary["configurations"] = [results[c["name"]] for c in configs if c["name"] in results]
    try:
        changed = sha256_of(simnet) != summary["simnet"]["sha256"]
    except OSError:
        changed = True
    if changed:
        summary["simnet"]["changed_during_sweep"] = True
        log(f"WARNING: {simnet} changed during the sweep (rebuilt?): the runs may come from "
            "different builds; copy the binary elsewhere and give --simnet for a consistent sweep")
    summary["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    # Files first, then the terminal: a closed standard output (| head) must
    # not cost the table, the plots or the summary.
    report_lines = []
    if done:
        head, rows = table_rows(done, idle_columns=idle_duration > 0)
        lines = legend(settings, idle_duration > 0)
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write(markdown_table(head, rows) + "\n\n" + "\n".join("- " + x for x in lines) + "\n")
        summary["table"] = {"head": head, "rows": rows, "legend": lines}
        notes = write_plots(done, plot_dir, settings)
        summary["plots"] = notes
        report_lines += ["", text_table(head, rows), ""] + ["  " + x for x in lines] + [""]
        report_lines += ["  " + n for n in notes]
        for r in done:
            idle = r.get("idle") or {}
            asked = r["defences"]["loop_rate"] + r["defences"]["drop_rate"]
            if asked > 0 and idle.get("cover_cells_per_s_per_client") is not None:
                report_lines.append(f"  {r['label']}: idle run measured "
                                    f"{idle['cover_cells_per_s_per_client']:.2f} cover cells/s per "
                                    f"client (asked {fmt_num(asked)})")
        for r in done:
            for n in r.get("notes") or []:
                report_lines.append(f"  note ({r['label']}): {n}")
            for n in (r.get("idle") or {}).get("notes") or []:
                report_lines.append(f"  note ({r['label']}, idle): {n}")
    if summary.get("sybil"):
        lines = sybil_lines(summary["sybil"])
        with open(os.path.join(out_dir, "table.md"), "a") as f:
            f.write("\n" + "\n".join(lines) + "\n")
        report_lines += [""] + ["  " + x for x in lines]

    if failure:
        summary["failure"] = failure
    else:
        summary["complete"] = True
    save_summary()
    if not failure:
        report_lines.append(f"\n  {len(plan)} runs in {summary['elapsed_s'] / 60:.1f} min; "
                            f"{summary_path}, {os.path.join(out_dir, 'table.md')}, raw reports in "
                            f"{runs_dir}")
    try:
        for line in report_lines:
            print(line, flush=True)
    except BrokenPipeError:
        # The reader went away (| head); the files have everything. Later
        # writes, and the one at exit, go nowhere instead of failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if failure:
        print(f"\nanonymity: FAILED: {failure}", file=sys.stderr)
        print(f"anonymity: what was done is in {summary_path}", file=sys.stderr)
        return 1
    return 0


def _terminated(signum, frame):
    # SIGTERM and SIGHUP end the sweep as Ctrl-C does: the running simnet (in
    # a session of its own, which no signal to this script reaches) is
    # stopped first, and summary.json says what was done.
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print(f"anonymity: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("anonymity: interrupted", file=sys.stderr)
        sys.exit(130)
