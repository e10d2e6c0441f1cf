"""The CLI's progress display: redrawn in place on a terminal, a line now and then in a log."""

from __future__ import annotations

import io

from tenure.cli.progress import Progress


def test_on_a_terminal_one_line_is_redrawn_in_place() -> None:
    out = io.StringIO()
    shown = Progress(out, interactive=True)
    shown.update(0.25, "250 rows", 250, force=True)
    shown.update(0.5, "500 rows", 500, force=True)
    shown.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "[######" in text and " 50% 500 rows" in text and "rows/s" in text


def test_in_a_log_a_line_at_most_every_few_seconds() -> None:
    out = io.StringIO()
    shown = Progress(out, interactive=False, log_seconds=3600)
    for done in range(1, 100):
        shown.update(done / 100, f"{done} rows", done)  # too soon after the start: nothing
    shown.update(1.0, "switching in", force=True)  # nothing logged yet: a short run is quiet
    shown.close()
    assert out.getvalue() == ""

    shown = Progress(out, interactive=False, log_seconds=0)
    shown.update(0.5, "500 rows", 500)
    shown.update(1.0, "switching in", force=True)
    shown.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("50% 500 rows") and lines[1] == "100% switching in"
    assert "\r" not in out.getvalue()
