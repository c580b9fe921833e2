"""Which outputs of the built book scroll sideways at a given window width, as a reader's browser lays
them out (headless Chromium; not run in CI). Usage, after ``make book``:

    .venv/bin/python tools/wide_tables.py [WIDTH]     # default 1300 px

Prints, per page, each cell output wider than its box (its width, the box's, and the table's header).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

BUILT = Path(__file__).resolve().parent.parent / "_build" / "html"
MEASURE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const found = [];
  document.querySelectorAll('div.cell_output div.output').forEach((box) => {
    if (box.scrollWidth > box.clientWidth + 2) {
      const table = box.querySelector('table');
      const head = table ? (table.querySelector('thead') || table).innerText.replace(/\\s+/g, ' ').slice(0, 100) : '';
      found.push(box.scrollWidth + ' px in ' + box.clientWidth + ' px: ' + head);
    }
  });
  const out = document.createElement('pre'); out.id = 'WIDE'; out.textContent = found.join('\\n'); document.body.appendChild(out);
}, 500));
</script>"""


def wide_outputs(page: Path, width: int, browser: str) -> list[str]:
    """The outputs of ``page`` that scroll at ``width`` px."""
    probe = page.with_name(page.stem + ".wide-probe.html")
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    try:
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},4000",
                              "--virtual-time-budget=4000", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="WIDE">(.*?)</pre>', dom, re.S)
    return [line for line in html.unescape(found.group(1)).splitlines() if line] if found else ["(not measured)"]


def main() -> int:
    width = int(sys.argv[1]) if len(sys.argv) > 1 else 1300
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or not BUILT.is_dir():
        print("needs Debian's chromium and a built book (make book)", file=sys.stderr)
        return 2
    pages = sorted(p for p in (BUILT / "book").rglob("*.html") if not p.name.endswith(".wide-probe.html"))
    for page in pages:
        for line in wide_outputs(page, width, browser):
            print(f"{page.relative_to(BUILT)}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
