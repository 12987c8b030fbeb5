# docsection.py: puts a benchmark's section into docs/BENCHMARKS.md between
# its <!-- bench-NAME:begin --> and <!-- bench-NAME:end --> markers (the
# section text carries them), or at the end the first time.
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def replace_section(name, section, path=None):
    """Writes section (which starts with the begin marker and ends with the
    end marker and a newline) into BENCHMARKS.md; returns the path."""
    path = path or os.path.join(REPO, "docs", "BENCHMARKS.md")
    doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    begin, end = f"<!-- bench-{name}:begin -->", f"<!-- bench-{name}:end -->"
    if begin in doc:
        doc = re.sub(re.escape(begin) + ".*" + re.escape(end) + "\n", lambda _: section, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(doc)
    return path
