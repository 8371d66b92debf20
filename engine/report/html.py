"""Page assembly: one self-contained HTML document with plotly.js inlined once.

Safety rules, applied here so figure and table builders cannot forget them:

- every piece of text that reaches the page outside a figure goes through ``esc``
  (``html.escape`` with quotes), table cells included;
- figure JSON is embedded in ``<script type="application/json">`` blocks and passed
  through ``script_safe``, which turns ``<``, ``>``, ``&``, U+2028 and U+2029 into
  JSON ``\\uXXXX`` escapes, so no string inside a figure (a strategy name, a param,
  a symbol) can close the script element or open a comment; plotly's own ``to_json``
  already escapes ``<``, ``>`` and ``/``, and this does not depend on it;
- the document loads nothing from the network: no ``src=``/``href=`` to a URL.

The page marks its own progress for people and for the browser test: JavaScript
errors are collected into ``<html data-js-errors>`` and shown in a red banner, and
``<html data-figures-drawn="k/n">`` counts the figures plotly has drawn;
``data-render-ms`` is the time from navigation start until the last one was drawn.
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_SCRIPT_SWAPS = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def esc(value: Any) -> str:
    """``str(value)`` escaped for HTML text and attribute values."""
    return _html.escape(str(value), quote=True)


def script_safe(json_text: str) -> str:
    """JSON text made safe inside a ``<script>`` element (same JSON value once parsed)."""
    for bad, good in _SCRIPT_SWAPS:
        json_text = json_text.replace(bad, good)
    return json_text


@dataclass
class Block:
    """One piece of the page: raw, already-safe HTML (build it with ``esc``)."""

    html: str


@dataclass
class Figure:
    """A plotly figure to draw into ``<div id=fig_id>``, under an optional note."""

    fig_id: str
    figure: Any  # plotly.graph_objects.Figure, a dict, or a Placeholder (nothing to draw)
    note: str = ""


@dataclass
class Placeholder:
    """What a figure function returns when there is nothing to draw (a run without
    trades): the page shows ``text`` in a short box where the figure would be, not
    empty axes."""

    text: str


@dataclass
class Section:
    """A titled part of the page: a list of Blocks and Figures."""

    title: str
    items: Sequence[Block | Figure]
    anchor: str = ""


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, cls: str = "", caption: str = "") -> str:
    """An HTML table; every header and cell is escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="{esc(cls)}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


#: Top margin (px) of a figure titled with ``compact_title``: plotly's modebar (about
#: 30 px, top right) sits above the title, not over it.
COMPACT_TOP = 72


def compact_title(text: str) -> dict[str, Any]:
    """A title for a narrow figure: from its left edge, just above the plot area and
    below the band where plotly draws its modebar (use with ``margin.t = COMPACT_TOP``),
    so the modebar cannot cover it however long it is."""
    return dict(text=text, font=dict(size=15), x=0, xref="container", xanchor="left", y=1, yref="paper",
                yanchor="bottom", pad=dict(l=12, b=12))


def figure_height(figure: Any) -> int | None:
    """The figure's layout height in px, when it sets one."""
    layout = (figure.get("layout") or {}) if isinstance(figure, dict) else figure.layout
    height = layout.get("height") if isinstance(layout, dict) else layout.height
    return int(height) if height else None


def figure_json(figure: Any) -> str:
    """The figure's {data, layout} as script-safe JSON."""
    if isinstance(figure, dict):
        text = json.dumps(figure, default=str, allow_nan=False)
    else:
        text = figure.to_json(validate=False)
    return script_safe(text)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1280px;padding:16px;
