"""README.md's shell examples as data: each ```sh block with its line number, the commands
rewritten to run here (this interpreter, the apps' real ports), and the output its trailing
`# ...` comment promises."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)
_STATUS = re.compile(r"^\d{3} ")


@dataclass(frozen=True)
class Example:
    line: int
    script: str

    def runnable(self, *, processor_port: int, agent_port: int) -> str:
        tracer = f'"{sys.executable}" -m tracer'
        return (
            self.script.replace("python3 -m uv run tracer", tracer)
            .replace("localhost:4318", f"127.0.0.1:{processor_port}")
            .replace("localhost:8000", f"127.0.0.1:{agent_port}")
        )

    def promised_output(self) -> Any | None:
        """The JSON the block's last `# ...` line shows (an HTTP status in front dropped)."""
        last = self.script.rstrip().splitlines()[-1]
        if not last.startswith("# "):
            return None
        return json.loads(_STATUS.sub("", last[2:]))


def readme_examples() -> list[Example]:
    text = README.read_text(encoding="utf-8")
    return [
        Example(line=text[: match.start()].count("\n") + 1, script=match.group(1))
        for match in _BLOCK.finditer(text)
    ]
