#!/usr/bin/env python3
# What one write + fdatasync costs on the disk holding /tmp (bench/README.md):
# 2000 x 4 KiB appended (the WAL pattern: the size changes), appended into
# fallocate()d space (RocksDB's own preallocation: "unwritten" extents), and
# overwriting zeros written and synced before (Shoal's pre-written WAL space,
# docs/durable-shards.md "Pre-written WAL space").
#   python3 bench/fdatasync_cost.py
import ctypes, os, time, sys, tempfile, statistics
libc = ctypes.CDLL(None, use_errno=True)
FALLOC_FL_KEEP_SIZE = 1
d = tempfile.mkdtemp(dir="/tmp")
def run(mode, n=2000, size=4096):
    p = os.path.join(d, mode)
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    buf = b"x" * size
    if mode == "overwrite":
        os.write(fd, b"\0" * size * n); os.fsync(fd); os.lseek(fd, 0, 0)
    if mode == "fallocate":  # as RocksDB: allocated blocks, the size unchanged
        if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, ctypes.c_long(0), ctypes.c_long(size * n)) != 0:
            raise OSError(ctypes.get_errno(), "fallocate")
        os.fsync(fd)
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        os.write(fd, buf)
        t = time.perf_counter(); os.fdatasync(fd); lat.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    os.close(fd); os.unlink(p)
    lat.sort()
    print(f"{mode:9s} {size}B x{n}: {n/total:8.0f} write+fdatasync/s, fdatasync p50 {lat[n//2]*1e3:.3f} ms, p99 {lat[int(n*0.99)]*1e3:.3f} ms, mean {statistics.mean(lat)*1e3:.3f} ms")
for m in ("append", "fallocate", "overwrite"): run(m)
os.rmdir(d)
