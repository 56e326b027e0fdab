"""Derived figures (overhead vs direct, ratios vs LiteLLM, targets) and the markdown report.

Everything here works from the plain results dict that is also written as JSON, so a saved
result can be re-rendered later with ``python bench/run.py --render bench/results/<file>``.
"""

from __future__ import annotations

from typing import Any

# The targets. They are reported, never asserted: a slow run still prints its table.
TARGET_ADDED_P50_MS = 1.0
TARGET_PRODUCTION_ADDED_P50_MS = 2.0
TARGET_TTFB_MS = 1.0
TARGET_THROUGHPUT_RATIO = 20.0
TARGET_WORKER_RSS_MB = 120.0

SCENARIO_TITLES = {"chat": "chat", "stream": "stream (SSE)"}
TTFB_TITLES = {"stream": "nginx, canned SSE", "paced": "mock, paced SSE"}


# -- derived figures ----------------------------------------------------------------------


def _cells(results: dict[str, Any]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(r["scenario"], r["connections"], r["system"]): r for r in results.get("load", [])}


def _ok(cell: dict[str, Any] | None) -> bool:
    return cell is not None and "failed" not in cell


def add_overheads(results: dict[str, Any]) -> None:
    """Added latency of each system over the direct upstream, same scenario and concurrency."""
    cells = _cells(results)
    for row in results.get("load", []):
        base = cells.get((row["scenario"], row["connections"], "direct"))
        if row["system"] == "direct" or not _ok(row) or not _ok(base):
            continue
        assert base is not None
        row["added_p50_ms"] = round(row["p50_ms"] - base["p50_ms"], 3)
        row["added_p99_ms"] = round(row["p99_ms"] - base["p99_ms"], 3)
    ttfb = {(r["scenario"], r["system"]): r for r in results.get("ttfb", [])}
    for row in results.get("ttfb", []):
        base = ttfb.get((row["scenario"], "direct"))
        if row["system"] == "direct" or base is None or not row.get("ok") or not base.get("ok"):
            continue
        for pct in ("p50_ms", "p99_ms"):
            mine, theirs = row["ttfb"][pct], base["ttfb"][pct]
            if mine is not None and theirs is not None:
                row[f"added_ttfb_{pct}"] = round(mine - theirs, 3)


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    if mine is None or theirs is None or theirs <= 0:
        return None
    return round(mine / theirs, 3)


def add_litellm_ratios(results: dict[str, Any]) -> None:
    """gateway / LiteLLM for throughput and added latency, at equal worker counts."""
    systems = {s["name"]: s for s in results.get("systems", [])}
    cells = _cells(results)
    ratios = []
    for row in results.get("load", []):
        system = systems.get(row["system"], {})
        if system.get("kind") != "gateway" or not _ok(row):
            continue
        other = cells.get((row["scenario"], row["connections"], f"litellm w{system['workers']}"))
        if not _ok(other):
            continue
        assert other is not None
        ratios.append(
            {
                "gateway": row["system"],
                "litellm": other["system"],
                "workers": system["workers"],
                "scenario": row["scenario"],
                "connections": row["connections"],
                "rps_ratio": _ratio(row["rps"], other["rps"]),
                "added_p50_ratio": _ratio(row.get("added_p50_ms"), other.get("added_p50_ms")),
                "added_p99_ratio": _ratio(row.get("added_p99_ms"), other.get("added_p99_ms")),
                "litellm_errors": other["errors"]["total"],
            }
        )
    results["vs_litellm"] = ratios


