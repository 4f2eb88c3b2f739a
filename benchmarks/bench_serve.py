"""`faststyle serve` under load, on loopback only: throughput and latency at 1-16 clients, a burst of 24.

    python benchmarks/bench_serve.py [--style wave] [--photo P.jpg] [--max-size 512] [--requests 3]

Starts a real server process on a free loopback port with its default bounds, then:
- the baseline: the same photo painted by the Python API in this process, one after another;
- for 1, 2, 4, 8 and 16 clients, each sending --requests requests one after another (bounded by
  --level-seconds): painted per second, p50/p95 latency of the 200s, and how many were told 503;
- a burst: 24 requests at once; every one must be answered 200 or 503/429 (none dropped, no other
  5xx), at least 4 painted, the server alive afterwards;
- the server's peak memory (VmHWM).
Times mean something only within one run on one host; the CPU is printed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faststyle.machine import cpu_summary  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, query: str, body: bytes) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("POST", f"/stylize?{query}", body=body, headers={"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        response.read()
        status = response.status
        conn.close()
    except OSError:
        status = 0  # dropped: no answer at all
    return status, time.perf_counter() - start


def level(port: int, query: str, body: bytes, clients: int, per_client: int, seconds: float) -> dict:
    results: list[tuple[int, float]] = []
    lock, stop_at = threading.Lock(), time.monotonic() + seconds

    def client() -> None:
        for _ in range(per_client):
            if time.monotonic() > stop_at:
                return
            answer = request(port, query, body)
            with lock:
                results.append(answer)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ok = sorted(t for s, t in results if s == 200)
    return {"clients": clients, "sent": len(results), "200": len(ok),
            "503/429": sum(s in (503, 429) for s, _ in results),
            "other": sum(s not in (200, 503, 429) for s, _ in results),
            "per_s": len(ok) / wall if wall else 0.0,
            "p50": statistics.median(ok) if ok else float("nan"),
            "p95": ok[min(len(ok) - 1, int(0.95 * len(ok)))] if ok else float("nan")}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="wave")
    parser.add_argument("--photo", help="a JPEG photo (default: the bundled astronaut)")
    parser.add_argument("--max-size", type=int, default=512)
    parser.add_argument("--requests", type=int, default=3, help="per client and level")
    parser.add_argument("--level-seconds", type=float, default=120.0)
    parser.add_argument("--fast", action="store_true", help="the lite networks")
    args = parser.parse_args()

    import faststyle
    from faststyle.styles import sample_image_path

    photo = Path(args.photo) if args.photo else sample_image_path("astronaut")
    body = photo.read_bytes()
    query = f"style={args.style}&max_size={args.max_size}&fast={str(args.fast).lower()}"
    print(f"CPU: {cpu_summary()}; {os.cpu_count()} cores")
    print(f"photo {photo.name}, painted at {args.max_size} px, style {args.style}{' (lite)' if args.fast else ''}\n")

    model = faststyle.load_style(args.style, fast=args.fast)
    faststyle.stylize(str(photo), model, max_size=args.max_size)  # warm
    start, count = time.perf_counter(), 5
    for _ in range(count):
        faststyle.stylize(str(photo), model, max_size=args.max_size)
    baseline = count / (time.perf_counter() - start)

    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    server = subprocess.Popen([sys.executable, "-m", "faststyle", "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                health = json.loads(conn.getresponse().read())
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start: " + Path(log.name).read_text()[-500:])
                time.sleep(0.2)
        print(f"server: {health['painters']} painter(s), default queue; baseline (Python API, in process): "
              f"{baseline:.2f} pictures/s\n")
        print("| clients | sent | 200 | 503/429 | other | painted/s | vs API | p50 (s) | p95 (s) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        request(port, query, body)  # warm the server's session
        for clients in (1, 2, 4, 8, 16):
            r = level(port, query, body, clients, args.requests, args.level_seconds)
            print(f"| {clients} | {r['sent']} | {r['200']} | {r['503/429']} | {r['other']} | {r['per_s']:.2f} | "
                  f"{r['per_s'] / baseline:.2f}x | {r['p50']:.2f} | {r['p95']:.2f} |", flush=True)
        burst = level(port, query, body, 24, 1, args.level_seconds)
        alive = server.poll() is None and request(port, query, body)[0] == 200
        print(f"\nburst of 24 at once: {burst['200']} painted, {burst['503/429']} told 503/429, "
              f"{burst['other']} other (dropped or 5xx); server alive afterwards: {alive}")
        print(f"server peak memory: {peak_rss_mb(server.pid):.0f} MB")
        ok = burst["other"] == 0 and burst["200"] >= 4 and alive and burst["sent"] == 24
        print("burst check:", "pass" if ok else "FAIL")
    finally:
        server.terminate()
        server.wait(timeout=60)
        os.unlink(log.name)


if __name__ == "__main__":
    main()
