# An allocation-heavy Python workload for the LD_PRELOAD test: a few hundred thousand dicts,
# lists, strings, bytes and tuples, some built in threads and dropped in another, then one line
# of figures that do not depend on addresses or hash seeds.
import threading
import zlib


def build(n, seed):
    out = []
    for i in range(n):
        out.append({"id": i, "name": "item-%d-%d" % (seed, i), "tags": [seed, i % 7, i % 11],
                    "blob": "y" * ((i * 31 + seed) % 700)})
    return out


def main():
    n = 200000
    total = 0

    d = {}
    for i in range(n):
        d["key-%d" % i] = [i, str(i * i), "x" * (i % 50)]
    for k, v in d.items():
        total += v[0] + len(v[1]) + len(v[2]) + len(k)

    words = [("w%d" % (i % 1000)) * (1 + i % 7) for i in range(n)]
    text = " ".join(words)
    parts = text.split(" ")
    total += len(parts) + sum(len(p) for p in parts)
    crc = zlib.crc32(text.encode())

    for i in range(0, n, 2):
        del d["key-%d" % i]
    for i in range(0, n, 2):
        d["new-%d" % i] = {"a": i, "b": [i] * (i % 5)}
    total += len(d)

    blobs = [bytes([i % 256]) * (i * 99991 % 3000000) for i in range(60)]
    total += sum(len(b) for b in blobs)
    del blobs

    s = sorted(set(i * 7 % 100003 for i in range(n)))
    total += sum(s[:1000]) + len(s)

    tup = [(i, i + 1, float(i) / 3) for i in range(n)]
    total += sum(t[1] for t in tup)
    del tup

    # Objects built in worker threads, checked and dropped by the main thread.
    results = [None] * 4
    def worker(t):
        results[t] = build(20000, t)
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t, lst in enumerate(results):
        total += sum(len(o["name"]) + len(o["blob"]) + sum(o["tags"]) for o in lst)
    results = None

    print(len(d), total, crc)


main()
