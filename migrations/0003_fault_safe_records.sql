-- Records that cannot be written twice, no-transaction progress that only moves one statement
-- at a time, and anchors that show a truncated event log. Never edit an applied file: add one.
--
-- Every writer of stagegate.migrations's status takes the event log's lock first (LOCK TABLE
-- stagegate.events IN SHARE ROW EXCLUSIVE MODE, which conflicts with itself), so a check of a row's status followed by a write cannot race with another run's write.

ALTER TABLE stagegate.migrations
    -- Hash of the event that last changed this row's status: an anchor outside the events
    -- table, so a removed event shows even when it was the newest one.
    ADD COLUMN event_hash        text,
    -- No-transaction migrations: the statement (1-based) sent to the server whose end is not
    -- recorded yet, used for statements that cannot run inside a transaction block, and the
    -- backend that runs it. NULL when every statement sent is accounted for.
    ADD COLUMN running_statement integer,
    ADD COLUMN running_pid       integer,
    ADD COLUMN running_since     timestamptz;

-- `repair`: stagegate fixed something before running a statement (an invalid index dropped).
ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline'));

UPDATE stagegate.migrations m
SET event_hash = (SELECT e.hash FROM stagegate.events e
                  WHERE e.version = m.version_text ORDER BY e.id DESC LIMIT 1);

