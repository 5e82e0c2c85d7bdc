"""A user program without SwarmCallback, for the executor tests.

EXPECT_FILE / EXPECT_TEXT: exit 4 unless that file holds that text; SLEEP_SECONDS: run that long (a training that
takes a while); EXIT_CODE: the exit code at the end.
"""

import os
import pathlib
import sys
import time

expect = os.getenv("EXPECT_FILE")
if expect:
    path = pathlib.Path(expect)
    if not path.is_file() or path.read_text() != os.getenv("EXPECT_TEXT", ""):
        print(f"expected {expect} to hold {os.getenv('EXPECT_TEXT')!r}", flush=True)
        sys.exit(4)
if os.getenv("SLEEP_SECONDS"):
    time.sleep(float(os.environ["SLEEP_SECONDS"]))
print("plain program done", flush=True)
sys.exit(int(os.getenv("EXIT_CODE", "0")))