def add_targets(results: dict[str, Any]) -> None:
    systems = {s["name"]: s for s in results.get("systems", [])}
    gateways = [s for s in results.get("systems", []) if s["kind"] == "gateway"]
    bare_w1 = next(
        (s["name"] for s in gateways if s["profile"] == "bare" and s["workers"] == 1), None
    )
    cells = _cells(results)
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        targets.append({"target": name, "measured": measured, "met": met})

    row = cells.get(("chat", 1, bare_w1 or ""))
    added = row.get("added_p50_ms") if row else None
    add(
        f"bare w1, chat c=1: added p50 <= {TARGET_ADDED_P50_MS:g} ms",
        "n/a" if added is None else f"{added:+.3f} ms",
        None if added is None else added <= TARGET_ADDED_P50_MS,
    )
    production_w1 = next(
        (s["name"] for s in gateways if s["profile"] == "production" and s["workers"] == 1), None
    )
    if production_w1 is not None:
        row = cells.get(("chat", 1, production_w1))
        added = row.get("added_p50_ms") if row else None
        add(
            f"production w1, chat c=1: added p50 <= {TARGET_PRODUCTION_ADDED_P50_MS:g} ms",
            "n/a" if added is None else f"{added:+.3f} ms",
            None if added is None else added <= TARGET_PRODUCTION_ADDED_P50_MS,
        )
    top = max((r["connections"] for r in results.get("load", [])), default=None)
    bare = {s["name"] for s in gateways if s["profile"] == "bare"}
    for ratio in results.get("vs_litellm", []):
        # The throughput target is the bare proxy's; production's ratio is in its own table.
        if ratio["scenario"] == "chat" and ratio["connections"] == top and ratio["gateway"] in bare:
            value = ratio["rps_ratio"]
            add(
                f"{ratio['gateway']}, chat c={top}: RPS >= {TARGET_THROUGHPUT_RATIO:g}x "
                f"{ratio['litellm']}",
                "n/a" if value is None else f"{value:.1f}x",
                None if value is None else value >= TARGET_THROUGHPUT_RATIO,
            )
    if not any(r["scenario"] == "chat" for r in results.get("vs_litellm", [])):
        add(f"chat c={top}: RPS >= {TARGET_THROUGHPUT_RATIO:g}x LiteLLM", "LiteLLM not run", None)
    for row in results.get("ttfb", []):
        if row["system"] == bare_w1:
            added = row.get("added_ttfb_p50_ms")
            add(
                f"bare w1 stream TTFB p50 ({TTFB_TITLES[row['scenario']]}) within "
                f"{TARGET_TTFB_MS:g} ms of direct",
                "n/a" if added is None else f"{added:+.3f} ms",
                None if added is None else added <= TARGET_TTFB_MS,
            )
    for name, peak in results.get("memory", {}).items():
        if systems.get(name, {}).get("kind") == "gateway":
            largest = peak["peak_process_mb"]
            add(
                f"{name}: RSS per worker < {TARGET_WORKER_RSS_MB:g} MB (largest process)",
                f"{largest:.1f} MB",
                largest < TARGET_WORKER_RSS_MB,
            )
    leak = results.get("leak", {})
    if "growth_mb" in leak:
        add(
            f"no RSS growth from {leak['growth_from']:,} to {leak['growth_to']:,} requests "
            f"(noise {leak['noise_mb']:g} MB)",
            f"{leak['growth_mb']:+.2f} MB",
            leak["flat"],
        )
    else:
        why = leak.get("skipped") or leak.get("failed", "n/a")
        add("no RSS growth 50k -> 150k requests", why, None)
    gateway_names = {s["name"] for s in gateways}
    mine = [r for r in results.get("load", []) if r["system"] in gateway_names and _ok(r)]
    errors = sum(r["errors"]["total"] for r in mine)
    errors += sum(r["errors"] for r in results.get("ttfb", []) if r["system"] in gateway_names)
    errors += leak.get("errors", 0)
    add("gateway errors (non-2xx, socket, timeout, broken streams) = 0", str(errors), errors == 0)
    results["targets"] = targets


def derive(results: dict[str, Any]) -> None:
    add_overheads(results)
    add_litellm_ratios(results)
    add_targets(results)


# -- markdown -----------------------------------------------------------------------------


