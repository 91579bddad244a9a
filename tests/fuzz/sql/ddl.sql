-- stagegate:lock-timeout 2s
-- stagegate:allow SG201 -- the column was unused since release 41
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, note varchar(20));
ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();
ALTER TABLE users ALTER COLUMN note TYPE varchar(40);
ALTER TABLE users DROP COLUMN note;
CREATE INDEX users_email ON users (lower(email));
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_id ON users (id) WHERE id > 0;
ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '') NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_email_check;
COMMENT ON TABLE users IS 'people''s accounts';
GRANT SELECT ON users TO reader;
REVOKE ALL ON users FROM PUBLIC;
DROP TABLE IF EXISTS old_users CASCADE;
