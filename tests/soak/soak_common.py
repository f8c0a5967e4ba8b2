"""What the soak drivers share: reading resident memory, and the plateau rule.

The rule, for samples taken once a second: the first 30 % are warm-up; of the
rest, the peak of the second half may exceed the peak of the first half by at
most 5 % plus 16 MiB (allocator slack that does not grow with time).
"""

import os
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


def rss_bytes(pid: str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def plateau(samples):
    """(ok, text) for RSS samples in bytes, by the rule above."""
    if len(samples) < 10:
        return True, f"too few samples to judge ({len(samples)}), peak {max(samples or [0]) / MIB:.0f} MiB"
    rest = samples[int(len(samples) * 0.3):]
    first, second = rest[: len(rest) // 2], rest[len(rest) // 2:]
    a, b = max(first), max(second)
    bound = a * 1.05 + 16 * MIB
    text = (f"peak {max(samples) / MIB:.0f} MiB, final {samples[-1] / MIB:.0f} MiB; after warm-up "
            f"{a / MIB:.0f} MiB then {b / MIB:.0f} MiB (bound {bound / MIB:.0f} MiB)")
    return b <= bound, ("" if b <= bound else "resident memory grew: ") + text


if __name__ == "__main__":
    # `soak_common.py plateau FILE`: judge samples (one byte count a line) that
    # another driver wrote; prints the verdict, exits 1 on growth.
    with open(sys.argv[2]) as f:
        values = [int(line) for line in f if line.strip()]
    ok, text = plateau(values)
    print(text)
    sys.exit(0 if ok else 1)
