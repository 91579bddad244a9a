-- A migration whose SQL is rendered from another file (an Alembic revision: its file is its
-- identity, `checksum`) records the checksum of the SQL that ran, and what rendered it, so a
-- re-rendering that differs (another SQLAlchemy or Alembic) is told apart from an edit, and
-- promotion can require the SQL that ran before. NULL for plain SQL files. Never edit an
-- applied file: add one.

ALTER TABLE stagegate.migrations
    ADD COLUMN rendered_checksum text,
    ADD COLUMN rendered_by text;
