-- A small table for the address-space test: enough allocations to show that hakmem served
-- sqlite3, little enough memory to run under a 50 MB address-space limit.
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
INSERT INTO t(id, k) SELECT x, printf('key-%05d', (x * 7919) % 3001) FROM c;
CREATE INDEX t_k ON t(k);
SELECT count(*), max(k), sum(length(k)) FROM t;
