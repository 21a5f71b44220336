"""One self-contained HTML page: sections of tables, inlined images (data: URIs) and a grid slider. No network,
no external file: the page opens from disk anywhere, and a check script reports whether it rendered."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Iterable

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 0.2em 0.8em; text-align: left; }
tr:nth-child(even) { background: #f6f6f6; } .num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; image-rendering: pixelated; } #grid { width: 32em; } .warn { color: #a40; } .muted { color: #777; }
"""

# Run on load: JavaScript errors and images that did not decode become attributes a headless browser can read.
CHECK = """
window.gankitErrors = [];
window.addEventListener("error", e => window.gankitErrors.push(String(e.message)));
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = ok + "/" + images.length;
  document.body.dataset.errors = String(window.gankitErrors.length);
});
"""

SLIDER = """
function showGrid(i) {
  const grid = document.getElementById("grid-" + i);
  document.getElementById("grid").src = grid.src;
  document.getElementById("grid-label").textContent = grid.alt;
}
"""


def image_uri(path: Path) -> str:
    kind = {".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}[path.suffix]
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def esc(value: Any) -> str:
    return html.escape(str(value))


def number(value: Any) -> str:
    """A number as the report shows it (and the browser test reads it back): 4 significant digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc("-" if value is None else value)
    return f"{value:.4g}"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], keys: Iterable[str] | None = None) -> str:
    """An HTML table; numbers right-aligned; `keys` names each row (data-key) so tests can find its numbers."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    names = list(keys) if keys is not None else None  # once: an iterator of keys is read one time only
    body = []
    for i, row in enumerate(rows):
        key = f' data-key="{esc(names[i])}"' if names is not None else ""
        cells = "".join(f'<td class="num">{number(c)}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
                        else f"<td>{esc('-' if c is None else c)}</td>" for c in row)
        body.append(f"<tr{key}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def saved_evaluation(run_dir: Path) -> dict | str:
    """The run's evaluation.json, or the note that says how to make it (HTML) where there is none yet."""
    import json

    path = run_dir / "evaluation.json"
    if not path.is_file():
        return f'<p class="muted">not yet: <code>gankit evaluate {esc(run_dir)}</code> adds its scores here</p>'
    return json.loads(path.read_text())


def image(path: Path, alt: str) -> str:
    return f'<img src="{image_uri(path)}" alt="{esc(alt)}">'


def slider(grids: list[tuple[str, Path]]) -> str:
    """The sample grids over epochs: a range input that shows one of them. Every grid is an image of the page
    (hidden), so the browser decodes them all and the page's check counts them."""
    if not grids:
        return '<p class="muted">no sample grids</p>'
    last = len(grids) - 1
    hidden = "".join(f'<img id="grid-{i}" src="{image_uri(path)}" alt="{esc(label)}">'
                     for i, (label, path) in enumerate(grids))
    return (f"<script>{SLIDER}</script><div hidden>{hidden}</div>"
            f'<p><input type="range" min="0" max="{last}" value="{last}" oninput="showGrid(this.value)" '
            f'style="width: 30em"> <span id="grid-label">{esc(grids[-1][0])}</span></p>'
            f'<img id="grid" src="{image_uri(grids[-1][1])}" alt="sample grid">')


def document(title: str, sections: list[tuple[str, str]]) -> str:
    parts = "".join(f"<h2>{esc(name)}</h2>{body}" for name, body in sections)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{STYLE}</style><script>{CHECK}</script></head><body><h1>{esc(title)}</h1>{parts}</body></html>")


def figure_uri(fig) -> str:
    """A matplotlib figure as an inlined PNG (closed afterwards)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"


def figure(fig, alt: str) -> str:
    return f'<img src="{figure_uri(fig)}" alt="{esc(alt)}">'
