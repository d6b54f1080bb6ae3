CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 100000)
INSERT INTO t SELECT i, hex(randomblob(abs(random()) % 64 + 8)), random() FROM s;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(length(b)) FROM t WHERE b > 'A';
SELECT substr(b,1,2) AS k, count(*) FROM t GROUP BY k ORDER BY 2 DESC LIMIT 3;