def ms(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    digits = 3 if abs(value) < 1 else 2 if abs(value) < 100 else 1
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def ratio(value: float | None) -> str:
    """Two significant digits below 1 (0.0042x), three above (62.3x)."""
    if value is None:
        return "-"
    return f"{value:.2g}x" if abs(value) < 1 else f"{value:.3g}x"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _load_table(results: dict[str, Any]) -> str:
    rows = []
    for r in results.get("load", []):
        if "failed" in r:
            rows.append(
                [
                    SCENARIO_TITLES.get(r["scenario"], r["scenario"]),
                    str(r["connections"]),
                    r["system"],
                    "failed: " + r["failed"][:80],
                    *["-"] * 6,
                ]
            )
            continue
        errors = r["errors"]
        detail = ", ".join(f"{k} {v}" for k, v in errors.items() if k != "total" and v)
        rows.append(
            [
                SCENARIO_TITLES.get(r["scenario"], r["scenario"]),
                str(r["connections"]),
                r["system"],
                f"{r['rps']:,.0f}",
                ms(r["p50_ms"]),
                ms(r["p90_ms"]),
                ms(r["p99_ms"]),
                ms(r.get("added_p50_ms"), signed=True),
                ms(r.get("added_p99_ms"), signed=True),
                f"{errors['total']}" + (f" ({detail})" if detail else ""),
            ]
        )
    header = [
        "scenario",
        "conc",
        "system",
        "RPS",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "+p50 ms",
        "+p99 ms",
        "errors",
    ]
    return table(header, rows)


def _ttfb_table(results: dict[str, Any]) -> str:
    rows = []
    for r in results.get("ttfb", []):
        rows.append(
            [
                TTFB_TITLES.get(r["scenario"], r["scenario"]),
                r["system"],
                ms(r["ttfb"]["p50_ms"]),
                ms(r["ttfb"]["p99_ms"]),
                ms(r.get("added_ttfb_p50_ms"), signed=True),
                ms(r.get("added_ttfb_p99_ms"), signed=True),
                ms(r["total"]["p50_ms"]),
                f"{r['errors']}/{r['requests']}",
            ]
        )
    header = [
        "upstream",
        "system",
        "TTFB p50 ms",
        "TTFB p99 ms",
        "+p50 ms",
        "+p99 ms",
        "whole stream p50 ms",
        "errors",
    ]
    return table(header, rows)


def _memory_table(results: dict[str, Any]) -> str:
    rows = []
    systems = {s["name"]: s for s in results.get("systems", [])}
    for name, peak in results.get("memory", {}).items():
        workers = systems.get(name, {}).get("workers") or 1
        rows.append(
            [
                name,
                str(peak["processes"]),
                f"{peak['peak_total_mb']:.1f}",
                f"{peak['peak_total_mb'] / workers:.1f}",
                f"{peak['peak_process_mb']:.1f}",
            ]
        )
    header = ["system", "processes", "peak tree RSS MB", "tree / workers MB", "largest process MB"]
    return table(header, rows)


def _litellm_table(results: dict[str, Any]) -> str:
    rows = [
        [
            r["gateway"],
            r["litellm"],
            SCENARIO_TITLES.get(r["scenario"], r["scenario"]),
            str(r["connections"]),
            ratio(r["rps_ratio"]),
            ratio(r["added_p50_ratio"]),
            ratio(r["added_p99_ratio"]),
            str(r["litellm_errors"]),
        ]
        for r in results.get("vs_litellm", [])
    ]
    header = [
        "gateway",
        "vs",
        "scenario",
        "conc",
        "RPS gateway/LiteLLM",
        "+p50 gateway/LiteLLM",
        "+p99 gateway/LiteLLM",
        "LiteLLM errors",
    ]
    return table(header, rows)


def _leak_table(leak: dict[str, Any]) -> str:
    readings = leak.get("readings", [])
    if not readings:
        return ""
    first = readings[1]["rss_mb"] if len(readings) > 1 else readings[0]["rss_mb"]
    rows = [
        [
            f"{r['requests']:,}",
            f"{r['rss_mb']:.1f}",
            ms(r["rss_mb"] - first, signed=True) if r["requests"] else "-",
            f"{r['rps']:,.0f}" if "rps" in r else "-",
        ]
        for r in readings
    ]
    return table(["after requests", "RSS MB", "change since first checkpoint MB", "leg RPS"], rows)


def _targets_table(results: dict[str, Any]) -> str:
    marks = {True: "yes", False: "**no**", None: "n/a"}
    rows = [[t["target"], t["measured"], marks[t["met"]]] for t in results.get("targets", [])]
    return table(["target (reported, not asserted)", "measured", "met"], rows)


def markdown(results: dict[str, Any]) -> str:
    machine = results.get("machine", {})
    knobs = results.get("knobs", {})
    parts = [
        f"## Gateway benchmark {results.get('date', '')}"
        + (" (quick smoke run)" if results.get("quick") else ""),
        f"{machine.get('nproc')} CPUs ({machine.get('cpu_model')}), Python "
        f"{machine.get('python')}, gateway {machine.get('gateway_version')} "
        f"({(machine.get('gateway_commit') or 'unknown')[:12]}), LiteLLM "
        f"{machine.get('litellm_version') or 'not run'}, {machine.get('nginx')}, "
        f"{machine.get('wrk')}. wrk: {knobs.get('duration')}s per cell after "
        f"{knobs.get('warmup')}s warm-up, closed loop; +p50/+p99 = added over direct.",
        "### Throughput and latency (wrk)",
        _load_table(results),
        f"### Streams: time to first `data:` byte ({knobs.get('ttfb_requests')} sequential "
        "requests on one connection)",
        _ttfb_table(results),
        "### Memory (peak resident set over the whole run, all processes of the tree)",
        _memory_table(results),
    ]
    if results.get("vs_litellm"):
        parts += ["### Gateway vs LiteLLM (same worker count)", _litellm_table(results)]
    leak = results.get("leak", {})
    if leak.get("readings"):
        parts += [
            f"### Leak check ({leak.get('system', 'gateway')}, chat, c={leak.get('connections')})",
            _leak_table(leak),
        ]
    parts += ["### Targets", _targets_table(results)]
    notes = list(results.get("notes", []))
    for system in results.get("systems", []):
        if system.get("unavailable"):
            lines = system["unavailable"].strip().splitlines() or ["?"]
            reason = lines[0] + (f" ... {lines[-1][:300]}" if len(lines) > 1 else "")
            notes.append(f"{system['name']} unavailable: {reason}")
        for scenario, why in (system.get("broken") or {}).items():
            notes.append(f"{system['name']} skipped {scenario}: {why[:200]}")
    if leak.get("skipped") or leak.get("failed"):
        notes.append(f"leak check: {leak.get('skipped') or leak.get('failed')}")
    if results.get("error"):
        notes.append(f"the run stopped early: {results['error'].strip().splitlines()[-1]}")
    if notes:
        parts += ["### Notes", "\n".join(f"- {note}" for note in notes)]
    return "\n\n".join(parts) + "\n"
