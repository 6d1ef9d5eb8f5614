"""Writing a benchmark's rows: one CSV (the record) and the same table as markdown on stdout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def write_table(rows: list[dict[str, Any]], out: str | Path) -> pd.DataFrame:
    """Rows -> ``out`` (CSV, parent folders created); prints the markdown table and returns the frame."""
    frame = pd.DataFrame(rows)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    print(frame.to_markdown(index=False))
    return frame
