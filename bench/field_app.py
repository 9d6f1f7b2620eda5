"""The phone app (/field/) in Debian's Chromium: shell size, first load on a slow link, reopening
offline, the offline reveal (scrypt) and hashing a 5 MB photo.

The real server (bench/sync_ingest.Served: migrated SQLite, reference data, werkzeug on loopback)
serves the built app (`make install` builds field_app/dist). Playwright drives Chromium:

* shell_gzip: every file the service worker caches (build.json's list plus sw.js), each gzipped
  at level 9 as a server would send it, summed. Target ≤ 300 KB.
* first_load: a new profile on a throttled 3G link (CDP network emulation: 1.6 Mbit/s down,
  750 kbit/s up, 150 ms latency, the cache disabled), from navigation until the app has replaced
  its "正在打开…" placeholder. Target ≤ 5 s.
* reopen_offline: the same profile once the service worker controls the page, the network off,
  a reload until the app is shown again. Target ≤ 1 s.
* reveal: the app's own envelope code (field_app/src/envelope.js, bundled for the bench) opening
  an envelope sealed by `sealing.envelope.seal` with the production scrypt parameters, with the
  reveal code, in the page. Target ≤ 2 s.
* hash_5mb: the app's SHA-256 (field_app/src/digest.js, WebCrypto) of a 5 MB Blob. Target ≤ 1 s.

Each timed figure is the median of --runs runs (default 5). Run:
    .venv/bin/python bench/field_app.py [--runs N]
Prints the headline figures last, one per line, as `name: value unit`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_ingest import Served  # noqa: E402

from sealing import envelope  # noqa: E402

DIST = ROOT / "field_app" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# "Regular 3G" as Chromium's DevTools defines it: 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency.
THROTTLED_3G = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
APP_SHOWN = "() => document.querySelector('#app') && !document.querySelector('#app .loading')"
# The bench page gets the app's own crypto modules, bundled from source, as a global.
BENCH_ENTRY = """
import { openWithCode } from "./src/envelope.js";
import { sha256Hex } from "./src/digest.js";
globalThis.anfangBench = { openWithCode, sha256Hex };
"""


def shell_gzip_bytes() -> tuple[int, int]:
    built = json.loads((DIST / "build.json").read_text())
    names = [*built["files"], "sw.js"]
    raw = sum((DIST / name).stat().st_size for name in names)
    return raw, sum(len(gzip.compress((DIST / name).read_bytes(), 9)) for name in names)


def bench_bundle(workdir: Path) -> str:
    entry = ROOT / "field_app" / "bench-entry.mjs"
    out = workdir / "bench.js"
    entry.write_text(BENCH_ENTRY)
    try:
        subprocess.run([str(ROOT / "field_app" / "node_modules" / ".bin" / "esbuild"), str(entry), "--bundle",
                        "--format=iife", f"--outfile={out}", "--log-level=warning"], check=True, cwd=ROOT / "field_app")
    finally:
        entry.unlink()
    return out.read_text()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (DIST / "build.json").is_file():
        print("现场应用尚未构建：请先运行 make install。", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    raw, zipped = shell_gzip_bytes()
    print(f"shell: {raw / 1024:.1f} KB as built, {zipped / 1024:.1f} KB gzipped")
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        served = Served(f"sqlite:///{workdir / 'bench.sqlite3'}", workdir)
        bundle = bench_bundle(workdir)
        assignment = str(uuid.uuid4())
        code = envelope.new_reveal_code()
        sealed = envelope.seal({"name": "某某KTV", "address": "某县某镇某路 1 号", "approved_capacity": 12},
                               secrets.token_bytes(32), code, assignment).decode("ascii")
        first_loads, reopens, reveals, hashes = [], [], [], []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                for _ in range(args.runs):
                    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                                  has_touch=True, locale="zh-CN")
                    page = context.new_page()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                    cdp.send("Network.emulateNetworkConditions", THROTTLED_3G)
                    started = time.perf_counter()
                    page.goto(f"{served.url}/field/", wait_until="commit")
                    page.wait_for_function(APP_SHOWN, timeout=60_000)
                    first_loads.append(time.perf_counter() - started)
                    # The shell is cached once the worker is active and controls the page.
                    page.evaluate("navigator.serviceWorker.ready")
                    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
                    cdp.send("Network.emulateNetworkConditions", {**THROTTLED_3G, "offline": True})
                    context.set_offline(True)
                    started = time.perf_counter()
                    page.reload(wait_until="commit")
                    page.wait_for_function(APP_SHOWN, timeout=60_000)
                    reopens.append(time.perf_counter() - started)
                    context.close()

                context = browser.new_context(bypass_csp=True)
                page = context.new_page()
                page.goto(f"{served.url}/field/")
                page.add_script_tag(content=bundle)
                for _ in range(args.runs):
                    seconds = page.evaluate("""async ([sealed, code, id]) => {
                        const started = performance.now();
                        const target = await anfangBench.openWithCode(sealed, code, id);
                        if (target.approved_capacity !== 12) throw new Error("wrong target");
                        return (performance.now() - started) / 1000; }""", [sealed, code.lower().replace("-", ""),
                                                                           assignment])
                    reveals.append(seconds)
                expected = page.evaluate("""async () => {
                    const bytes = new Uint8Array(5 * 1024 * 1024);
                    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
                    globalThis.photo = new Blob([bytes], {type: "image/jpeg"});
                    const digest = await crypto.subtle.digest("SHA-256", bytes);
                    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""); }""")
                for _ in range(args.runs):
                    seconds, digest = page.evaluate("""async () => {
                        const started = performance.now();
                        const digest = await anfangBench.sha256Hex(globalThis.photo);
                        return [(performance.now() - started) / 1000, digest]; }""")
                    if digest != expected:
                        print("哈希结果与 WebCrypto 直接计算的不一致。", file=sys.stderr)
                        return 1
                    hashes.append(seconds)
                context.close()
                browser.close()
        finally:
            served.stop()

    print(f"runs: {args.runs}; first load {', '.join(f'{s:.2f}' for s in first_loads)} s;"
          f" reopen offline {', '.join(f'{s * 1000:.0f}' for s in reopens)} ms;"
          f" reveal {', '.join(f'{s * 1000:.0f}' for s in reveals)} ms;"
          f" hash {', '.join(f'{s * 1000:.0f}' for s in hashes)} ms")
    print(f"shell_gzip: {zipped / 1024:.1f} KB")
    print(f"first_load_3g: {statistics.median(first_loads):.2f} s")
    print(f"reopen_offline: {median_ms(reopens):.0f} ms")
    print(f"reveal_scrypt: {median_ms(reveals):.0f} ms")
    print(f"hash_5mb: {median_ms(hashes):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
