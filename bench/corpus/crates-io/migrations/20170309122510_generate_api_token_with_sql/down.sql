ALTER TABLE users ALTER COLUMN api_token DROP DEFAULT;
DROP FUNCTION random_string(int4);
