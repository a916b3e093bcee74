"""Build hostile workbooks (small files, huge once unpacked) to measure the import's bounds.

    python -m bench.hostile [DIR]        # default DIR: the temp dir

Writes into DIR:

* cell-bomb.xlsx: one Artist cell of 400 MB (an inline string), ~400 KB on disk;
* shared-string-bomb.xlsx: one shared string of 400 MB;
* tail-bomb.xlsx: a normal table, the Unannounced block, then 1 GB of blank rows;
* many-strings.xlsx: 500 MB of one-letter shared strings (some 30 million entries).

Then measure each as the README's figures were, for example:

    /usr/bin/time -v .venv/bin/python manage.py import_albums --file DIR/cell-bomb.xlsx \\
        --skip-spotify

("Maximum resident set size" and "Elapsed (wall clock) time" in its report). Each must fail
at once with a message naming WORKBOOK_MAX_CELL_BYTES, WORKBOOK_MAX_UNPACKED_BYTES or
WORKBOOK_MAX_SHARED_STRINGS.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.support.workbooks import cell_bomb, many_strings_bomb, shared_string_bomb, tail_bomb

MB = 1024 * 1024

BOMBS = {
    "cell-bomb.xlsx": lambda: cell_bomb(400 * MB),
    "shared-string-bomb.xlsx": lambda: shared_string_bomb(400 * MB),
    "tail-bomb.xlsx": lambda: tail_bomb(1024 * MB),
    "many-strings.xlsx": lambda: many_strings_bomb(500 * MB),
}


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in BOMBS.items():
        path = folder / name
        path.write_bytes(build())
        print(f"{path}: {path.stat().st_size / 1024:,.0f} KB")


if __name__ == "__main__":
    main()
