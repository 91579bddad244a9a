ALTER TABLE versions ADD COLUMN rust_version VARCHAR;
