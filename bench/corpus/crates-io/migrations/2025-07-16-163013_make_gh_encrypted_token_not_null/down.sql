ALTER TABLE users ALTER COLUMN gh_encrypted_token DROP NOT NULL;
