#!/usr/bin/env python3
"""The side-by-side table of one benchmark run, from its metric lines.

  report.py RAW_FILE

RAW_FILE holds `label metric value unit` lines (s3bench.py's, one label per server, and
run.sh's `limits` lines) and `# key value` lines describing the run. Prints a markdown
table: one row per metric, a column per server and one for the machine's limits, and a
target column with the ratio and PASS or FAIL. A figure from a phase that had errors is
marked and fails its target: errors must not pass for speed.
"""
import statistics
import sys
from collections import defaultdict

MiB = 1024 * 1024


def load(path):
    values, meta, order = defaultdict(dict), {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                key, _, value = line[1:].strip().partition(" ")
                meta[key] = value.strip()
                continue
            parts = line.split()
            if len(parts) < 3:
                continue
            label, metric, value = parts[:3]
            if label not in order:
                order.append(label)
            try:
                values[label][metric] = float(value)
            except ValueError:
                values[label][metric] = value
    return values, meta, [label for label in order if label != "limits"]


def size(n):
    return f"{n / 1024 ** 3:g} GiB" if n >= 1024 ** 3 else f"{n / MiB:g} MiB"


def number(x):
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if x >= 1 else f"{x:.3f}"


def runs(text):
    """`a,b,c` to a range note, e.g. ` (700–900)`."""
    if not isinstance(text, str) or "," not in text:
        return ""
    xs = [float(x) for x in text.split(",")]
    return f" ({number(min(xs))}–{number(max(xs))})"


class Table:
    def __init__(self, values, meta, servers):
        self.v, self.meta, self.servers = values, meta, servers
        self.rows, self.verdicts = [], []

    def get(self, label, metric):
        x = self.v.get(label, {}).get(metric)
        return x if isinstance(x, float) else None

    def errors(self, label, phase):
        if phase is None:
            return 0
        return int(self.get(label, f"{phase}_errors") or 0)

    def cell(self, label, metric, phase, suffix="", bytes_metric=None, row_bytes=None):
        x = self.get(label, metric)
        if x is None:
            return "failed" if self.v.get(label, {}).get("failed") is not None else "–"
        text = number(x) + runs(self.v[label].get(suffix)) if suffix else number(x)
        own = self.get(label, bytes_metric) if bytes_metric else None
        if own and row_bytes and own != row_bytes:
            text += f" ({size(own)} only)"
        bad = self.errors(label, phase)
        return f"{text} ⚠ {bad} errors" if bad else text

    def verdict(self, what, ratio, goal, errors=0):
        """A target cell; a goal of 1 or more reads as a multiple (2×), below 1 as a share (90%)."""
        show = (lambda x: f"{x:.2f}×") if goal >= 1 else (lambda x: f"{x:.0%}")
        result = "n/a" if ratio is None else "FAIL (errors)" if errors else "PASS" if ratio >= goal else "FAIL"
        self.verdicts.append(result)
        wanted = f"{goal:g}×" if goal >= 1 else f"{goal:.0%}"
        return f"{what} {'–' if ratio is None else show(ratio)} (≥ {wanted}) **{result}**"

    def ratio(self, a, b, invert=False):
        if a is None or b is None or a == 0 or b == 0:
            return None
        return b / a if invert else a / b

    def row(self, name, metric, phase=None, limit="", target="", suffix="", bytes_metric=None, row_bytes=None):
        cells = [self.cell(s, metric, phase, suffix, bytes_metric, row_bytes) for s in self.servers]
        self.rows.append([name, *cells, limit, target])

    def count(self, runs_metric):
        """` of N` for the number of runs a figure is taken from, or nothing for one."""
        n = max((len(str(self.v[x].get(runs_metric, "")).split(",")) for x in self.servers), default=1)
        return f" of {n}" if n > 1 else ""

    def pair(self, name, first, second, phase):
        cells = []
        for s in self.servers:
            a, b = self.get(s, first), self.get(s, second)
            bad = self.errors(s, phase)
            cells.append("–" if a is None else f"{number(a)} / {number(b)}" + (" ⚠" if bad else ""))
        self.rows.append([name, *cells, "", ""])

    def build(self):
        s, L = "strata", "limits"
        sw = "seaweedfs"
        errors = lambda *phases: sum(self.errors(label, p) for label in (s, sw) for p in phases)
        conns = self.meta.get("connections", "16")

        target = ""
        if sw in self.servers and s in self.servers:
            target = self.verdict("strata/SeaweedFS", self.ratio(self.get(s, "put4k_ops_s"), self.get(sw, "put4k_ops_s")),
                                  2, errors=errors("put4k"))
        self.row(f"4 KiB PUT, ops/s ({conns} connections)", "put4k_ops_s", "put4k", "", target)
        self.pair("4 KiB PUT p50 / p99, ms", "put4k_p50_ms", "put4k_p99_ms", "put4k")

        # nginx's rate with loadgen and with wrk: the target takes the higher (the stricter).
        loadgen, wrk = self.get(L, "nginx_4k_ops_s"), self.get(L, "nginx_4k_wrk_ops_s")
        nginx = max(loadgen or 0, wrk or 0) or None
        limit = f"nginx static: {number(loadgen)}" if loadgen else ""
        if wrk:
            limit += f" (wrk: {number(wrk)})"
        target = []
        if sw in self.servers and s in self.servers:
            target.append(self.verdict("strata/SeaweedFS", self.ratio(self.get(s, "get4k_ops_s"), self.get(sw, "get4k_ops_s")),
                                       3, errors=errors("get4k")))
        if nginx and s in self.servers:
            target.append(self.verdict("strata/nginx", self.ratio(self.get(s, "get4k_ops_s"), nginx), 0.5,
                                       errors=self.errors(s, "get4k")))
        self.row("4 KiB GET, ops/s", "get4k_ops_s", "get4k", limit, "<br>".join(target))
        self.pair("4 KiB GET p50 / p99, ms", "get4k_p50_ms", "get4k_p99_ms", "get4k")
        self.row("HEAD, ops/s", "head4k_ops_s", "head4k")
        self.pair("HEAD p50 / p99, ms", "head4k_p50_ms", "head4k_p99_ms", "head4k")

        large = next((self.get(x, "large_bytes") for x in self.servers if self.get(x, "large_bytes")), None)
        large_name = size(large) if large else "large"
        dd = self.get(L, "dd_fdatasync_mib_s")
        limit = f"dd fdatasync: {number(dd)}{runs(self.v[L].get('dd_fdatasync_runs'))}" if dd else ""
        if self.get(L, "curl_put_sink_mib_s"):
            limit += f"<br>curl to a discarding nginx: {number(self.get(L, 'curl_put_sink_mib_s'))}"
        target = ""
        if dd and s in self.servers:
            target = self.verdict("strata/dd", self.ratio(self.get(s, "put_large_mib_s"), dd), 0.9,
                                  errors=self.errors(s, "large"))
        n = self.count("put_large_runs")
        self.row(f"{large_name} PUT, MiB/s (median{n})", "put_large_mib_s", "large", limit, target, "put_large_runs")

        ngl = self.get(L, "nginx_large_get_mib_s")
        limit = f"nginx sendfile: {number(ngl)}{runs(self.v[L].get('nginx_large_get_runs'))}" if ngl else ""
        target = ""
        if ngl and s in self.servers:
            target = self.verdict("strata/nginx", self.ratio(self.get(s, "get_large_mib_s"), ngl), 0.9,
                                  errors=self.errors(s, "large"))
        self.row(f"{large_name} GET, MiB/s (median{n})", "get_large_mib_s", "large", limit, target, "get_large_runs")

        # Encrypted transfers (Strata only): SSE-S3 GET against Strata's own plain GET,
        # SSE-C PUT against its own plain PUT.
        if s in self.servers and self.get(s, "get_sse_s3_mib_s") is not None:
            plain_get, plain_put = self.get(s, "get_large_mib_s"), self.get(s, "put_large_mib_s")
            for kind, name in (("sse_s3", "SSE-S3"), ("sse_c", "SSE-C")):
                target = ""
                if kind == "sse_c" and plain_put:
                    target = self.verdict("SSE-C PUT/plain PUT", self.ratio(self.get(s, "put_sse_c_mib_s"), plain_put), 1.0,
                                          errors=self.errors(s, "encrypted"))
                self.row(f"{large_name} {name} PUT, MiB/s (median{n})", f"put_{kind}_mib_s", "encrypted", "", target,
                         f"put_{kind}_runs")
                target = ""
                if kind == "sse_s3" and plain_get:
                    target = self.verdict("SSE-S3 GET/plain GET", self.ratio(self.get(s, "get_sse_s3_mib_s"), plain_get), 0.6,
                                          errors=self.errors(s, "encrypted"))
                self.row(f"{large_name} {name} GET, MiB/s (median{n})", f"get_{kind}_mib_s", "encrypted", "", target,
                         f"get_{kind}_runs")

        mp = max((self.get(x, "multipart_bytes") or 0 for x in self.servers), default=0)
        self.row(f"{size(mp) if mp else ''} multipart upload, MiB/s", "multipart_mib_s", "multipart",
                 bytes_metric="multipart_bytes", row_bytes=mp)

        keys = next((self.get(x, "list_keys") for x in self.servers if self.get(x, "list_keys")), None)
        target = ""
        if sw in self.servers and s in self.servers:
            target = self.verdict("SeaweedFS/strata time", self.ratio(self.get(s, "list_s"), self.get(sw, "list_s"), True),
                                  3, errors=errors("list"))
        self.row(f"ListObjectsV2 through {number(keys) if keys else '?'} keys, s (best{self.count('list_runs')})",
                 "list_s", "list", "",
                 target, "list_runs")

        self.row("server peak RSS (VmHWM), MiB", "rss_peak_mib")
        target = ""
        end = self.get(s, "rss_end_mib")
        if s in self.servers:
            result = "n/a" if end is None else ("PASS" if end < 100 else "FAIL")
            self.verdicts.append(result)
            target = f"strata {number(end)} MiB (< 100 MiB) **{result}**"
        self.row("server RSS after the benchmark (VmRSS), MiB", "rss_end_mib", None, "", target)
        self.pair("server / client CPU in 4 KiB GET, % of a core", "get4k_server_cpu_pct", "get4k_client_cpu_pct", None)
        if self.get(L, "nginx_4k_client_cpu_pct") is not None:
            self.rows[-1][-2] = (f"nginx: {number(self.get(L, 'nginx_4k_server_cpu_pct'))} / "
                                 f"{number(self.get(L, 'nginx_4k_client_cpu_pct'))}")
        self.pair(f"server CPU in {large_name} PUT / GET, % of a core", "put_large_server_cpu_pct",
                  "get_large_server_cpu_pct", None)
        if self.get(L, "nginx_large_get_server_cpu_pct") is not None:
            self.rows[-1][-2] = f"nginx GET: {number(self.get(L, 'nginx_large_get_server_cpu_pct'))}"

    def markdown(self):
        header = ["metric", *self.servers, "limits (this machine)", "target"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        passed = self.verdicts.count("PASS")
        lines.append("")
        lines.append(f"Targets: {passed} of {len(self.verdicts)} PASS.")
        for label in self.servers:
            if self.v[label].get("failed") is not None:
                lines.append(f"{label}: the run stopped early ({self.v[label].get('failed_in', 'see the log')}); "
                             "its missing figures say `failed`.")
        return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    table = Table(*load(sys.argv[1]))
    table.build()
    print(table.markdown())


if __name__ == "__main__":
    main()
