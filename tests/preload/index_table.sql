-- The LD_PRELOAD test for sqlite3: an indexed table of 150,000 rows built by a recursive CTE,
-- queried, churned and checked. Every figure printed depends only on the data.
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v INTEGER NOT NULL, pad TEXT NOT NULL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 150000)
INSERT INTO t(id, k, v, pad)
SELECT x, printf('key-%07d', (x * 7919) % 150001), (x * 31337) % 1000003,
       substr(hex(zeroblob(300)), 1, 50 + x % 400)
FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_v ON t(v, k);
SELECT count(*), sum(v), sum(length(pad)) FROM t;
SELECT count(*) FROM t WHERE k BETWEEN 'key-0001000' AND 'key-0002000';
SELECT id, v FROM t WHERE k = 'key-0077777';
SELECT group_concat(id, ',') FROM (SELECT id FROM t ORDER BY v, id LIMIT 5);
DELETE FROM t WHERE id % 3 = 0;
UPDATE t SET pad = pad || pad WHERE id % 5 = 0;
SELECT count(*), sum(length(pad)), max(k) FROM t;
SELECT count(*) FROM t INDEXED BY t_v WHERE v < 100000;
PRAGMA integrity_check;
