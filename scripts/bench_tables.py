#!/usr/bin/env python3
"""Prints the figures of a scripts/bench.sh result file as Markdown tables,
for docs/BENCHMARKS.md:  python3 scripts/bench_tables.py docs/bench-results.json
"""
import json
import sys


def f(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def table(rows):
    out = ["| figure | value | ratio | ratio to |", "| --- | --- | --- | --- |"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out)


def main(path):
    r = json.load(open(path))
    p, m = r["primitives"], r["machine"]
    d = r.get("derived", {})
    print(f"Run of {r['date']} (commit {r['commit']}), {'quick' if r['quick'] else 'full'}: "
          f"{m['cpu_model']}, {m['nproc']} cores, {m['mem_gib']} GiB, Linux {m['kernel']}, "
          f"{m['build_type']} build; bench.sh took {r['elapsed_s']} s, waits for the lock included"
          + (f" (pieces: {', '.join(f'{k} {v} s' for k, v in r['piece_seconds'].items())})"
             if r.get("piece_seconds") else "") + ".\n")
    print("### Units (primitives_bench)\n")
    print(table([
        ("X25519 scalar multiplication", f"{f(p['x25519_us'], 2)} µs ({f(p['x25519_per_s'], 0)}/s)", "1", "-"),
        ("ChaCha20-Poly1305 seal, 1032 bytes", f"{f(p['aead_seal_us'], 3)} µs",
         f(p['aead_seal_us'] / p['x25519_us'], 3), "X25519"),
        ("Ed25519 verify", f"{f(p['ed25519_verify_us'], 2)} µs",
         f(p['ed25519_verify_us'] / p['x25519_us'], 2), "X25519"),
        ("empty process (libsodium linked), resident", f"{f(p['rss_floor_mb'], 2)} MB", "1", "-"),
    ]))
    o = r.get("onion", {})
    if "ratio" in o:
        print("\n### Onion cells (onion_bench, one core)\n")
        print(table([
            (f"peels per CPU-second ({o['cell_bytes']}-byte cells)", f(o["peel_per_s"], 0),
             f(o["ratio"], 3), "peel bound (raw calls of one peel)"),
            ("", "", f(o["x25519_ratio"], 3), "bare X25519 (same run, onion_bench's own)"),
            ("reply wraps per CPU-second", f(o["reply_wrap_per_s"], 0), f(o["reply_wrap_ratio"], 3),
             "its raw calls"),
            ("build a 4-hop cell", f"{f(o['build_us'], 1)} µs", f(d.get("onion_build_in_x25519"), 2),
             "X25519 (primitives)"),
        ]))
    e = r.get("envelope", {})
    if "v1_seal_x25519" in e:
        print("\n### Envelopes (envelope_bench, one core): version 2 against version 1\n")
        rows = []
        for key, label in (("v1_seal", "v1 seal (signed, sealed sender)"), ("v1_open", "v1 open"),
                           ("v2_seal", "v2 seal, ratchet message in the same chain"),
                           ("v2_open", "v2 open, same chain"),
                           ("v2_step", "v2 message with a DH step (seal + open)"),
                           ("v2_first", "v2 first message (X3DH + seal + open)")):
            rows.append((label + " per CPU-second", f(e[key + "_per_s"], 0), f(e[key + "_x25519"], 2),
                         "X25519 per message (same run)"))
        rows.append(("bytes added to a body", f"v1 {e['overhead_v1']}, v2 {e['overhead_v2']} "
                     f"(first {e['overhead_v2_first']})", "-", "-"))
        rows.append((f"body bytes per {e['max_body_bytes']}-byte envelope",
                     f"v1 {e['capacity_v1']}, v2 {e['capacity_v2']} (first {e['capacity_v2_first']})",
                     "-", "-"))
        print(table(rows))
    g = r.get("group", {})
    if "send_10_x25519" in g:
        print("\n### Closed groups (group_bench, one core)\n")
        rows = []
        for n in (10, 100, 1000):
            rows.append((f"{n} members: send a message (seal + store request + onion cell)", "-",
                         f(g[f"send_{n}_x25519"], 2), "X25519 per message (same run)"))
        for n in (10, 100, 1000):
            rows.append((f"{n} members: a member opens it", "-", f(g[f"open_{n}_x25519"], 2),
                         "X25519 per message (same run)"))
        for n in (10, 100, 1000):
            rows.append((f"{n} members: remove one ({f(g[f'remove_{n}_messages'], 0)} 1:1 messages)",
                         "-", f(g[f"remove_{n}_x25519"], 0), "X25519 across the group"))
        print(table(rows))
    s = r.get("store", {})
    if "stores_ratio" in s:
        print("\n### Store (store_bench, RocksDB on the disk)\n")
        rows = [
            (f"durable stores per second, {s.get('stores_in_flight', 256)} in flight "
             f"(the writer, group commit; {f(s.get('writer_batch_mean'), 0)} per batch)",
             f(s["stores_per_s"], 0), f(s["stores_ratio"], 1), "raw write + fdatasync"),
            ("durable stores per second, one at a time (one fsync each)",
             f(s.get("serial_stores_per_s"), 0), f(s.get("serial_ratio"), 3),
             "raw write + fdatasync"),
            (f"durable stores per second, batches of {s['batch_size']}",
             f(s["batch_stores_per_s"], 0), f(s["batch_ratio"], 3), f"{s['batch_size']} raw fdatasyncs"),
            (f"retrieve 100 of {f(s['messages'])} messages, p50 / p99",
             f"{f(s['retrieve_p50_ms'], 3)} / {f(s['retrieve_p99_ms'], 3)} ms",
             f(d.get("store_retrieve_p50_in_x25519"), 2), "X25519 (p50)"),
        ]
        for prefix, how in (("replicated", "straight to a member"),
                            ("replicated_onion", "through 3 relays")):
            if s.get(f"{prefix}_stores_per_s") is None:
                continue
            rows += [
                (f"stores acknowledged by a quorum ({s['replicated_quorum']} of "
                 f"{s['replicated_members']}) of a real swarm, {how}, "
                 f"{s.get('replicated_in_flight')} in flight, per second",
                 f(s[f"{prefix}_stores_per_s"], 0), f(s[f"{prefix}_disk_ratio"], 2),
                 f"fsync rate ({s['replicated_members']} synced replicas each)"),
                ("the same, process CPU per store", "",
                 f(s.get(f"{prefix}_cpu_per_store_x25519"), 1), "X25519 (same run)"),
                ("the same, send to acknowledgement p50 / p99",
                 f"{f(s[f'{prefix}_ack_p50_ms'], 1)} / {f(s[f'{prefix}_ack_p99_ms'], 1)} ms", "", ""),
            ]
        if s.get("relay_rtt_p99_idle_ms") is not None:
            rows += [
                ("relay round trip through a node, p99, idle",
                 f"{f(s['relay_rtt_p99_idle_ms'], 2)} ms", f(s.get("relay_rtt_p99_idle_x25519"), 0),
                 "X25519 (same run)"),
                (f"the same while it absorbs {f(s.get('load_stores_per_s'), 0)} stores/s",
                 f"{f(s['relay_rtt_p99_under_store_load_ms'], 2)} ms",
                 f(s.get("relay_rtt_load_factor"), 2), "idle p99"),
            ]
        print(table(rows))
    rl = r.get("relay", {})
    if "ratio" in rl:
        print("\n### Relay forwarding (relay_bench, one relay process, TCP on loopback)\n")
        print(table([
            ("cells forwarded per CPU-second of the relay", f(rl["forwarded_per_relay_cpu_s"], 0),
             f(rl["ratio"], 3), "peel bound"),
            ("relay CPU per cell", f"{f(rl['relay_cpu_per_cell_us'], 1)} µs",
             f(d.get("relay_cpu_per_cell_in_x25519"), 2), "X25519"),
            ("cells forwarded per wall-clock second", f(rl["forwarded_per_s"], 0),
             f(rl["wall_ratio"], 3), "peel bound"),
            ("error replies (overloaded) / lost", f"{rl['relay_errors']} / {rl['lost']}", "", ""),
        ]))
    im, fm = r.get("idle_memory", {}), r.get("flood_memory", {})
    rows = []
    if "node_rss_median_mb" in im:
        rows.append((f"idle nightjar-node, median of {im['nodes']} (min / max {f(im['node_rss_min_mb'], 1)}"
                     f" / {f(im['node_rss_max_mb'], 1)})", f"{f(im['node_rss_median_mb'], 1)} MB",
                     f(im["node_rss_median_in_floor"], 2), "empty process"))
    if "target_rss_max_mb" in fm:
        rows.append(("flooded node, idle before the flood", f"{f(fm['target_rss_idle_mb'], 1)} MB",
                     f(d.get("flood_target_rss_idle_in_floor"), 2), "empty process"))
        rows.append(("flooded node, peak under the flood", f"{f(fm['target_rss_max_mb'], 1)} MB",
                     f(d.get("flood_target_rss_max_in_floor"), 2), "empty process"))
    elif fm:
        rows.append(("node under flood", fm.get("skipped") or fm.get("failed"), "", ""))
    if rows:
        print("\n### Memory\n")
        print(table(rows))
    e = r.get("e2e", {})
    if "fixed_load" in e:
        fl, mr = e["fixed_load"], e["max_rate"]
        print(f"\n### End to end (simnet, {e['nodes']} nodes, {e['clients']} clients, "
              f"{e['size_bytes']}-byte messages)\n")
        rec, sto = fl["received_ms"], fl["stored_ms"]
        print(table([
            (f"send to recipient's client at {f(fl['messages_per_s'])} messages/s, p50 / p90 / p99",
             f"{f(rec['p50'], 1)} / {f(rec['p90'], 1)} / {f(rec['p99'], 1)} ms",
             f"{f(fl['received_p50_in_x25519'])} / {f(fl['received_p90_in_x25519'])} / "
             f"{f(fl['received_p99_in_x25519'])}", "X25519"),
            ("send to quorum acknowledgement, p50 / p90 / p99",
             f"{f(sto['p50'], 1)} / {f(sto['p90'], 1)} / {f(sto['p99'], 1)} ms", "", ""),
            (f"messages sent / lost ({fl['duration_s']} s)", f"{fl['sent']} / {fl['lost']}", "", ""),
            ("highest rate with p99 <= 100 ms, nothing lost", f"{f(mr['messages_per_s'])} messages/s",
             f(mr["x25519_per_message_of_machine"]), "X25519 of the machine's cores per message"),
            ("first rate that failed", f(mr["first_failing_messages_per_s"]), "", ""),
            ("CPU per message at that rate (all in)", f"{f(mr['cpu_per_message_us'], 0)} µs",
             f(mr["cpu_per_message_x25519"]), "X25519"),
            ("CPU per additional message (marginal)", f"{f(mr['marginal_cpu_per_message_us'], 0)} µs",
             f(mr["marginal_cpu_per_message_x25519"]), "X25519"),
        ]))
        print("\nRate search: " + "; ".join(
            f"{s['messages_per_s']}/s: p99 {f(s['received_p99_ms'], 1)} ms, {s['lost']} lost, "
            f"{'ok' if s['ok'] else 'failed'}" for s in mr["steps"]) + ".")
    g = r.get("growth", {})
    if "points" in g:
        print(f"\n### Growth (simnet, {g['clients']} clients, {g['messages_per_s']} messages/s in all, "
              f"{g['duration_s']} s)\n")
        print("| nodes | delivered / sent | CPU per message | in X25519 | cores busy | received p50 / p99 | resident |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for pt in g["points"]:
            print(f"| {pt['nodes']} | {pt['delivered']} / {pt['sent']} | "
                  f"{f(pt['cpu_per_message_us'] / 1000, 2)} ms | {f(pt['cpu_per_message_x25519'])} | "
                  f"{f(pt.get('cores_busy'), 2)} | {f(pt['received_ms']['p50'], 1)} / "
                  f"{f(pt['received_ms']['p99'], 1)} ms | {f(pt['rss_mb'], 0)} MB |")
    sc = r.get("scale", {})
    if "runs" in sc:
        print(f"\n### Scale (in-process simnet, {sc['clients']} clients, {sc['messages_per_s']} "
              f"messages/s, {sc['duration_s']} s)\n")
        print(f"Largest network with zero loss: **{sc['largest_zero_loss_nodes']} nodes**, "
              f"{f(sc['rss_per_node_mb'], 2)} MB per node ({f(sc['rss_per_node_in_floor'], 2)} "
              "empty processes).\n")
        print("| nodes | ok | sent / lost | ready | received p50 / p99 | resident | per node |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for run in sc["runs"]:
            if "error" in run:
                print(f"| {run['nodes']} | no | {run['error']} | | | | |")
                continue
            print(f"| {run['nodes']} | {'yes' if run['ok'] else 'no'} | {run['sent']} / {run['lost']} | "
                  f"{f(run['ready_s'], 1)} s | {f(run['received_ms']['p50'], 1)} / "
                  f"{f(run['received_ms']['p99'], 1)} ms | {f(run['rss_mb'], 0)} MB | "
                  f"{f(run['rss_per_node_mb'], 2)} MB |")


if __name__ == "__main__":
    main(sys.argv[1])