-- The newest event, kept by append_event: a second anchor for the tail of the chain.
CREATE TABLE stagegate.chain_head (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    -- Newest event's id (0 when there is none) and hash (the genesis hash when none).
    id            bigint NOT NULL,
    hash          text NOT NULL,
    -- Event ids above this one are consecutive (earlier versions let a rolled-back append
    -- leave a gap; from this version on the id is assigned under the log's lock).
    gapless_after bigint NOT NULL
);
INSERT INTO stagegate.chain_head (id, hash, gapless_after)
SELECT coalesce(max(id), 0),
       coalesce((SELECT hash FROM stagegate.events ORDER BY id DESC LIMIT 1),
                'sha256:' || repeat('0', 64)),
       coalesce(max(id), 0)
FROM stagegate.events;

CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON stagegate.chain_head
    FOR EACH ROW EXECUTE FUNCTION stagegate.reject_event_change();
CREATE TRIGGER chain_head_no_truncate BEFORE TRUNCATE ON stagegate.chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION stagegate.reject_event_change();

-- As in 0002, and the id is the previous one plus one, so ids have no gaps.
CREATE OR REPLACE FUNCTION stagegate.append_event(
    p_kind text, p_version text, p_name text, p_checksum text, p_os_user text, p_detail text
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_at   timestamptz := clock_timestamp();
    v_user text := current_user::text;
    v_id   bigint;
    v_prev text;
    v_hash text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT id, hash INTO v_id, v_prev FROM stagegate.events ORDER BY id DESC LIMIT 1;
    v_id := coalesce(v_id, 0) + 1;
    v_prev := coalesce(v_prev, 'sha256:' || repeat('0', 64));
    v_hash := 'sha256:' || encode(sha256(convert_to(concat_ws('|',
        (extract(epoch FROM v_at) * 1000000)::bigint::text,
        coalesce(octet_length(p_kind)::text || ':' || p_kind, '-'),
        coalesce(octet_length(p_version)::text || ':' || p_version, '-'),
        coalesce(octet_length(p_name)::text || ':' || p_name, '-'),
        coalesce(octet_length(p_checksum)::text || ':' || p_checksum, '-'),
        coalesce(octet_length(v_user)::text || ':' || v_user, '-'),
        coalesce(octet_length(p_os_user)::text || ':' || p_os_user, '-'),
        coalesce(octet_length(p_detail)::text || ':' || p_detail, '-'),
        coalesce(octet_length(v_prev)::text || ':' || v_prev, '-')), 'UTF8')), 'hex');
    INSERT INTO stagegate.events
        (id, at, kind, version, name, checksum, db_user, os_user, detail, prev_hash, hash)
    OVERRIDING SYSTEM VALUE
    VALUES
        (v_id, v_at, p_kind, p_version, p_name, p_checksum, v_user, p_os_user, p_detail,
         v_prev, v_hash);
    UPDATE stagegate.chain_head SET id = v_id, hash = v_hash;
    RETURN v_hash;
END
$$;

-- Marks a migration applied and appends its `apply` event, inside the migration's own
-- transaction, only if it is not applied yet: a second run of an applied version fails here
-- (SQLSTATE SG001), so its transaction rolls back and the migration never takes effect twice.
-- A no-transaction migration must be `running` with every statement recorded done.
CREATE OR REPLACE FUNCTION stagegate.record_apply(
    p_version text, p_version_text text, p_name text, p_checksum text, p_down_checksum text,
    p_verify_checksum text, p_no_transaction boolean, p_os_user text, p_statements_total integer,
    p_done_checksum text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_done   integer;
    v_hash   text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT status, statements_done INTO v_status, v_done
    FROM stagegate.migrations WHERE version = p_version;
    IF v_status = 'applied' THEN
        RAISE EXCEPTION USING ERRCODE = 'SG001',
            MESSAGE = format('migration %s is already recorded as applied (by another run)',
                             p_version_text);
    END IF;
    IF p_no_transaction AND (v_status IS DISTINCT FROM 'running'
                             OR v_done IS DISTINCT FROM p_statements_total) THEN
        RAISE EXCEPTION USING ERRCODE = 'SG002',
            MESSAGE = format('migration %s is not running with all %s statements done '
                             '(status %s, %s done)', p_version_text, p_statements_total,
                             coalesce(v_status, 'none'), coalesce(v_done::text, 'none'));
    END IF;
    v_hash := stagegate.append_event('apply', p_version_text, p_name, p_checksum, p_os_user,
                                     NULL);
    INSERT INTO stagegate.migrations AS m
        (version, version_text, name, checksum, down_checksum, verify_checksum, no_transaction,
         status, started_at, finished_at, duration_ms, db_user, os_user, statements_done,
         statements_total, done_checksum, event_hash)
    VALUES
        (p_version, p_version_text, p_name, p_checksum, p_down_checksum, p_verify_checksum,
         p_no_transaction, 'applied', now(), clock_timestamp(),
         (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint, current_user,
         p_os_user, p_statements_total, p_statements_total, p_done_checksum, v_hash)
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
        error = NULL,
        running_statement = NULL,
        running_pid = NULL,
        running_since = NULL,
        event_hash = excluded.event_hash;
END
$$;

-- A no-transaction migration's statement p_done is done; only ever the one after the last
-- recorded (SQLSTATE SG003 otherwise). Runs in the statement's own transaction where the
-- statement allows one, so the statement and its record commit together.
CREATE FUNCTION stagegate.record_progress(p_version text, p_done integer, p_done_checksum text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stagegate.migrations
    SET statements_done = p_done, done_checksum = p_done_checksum,
        running_statement = NULL, running_pid = NULL, running_since = NULL
    WHERE version = p_version AND status = 'running' AND statements_done = p_done - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SG003',
            MESSAGE = format('statement %s of migration %s cannot be recorded done: it is not '
                             'the next one of a running attempt', p_done, p_version);
    END IF;
END
$$;

-- Statement p_index of a no-transaction migration is about to be sent, outside any
-- transaction: if the run dies, the row says which statement the server may have finished,
-- and on which backend.
CREATE FUNCTION stagegate.record_statement_start(p_version text, p_index integer)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stagegate.migrations
    SET running_statement = p_index, running_pid = pg_backend_pid(),
        running_since = clock_timestamp()
    WHERE version = p_version AND status = 'running' AND statements_done = p_index - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SG003',
            MESSAGE = format('statement %s of migration %s cannot start: it is not the next '
                             'one of a running attempt', p_index, p_version);
    END IF;
END
$$;
