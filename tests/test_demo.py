"""`kindpulse demo`: the real run loop on the simulated wearer, a prompt, the guided break,
and the review read back from the demo's own log."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

KINDPULSE = str(Path(sys.executable).with_name("kindpulse"))


def test_demo_shows_a_prompt_the_break_and_the_review() -> None:
    t0 = time.monotonic()
    p = subprocess.run(
        [KINDPULSE, "demo", "--speed", "400", "--answer-after", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},  # no desktop: the terminal fallback
    )
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "[Take a break] [Snooze 30 min] [I'm okay]" in out
    assert "No one pressed a button: taking the break." in out
    assert "Thank you" in out
    review = out[out.index("\nReview\n") :]
    assert "1 stretch of sustained strain" in review and "you took a break in 1" in review
    # The simulated strap has an accelerometer: the exercise bout is told as movement.
    assert "the strap showed you moving" in review
    assert "Traceback" not in p.stderr
    assert took < 60
