"""Run inside a private mount namespace (``unshare --mount --propagation private``): a real
``kindpulse run`` whose log lives on a small tmpfs that is filled up while beats stream in,
then freed. Prints a JSON summary; the test (tests/test_daemon_faults.py) judges it.

    python full_disk.py WORKDIR KINDPULSE REPLAY_FILE
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SPEED = "200"
#: How long the disk stays full (wall clock): at 200 × that is about 20 minutes of beats,
#: more than the five minutes the daemon may hold, so the oldest are dropped and counted.
FULL_FOR_S = 6.0


def status(state: Path) -> dict[str, object]:
    try:
        return dict(json.loads((state / "status.json").read_text()))
    except (OSError, ValueError):
        return {}


def wait_for(pred: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def fill(path: Path) -> int:
    """Write zeros to ``path`` until the file system is full; returns the bytes written."""
    written = 0
    block = b"\0" * 65536
    with path.open("wb") as f:
        try:
            while True:
                f.write(block)
                f.flush()
                written += len(block)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
    return written


def main() -> int:
    work, exe, replay = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    state = work / "state"
    state.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(state)],
                   check=True)
    config = work / "config.toml"
    config.write_text("")
    err = (work / "daemon.err").open("w")
    p = subprocess.Popen(
        [exe, "run", "--config", str(config), "--source", "replay", "--replay", replay,
         "--start", "2026-01-05T08:00:00", "--speed", SPEED, "--until-end",
         "--state-dir", str(state)],
        stdout=subprocess.DEVNULL, stderr=err, cwd="/tmp",
    )
    out: dict[str, object] = {}
    try:
        out["started"] = wait_for(lambda: int(status(state).get("beats") or 0) > 300, 30)
        out["filled_bytes"] = fill(state / "filler")
        full_at = time.monotonic()
        out["beats_when_full"] = status(state).get("beats")
        time.sleep(FULL_FOR_S)
        out["alive_while_full"] = p.poll() is None
        out["full_for_s"] = time.monotonic() - full_at
        (state / "filler").unlink()
        out["returncode"] = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        err.close()
        out["stderr"] = (work / "daemon.err").read_text()
        out["final_status"] = status(state)
        copy = work / "copy"
        copy.mkdir()
        for f in state.iterdir():
            if f.name != "filler":
                shutil.copy2(f, copy / f.name)
        subprocess.run(["umount", str(state)], check=False)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
