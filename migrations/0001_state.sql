-- stagegate's own state in a target database, schema `stagegate` (created by the migrator,
-- which tracks this file in stagegate._sqlx_migrations). Never edit an applied file: add one.

-- One row per migration stagegate has run (or tried to run) here.
CREATE TABLE stagegate.migrations (
    -- Canonical version (numeric parts without leading zeros, joined by '.').
    version          text PRIMARY KEY,
    -- The version as written in the file name.
    version_text     text NOT NULL,
    name             text NOT NULL,
    checksum         text NOT NULL,
    down_checksum    text,
    verify_checksum  text,
    no_transaction   boolean NOT NULL,
    status           text NOT NULL CHECK (status IN ('applied', 'failed', 'running')),
    -- A failure inside a transaction was rolled back: nothing of it is left in the database.
    rolled_back      boolean NOT NULL DEFAULT false,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    duration_ms      bigint,
    db_user          text NOT NULL,
    os_user          text,
    statements_done  integer NOT NULL,
    statements_total integer NOT NULL,
    -- SHA-256 over the statements already run (no-transaction migrations), so a resumed run
    -- can check that the part already applied did not change.
    done_checksum    text,
    error            text,
    resolved_at      timestamptz,
    resolved_reason  text
);

-- Append-only log. Each event carries the hash of the one before, so an edited, removed or
-- inserted event breaks the chain (`stagegate audit --verify`).
CREATE TABLE stagegate.events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL,
    kind      text NOT NULL
              CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation')),
    version   text,
    name      text,
    checksum  text,
    db_user   text NOT NULL,
    os_user   text,
    -- Why (resolve, confirmation) or what went wrong (failure).
    detail    text,
    prev_hash text NOT NULL UNIQUE,
    hash      text NOT NULL
);

CREATE FUNCTION stagegate.reject_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stagegate.events is append-only';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON stagegate.events
    FOR EACH ROW EXECUTE FUNCTION stagegate.reject_event_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON stagegate.events
    FOR EACH STATEMENT EXECUTE FUNCTION stagegate.reject_event_change();

-- The text an event's hash is computed over: each field as `<byte length>:<text>`, or `-` when
-- NULL, joined by '|'; the time as microseconds since the Unix epoch. `stagegate audit
-- --verify` recomputes it independently (src/db/events.rs); keep the two in step.
CREATE FUNCTION stagegate.event_text(
    p_at timestamptz, p_kind text, p_version text, p_name text, p_checksum text,
    p_db_user text, p_os_user text, p_detail text, p_prev_hash text
) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|',
        (extract(epoch FROM p_at) * 1000000)::bigint::text,
        coalesce(octet_length(p_kind)::text || ':' || p_kind, '-'),
        coalesce(octet_length(p_version)::text || ':' || p_version, '-'),
        coalesce(octet_length(p_name)::text || ':' || p_name, '-'),
        coalesce(octet_length(p_checksum)::text || ':' || p_checksum, '-'),
        coalesce(octet_length(p_db_user)::text || ':' || p_db_user, '-'),
        coalesce(octet_length(p_os_user)::text || ':' || p_os_user, '-'),
        coalesce(octet_length(p_detail)::text || ':' || p_detail, '-'),
        coalesce(octet_length(p_prev_hash)::text || ':' || p_prev_hash, '-'))
$$;

-- Appends one event at the end of the chain; returns its hash. The only writer of events.
CREATE FUNCTION stagegate.append_event(
    p_kind text, p_version text, p_name text, p_checksum text, p_os_user text, p_detail text
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_at   timestamptz := clock_timestamp();
    v_prev text;
    v_hash text;
BEGIN
    -- One appender at a time, so two events never claim the same predecessor.
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT hash INTO v_prev FROM stagegate.events ORDER BY id DESC LIMIT 1;
    v_prev := coalesce(v_prev, 'sha256:' || repeat('0', 64));
    v_hash := 'sha256:' || encode(sha256(convert_to(stagegate.event_text(
        v_at, p_kind, p_version, p_name, p_checksum, current_user::text, p_os_user, p_detail,
        v_prev), 'UTF8')), 'hex');
    INSERT INTO stagegate.events
        (at, kind, version, name, checksum, db_user, os_user, detail, prev_hash, hash)
    VALUES
        (v_at, p_kind, p_version, p_name, p_checksum, current_user, p_os_user, p_detail,
         v_prev, v_hash);
    RETURN v_hash;
END
$$;

-- Marks a migration applied and appends its `apply` event. Called inside the migration's own
-- transaction, so the change and its record commit together. For a no-transaction migration
-- the `running` row written before its first statement keeps its start time.
CREATE FUNCTION stagegate.record_apply(
    p_version text, p_version_text text, p_name text, p_checksum text, p_down_checksum text,
    p_verify_checksum text, p_no_transaction boolean, p_os_user text, p_statements_total integer,
    p_done_checksum text
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stagegate.migrations AS m
        (version, version_text, name, checksum, down_checksum, verify_checksum, no_transaction,
         status, started_at, finished_at, duration_ms, db_user, os_user, statements_done,
         statements_total, done_checksum)
    VALUES
        (p_version, p_version_text, p_name, p_checksum, p_down_checksum, p_verify_checksum,
         p_no_transaction, 'applied', now(), clock_timestamp(),
         (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint, current_user,
         p_os_user, p_statements_total, p_statements_total, p_done_checksum)
    ON CONFLICT (version) DO UPDATE SET
        version_text = excluded.version_text,
        name = excluded.name,
        checksum = excluded.checksum,
        down_checksum = excluded.down_checksum,
        verify_checksum = excluded.verify_checksum,
        no_transaction = excluded.no_transaction,
        status = 'applied',
        rolled_back = false,
        started_at = CASE WHEN m.status = 'running' OR (m.status = 'failed' AND NOT m.rolled_back)
                          THEN m.started_at ELSE excluded.started_at END,
        finished_at = excluded.finished_at,
        duration_ms = (extract(epoch FROM clock_timestamp() -
                       CASE WHEN m.status = 'running' OR (m.status = 'failed' AND NOT m.rolled_back)
                            THEN m.started_at ELSE excluded.started_at END) * 1000)::bigint,
        db_user = excluded.db_user,
        os_user = excluded.os_user,
        statements_done = excluded.statements_done,
        statements_total = excluded.statements_total,
        done_checksum = excluded.done_checksum,
        error = NULL;
    PERFORM stagegate.append_event('apply', p_version_text, p_name, p_checksum, p_os_user, NULL);
END
$$;
