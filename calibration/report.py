"""A sysid report a person can open anywhere: one HTML file with its figure embedded, plus the PNG.

No CDN, no JavaScript: the overlay of measured and simulated joint trajectories (before and after
the fit) is a matplotlib PNG, embedded in the HTML as base64 and also written next to it. The
HTML carries the parameter table (value, 95% interval, DR range), the per-joint residuals, and
every note about what was done to the data (repairs, gaps, initial-state fits, weak parameters).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from calibration.result import SysidResult
    from calibration.segments import Segment


def overlay_png(joint_names: tuple[str, ...], segments: list[Segment], before: list, after: list,
                title: str) -> bytes:
    """PNG bytes: one row per joint and quantity (position, velocity), log time on x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nj = len(joint_names)
    fig, axes = plt.subplots(2 * nj, 1, figsize=(11, 2.2 * 2 * nj), sharex=True, squeeze=False)
    for s, seg in enumerate(segments):
        t = seg.t + seg.offset
        for j, name in enumerate(joint_names):
            for r, (label, meas, k) in enumerate((("position", seg.q, 0), ("velocity", seg.qd, 1))):
                ax = axes[2 * j + r, 0]
                first = s == 0
                ax.plot(t, meas[:, j], color="0.2", lw=0.8, label="measured" if first else None)
                ax.plot(t, before[s][k][:, j], color="tab:red", lw=0.9, ls="--",
                        label="simulated, before fit" if first else None)
                ax.plot(t, after[s][k][:, j], color="tab:blue", lw=0.9, label="simulated, after fit" if first else None)
                ax.set_ylabel(f"{name}\n{label}")
                ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel("time in log (s)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "inf"
    return f"{x:.5g}"


def write_report(result: SysidResult, segments: list[Segment], png: bytes, out_dir: Path) -> tuple[Path, Path]:
    """Write report.png and the self-contained report.html; return their paths."""
    png_path = out_dir / "report.png"
    png_path.write_bytes(png)
    e = html.escape
    rows = []
    for n in result.fit_names:
        lo, hi = result.intervals[n]
        dr = result.dr_ranges.get(n)
        rel = result.half_widths[n] / abs(result.fitted[n]) if result.fitted[n] else float("inf")
        flag = "" if result.identified[n] else " class='weak'"
        rows.append(
            f"<tr{flag}><td>{e(n)}</td><td>{_fmt(result.nominal[n])}</td><td>{_fmt(result.start[n])}</td>"
            f"<td><b>{_fmt(result.fitted[n])}</b></td><td>[{_fmt(lo)}, {_fmt(hi)}]</td><td>{100 * rel:.2g}%</td>"
            f"<td>{'' if dr is None else f'[{_fmt(dr[0])}, {_fmt(dr[1])}]'}</td>"
            f"<td>{'yes' if result.identified[n] else 'no'}</td></tr>")
    res_rows = []
    for j in result.joint_names:
        b, a = result.residuals_before[j], result.residuals_after[j]
        res_rows.append(f"<tr><td>{e(j)}</td><td>{_fmt(b['position'])}</td><td>{_fmt(a['position'])}</td>"
                        f"<td>{_fmt(b['velocity'])}</td><td>{_fmt(a['velocity'])}</td></tr>")
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes) or "<li>none</li>"
    if result.adequate:
        verdict = "<p class='ok'><b>Adequate</b>: the fitted model explains held-out data down to the noise floor.</p>"
    else:
        head = "Did not converge" if not result.converged else "Not adequate"
        verdict = (f"<p class='bad'><b>{head}</b>:</p><ul>" + "".join(f"<li>{e(r)}</li>" for r in result.reasons)
                   + "</ul>")
        if result.suggestions:
            verdict += ("<p>Score test: fitting also " + ", ".join(
                f"<code>{e(s['name'])}</code> (-{100 * s['predicted_reduction']:.0f}% residual)"
                for s in result.suggestions) + " would reduce the residual most.</p>")
    val_rows = []
    for j in result.joint_names:
        if j in result.residuals_validation:
            v, f = result.residuals_validation[j], result.noise_floor[j]
            val_rows.append(f"<tr><td>{e(j)}</td><td>{_fmt(v['position'])}</td><td>{_fmt(f['position'])}</td>"
                            f"<td>{_fmt(v['velocity'])}</td><td>{_fmt(f['velocity'])}</td></tr>")
    validation = ("<h2>Held-out validation</h2><p>The last " f"{result.validation_s:.1f} s of the log, not fitted, "
                  "replayed with the fitted parameters; noise floor estimated from the data.</p>"
                  "<table><tr><th>joint</th><th>position RMS</th><th>position noise</th><th>velocity RMS</th>"
                  f"<th>velocity noise</th></tr>{''.join(val_rows)}</table>") if val_rows else ""
    files = "".join(f"<li>{e(k)}: <code>{e(Path(v).name)}</code></li>" for k, v in result.paths.items())
    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>sysid: {e(result.robot)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #bbb; padding: 3px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.weak td {{ background: #fde2e2; }}
p.ok {{ color: #1a7f37; }} p.bad {{ color: #b42318; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>System identification: {e(result.robot)}</h1>
<p>Log <code>{e(result.log_source)}</code>: {result.log_duration:.2f} s in {result.n_segments} segment(s);
engine <b>{e(result.engine)}</b>; {result.iterations} solver iterations in {result.wall_s:.1f} s.</p>
{verdict}
<h2>Parameters</h2>
<p>95% intervals from the least-squares Jacobian at the optimum (residuals whitened per signal);
DR range = fit &plusmn; max(2 &times; half-width, 1%); rows in red are not identified by this log.</p>
<table><tr><th>parameter</th><th>robot.yaml</th><th>start</th><th>fitted</th><th>95% interval</th>
<th>&plusmn; rel.</th><th>DR range</th><th>identified</th></tr>
{''.join(rows)}</table>
<h2>Residual RMS per joint</h2>
<table><tr><th>joint</th><th>position before</th><th>position after</th><th>velocity before</th>
<th>velocity after</th></tr>{''.join(res_rows)}</table>
{validation}
<h2>Measured vs simulated</h2>
<img alt="measured and simulated joint trajectories" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Notes on the data and the fit</h2><ul>{notes}</ul>
<h2>Files</h2><ul>{files}</ul>
</body></html>
"""
    html_path = out_dir / "report.html"
    html_path.write_text(doc)
    return html_path, png_path
