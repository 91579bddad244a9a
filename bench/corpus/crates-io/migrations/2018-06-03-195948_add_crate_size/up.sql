ALTER TABLE versions
ADD COLUMN crate_size integer;
