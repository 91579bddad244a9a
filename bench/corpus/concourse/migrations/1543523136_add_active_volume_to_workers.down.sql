
ALTER TABLE workers DROP COLUMN active_volumes;

