CREATE TABLE d (id int)
ALTR TABLE t ADD c int;
SELECT ((((1;
UPDATE t SET a = (1));
ALTER TABLE t ADD COLUMN b int
CREATE INDEX i ON t (b);
CREATE INDX j ON t (a);
SELECT 'unterminated;
