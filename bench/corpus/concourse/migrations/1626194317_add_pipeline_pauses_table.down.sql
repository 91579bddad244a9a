ALTER TABLE pipelines
  DROP COLUMN paused_by,
  DROP COLUMN paused_at;
