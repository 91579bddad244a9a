ALTER TABLE crates DROP COLUMN readme_file;
