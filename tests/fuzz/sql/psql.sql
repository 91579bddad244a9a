\set ON_ERROR_STOP on
BEGIN;
COPY t (a, b) FROM stdin;
1	x;y
2	\N
\.
SET lock_timeout = '1s';
LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
ALTER TYPE mood ADD VALUE 'happy' BEFORE 'sad';
UPDATE t SET mood = 'happy';
VACUUM ANALYZE t;
COMMIT;
