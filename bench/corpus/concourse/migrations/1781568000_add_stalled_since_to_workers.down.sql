ALTER TABLE workers DROP COLUMN stalled_since;
