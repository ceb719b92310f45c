#!/usr/bin/env python3
"""An echo bot on Nightjar's JSON-RPC API (docs/JSONRPC.md), standard library only.

It connects to a running `nightjar daemon` (its Unix socket, by default
$NIGHTJAR_PROFILE/daemon.sock or ~/.local/share/nightjar/daemon.sock),
subscribes, and answers every one-to-one message with "echo: TEXT" (group
messages are left alone). It prints one line per answer on standard output
and ends when the daemon goes away, on Ctrl-C, or after --max answers.

    nightjar daemon &
    contrib/echo-bot.py --max 10
"""
import argparse
import json
import os
import socket
import sys


def default_socket():
    profile = os.environ.get("NIGHTJAR_PROFILE")
    if not profile:
        data = os.environ.get("XDG_DATA_HOME")
        if data and data.startswith("/"):
            profile = os.path.join(data, "nightjar")
        else:
            profile = os.path.join(os.path.expanduser("~"), ".local", "share", "nightjar")
    return os.path.join(profile, "daemon.sock")


class Rpc:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.next_id = 0

    def call(self, method, params=None):
        """Sends a request; the answer comes back among the lines read."""
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            request["params"] = params
        self.sock.sendall((json.dumps(request) + "\n").encode("utf-8"))
        return self.next_id

    def lines(self):
        for line in self.reader:
            line = line.strip()
            if line:
                yield json.loads(line)


def main():
    parser = argparse.ArgumentParser(description="Answer every message with its echo.")
    parser.add_argument("--socket", default=default_socket(), help="the daemon's socket")
    parser.add_argument("--max", type=int, default=0, help="stop after this many answers (0: never)")
    parser.add_argument("--prefix", default="echo: ", help="put before each echoed text")
    args = parser.parse_args()
    try:
        rpc = Rpc(args.socket)
    except OSError as e:
        print(f"echo-bot: cannot connect to {args.socket}: {e.strerror}", file=sys.stderr)
        return 1
    subscribed = rpc.call("subscribe")
    answered = 0
    try:
        for msg in rpc.lines():
            if msg.get("id") == subscribed:
                print("ready", flush=True)
                continue
            if "error" in msg:
                print(f"echo-bot: {msg['error'].get('message')}", file=sys.stderr)
                continue
            if msg.get("method") != "message":
                continue
            note = msg["params"]
            if "group" in note or note.get("encoding") != "utf-8":
                continue
            rpc.call("send", {"to": note["sender"], "text": args.prefix + note["text"]})
            answered += 1
            who = note.get("sender_name") or note["sender"][:12]
            print(f"answered {who}", flush=True)
            if args.max and answered >= args.max:
                break
    except KeyboardInterrupt:
        pass
    # The last answer's result: wait for it before leaving.
    if answered:
        for msg in rpc.lines():
            if msg.get("id") == rpc.next_id:
                if "error" in msg:
                    print(f"echo-bot: {msg['error'].get('message')}", file=sys.stderr)
                    return 1
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
