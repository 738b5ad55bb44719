"""Bar charts of benchmark results: one standalone SVG per row, no dependencies.

Run: ``.venv/bin/python benchmarks/charts.py [RESULTS.json ...] [--out DIR]``

Reads the JSON files the benchmarks write with ``--json PATH`` (by default
``benchmarks/results/*.json``) and draws, for every row, the throughput (MB/s,
10^6 bytes per second) of each contestant as horizontal bars, ours first, into
``DIR/<row-id>.svg`` (default DIR: ``docs/charts``). Rows measured on a backend
other than asyncio (the default everywhere) go to ``<row-id>-<backend>.svg``,
so the asyncio and trio runs of a benchmark do not overwrite each other. When
several files hold the same row, the file given last wins.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import _report

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
DEFAULT_OUT = HERE.parent / "docs" / "charts"

WIDTH = 720
PAD = 16
BAR = 22
GAP = 10
VALUE_WIDTH = 100  # room right of the longest bar for its value
CHAR = 7.0  # average width of a 12 px character, generously
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
OURS_COLOUR = "#2563eb"
PEER_COLOUR = "#9ca3af"
TEXT_COLOUR = "#111827"
MUTED_COLOUR = "#4b5563"


def chart_name(row: _report.Row) -> str:
    """The file name (without .svg) of a row's chart."""
    backend = row["backend"]
    name = row["id"] if backend in (None, "asyncio") else f"{row['id']}-{backend}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio_text(row: _report.Row) -> str:
    peer = row["peers"][0]
    text = f"ratio {row['ratio']:.2f}x vs {peer['name']} (peer's time / ours)"
    spread = row["spread"]
    if spread is not None and spread["rounds"] > 1:
        text += f", {spread['min']:.2f}..{spread['max']:.2f} over {spread['rounds']} rounds"
    if row["target"] is not None:
        text += f"; target >= {row['target']:g}x"
    return text


def lines(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def text_lines(
    wrapped: Iterable[str], x: float, y: float, step: float, **attributes: str
) -> tuple[str, float]:
    """``<text>`` elements, one per line from baseline *y*; and the y after them."""
    extra = "".join(
        f" {key.replace('_', '-')}={quoteattr(value)}" for key, value in attributes.items()
    )
    parts = []
    for line in wrapped:
        parts.append(f'<text x="{x:.0f}" y="{y:.0f}"{extra}>{escape(line)}</text>')
        y += step
    return "\n".join(parts), y


def svg(row: _report.Row, results: _report.Results) -> str:
    """The chart of one row, as a standalone SVG document."""
    slug = chart_name(row)
    contestants: list[tuple[_report.Contestant, bool]] = [(row["ours"], True)]
    contestants += [(peer, False) for peer in row["peers"]]
    backend = f" [{row['backend']}]" if row["backend"] else ""
    title = f"{row['id']}: {row['title']}{backend}"

    body: list[str] = []
    y: float = PAD + 14
    title_text, y = text_lines(
        lines(title, 84), PAD, y, 18, font_size="14", font_weight="600", fill=TEXT_COLOUR
    )
    body.append(title_text)
    subtitle = ratio_text(row)
    for note in row["notes"]:
        subtitle += f"; {note}"
    subtitle_text, y = text_lines(lines(subtitle, 105), PAD, y, 15, font_size="11")
    body.append(f'<g fill="{MUTED_COLOUR}">\n{subtitle_text}\n</g>')
    y += 6

    labels = [lines(contestant["name"], 30) for contestant, _ in contestants]
    label_width = min(250.0, max(len(line) for label in labels for line in label) * CHAR + 12)
    bar_x = PAD + label_width
    bar_room = WIDTH - PAD - VALUE_WIDTH - bar_x
    top = max(contestant["mb_per_s"] for contestant, _ in contestants) or 1.0
    descriptions = []
    for (contestant, ours), label in zip(contestants, labels, strict=True):
        value = contestant["mb_per_s"]
        height = max(BAR, 15 * len(label) + 6)
        length = max(1.0, bar_room * value / top)
        seconds = contestant["seconds"]
        timing = "" if seconds is None else f", {seconds:.3g} s"
        who = "ours" if ours else "peer"
        description = f"{contestant['name']} ({who}): {number(value)} MB/s{timing}"
        descriptions.append(description)
        label_y = y + height / 2 - 7.5 * (len(label) - 1) + 4
        label_text, _ = text_lines(
            label, bar_x - 8, label_y, 15, text_anchor="end", font_size="12", fill=TEXT_COLOUR
        )
        colour = OURS_COLOUR if ours else PEER_COLOUR
        bar_y = y + (height - BAR) / 2
        body.append(
            f"<g>\n<title>{escape(description)}</title>\n{label_text}\n"
            f'<rect x="{bar_x:.0f}" y="{bar_y:.0f}" width="{length:.1f}" height="{BAR}" '
            f'rx="3" fill="{colour}"/>\n'
            f'<text x="{bar_x + length + 6:.1f}" y="{bar_y + BAR / 2 + 4:.0f}" font-size="12" '
            f'fill="{TEXT_COLOUR}">{number(value)} MB/s</text>\n</g>'
        )
        y += height + GAP
    footer = (
        f"MB/s = 10^6 bytes per second; {row['statistic']} of the rounds. "
        f"{results['script']}, {results['created']}; {results['machine']}"
    )
    footer_text, y = text_lines(lines(footer, 120), PAD, y + 8, 13, font_size="10")
    body.append(f'<g fill="{MUTED_COLOUR}">\n{footer_text}\n</g>')
    height = int(y - 13 + PAD)

    description = f"Throughput per contestant. {'; '.join(descriptions)}. {ratio_text(row)}."
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="chart-{slug}-title chart-{slug}-desc" font-family={quoteattr(FONT)}>\n'
        f'<title id="chart-{slug}-title">{escape(title)}</title>\n'
        f'<desc id="chart-{slug}-desc">{escape(description)}</desc>\n'
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help=f"results files (default: {DEFAULT_RESULTS.relative_to(HERE.parent)}/*.json)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"folder for the SVG files (default: {DEFAULT_OUT.relative_to(HERE.parent)})",
    )
    args = parser.parse_args()
    paths: list[Path] = args.paths or sorted(DEFAULT_RESULTS.glob("*.json"))
    if not paths:
        parser.error(f"no results files given and none in {DEFAULT_RESULTS}")

    charts: dict[str, tuple[_report.Row, _report.Results, Path]] = {}
    for path in paths:
        results = _report.load(path)
        for row in results["rows"]:
            name = chart_name(row)
            if name in charts:
                print(
                    f"{name}: {path} replaces {charts[name][2]}",
                    file=sys.stderr,
                )
            charts[name] = (row, results, path)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, (row, results, _path) in charts.items():
        target = out / f"{name}.svg"
        target.write_text(svg(row, results))
        print(target)


if __name__ == "__main__":
    main()