color:#222;background:#fff}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right;white-space:nowrap}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.metrics tr.group th{text-align:left;background:#eef2f7}
.kv td{text-align:left}.kv td+td{white-space:normal;overflow-wrap:anywhere;max-width:1000px}
.note{color:#666;font-size:12px;margin:4px 0}.fig{width:100%}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}.row>.fig{width:auto;flex:0 0 auto}
.row>div{min-width:0}.empty-fig{color:#666;font-size:13px;margin:8px 0;padding:10px 12px;border:1px dashed #ccc}
.scroll{max-height:480px;overflow:auto}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:6px 10px;margin:8px 0}
#bt-errors{display:none;background:#fdd;border:1px solid #c00;color:#900;padding:6px 10px;white-space:pre-wrap}
"""

# Installed before anything else runs: collects errors into the document.
_ERROR_HOOK = """
(function(){var errs=[];function note(m){errs.push(String(m));var d=document.documentElement;
d.setAttribute('data-js-errors',JSON.stringify(errs));var b=document.getElementById('bt-errors');
if(b){b.style.display='block';b.textContent='JavaScript errors: '+errs.join('\\n');}}
window.addEventListener('error',function(e){note(e.message||e.type);});
window.addEventListener('unhandledrejection',function(e){note(e.reason&&e.reason.message||e.reason);});
window.__btNote=note;})();
"""

_LOADER = """
(function(){var nodes=document.querySelectorAll('script[data-bt-figure]');var n=nodes.length,done=0;
var root=document.documentElement;root.setAttribute('data-figures-drawn','0/'+n);var jobs=[];
nodes.forEach(function(s){var id=s.getAttribute('data-bt-figure');try{var f=JSON.parse(s.textContent);
jobs.push(Plotly.newPlot(id,f.data,f.layout||{},{responsive:true,displaylogo:false}).then(function(){done+=1;
root.setAttribute('data-figures-drawn',done+'/'+n);}));}catch(e){window.__btNote(id+': '+e.message);}});
Promise.all(jobs).then(function(){root.setAttribute('data-figures-done','1');
root.setAttribute('data-render-ms',String(Math.round(performance.now())));},
function(e){window.__btNote(e&&e.message||e);});})();
"""


def graph_objects() -> Any:
    """``plotly.graph_objects``, imported when the first figure is drawn: plotly is a
    heavy optional import that ``bt --help`` and every command writing no report skip."""
    import plotly.graph_objects as go

    return go


def page(title: str, header_html: str, sections: Sequence[Section]) -> str:
    """The whole document: ``title`` (escaped here), ``header_html`` (already safe),
    then each section; plotly.js inlined once, only when there is a figure."""
    from plotly.offline import get_plotlyjs  # plotly: loaded only when a page is written

    parts = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{esc(title)}</title><style>{_CSS}</style><script>{_ERROR_HOOK}</script></head><body>",
             "<div id=\"bt-errors\"></div>", header_html]
    nav = " · ".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>' for s in sections if s.anchor)
    if nav:
        parts.append(f'<p class="note">{nav}</p>')
    figures: list[Figure] = []
    for s in sections:
        anchor = f' id="{esc(s.anchor)}"' if s.anchor else ""
        parts.append(f"<section{anchor}><h2>{esc(s.title)}</h2>")
        for item in s.items:
            if isinstance(item, Figure):
                if item.note:
                    parts.append(f'<p class="note">{esc(item.note)}</p>')
                if isinstance(item.figure, Placeholder):
                    parts.append(f'<p class="empty-fig" id="{esc(item.fig_id)}">{esc(item.figure.text)}</p>')
                    continue
                figures.append(item)
                height = figure_height(item.figure)  # the space it takes, reserved before it draws
                style = f' style="min-height:{height}px"' if height else ""
                parts.append(f'<div class="fig" id="{esc(item.fig_id)}"{style}></div>')
            else:
                parts.append(item.html)
        parts.append("</section>")
    if figures:
        js = get_plotlyjs().replace("</script", "<\\/script")
        parts.append(f"<script>{js}</script>")
        for f in figures:
            parts.append(f'<script type="application/json" data-bt-figure="{esc(f.fig_id)}">'
                         f"{figure_json(f.figure)}</script>")
        parts.append(f"<script>{_LOADER}</script>")
    parts.append("</body></html>\n")
    return "".join(parts)
