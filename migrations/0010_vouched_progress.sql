-- A no-transaction migration's progress is vouched for by the event log: the attempt starts
-- with an `apply_start` event and each statement recorded done appends an `apply_progress`
-- event (in the statement's own transaction where it has one, so no extra round trip), each
-- with the statements done, of how many, and their checksum as JSON. A `running` row must
-- match its migration's latest event, which is one of these two: a row set to `running` by
-- hand, or with more statements done than the log says, does not verify, so nothing resumes
-- past statements that never ran. Never edit an applied file: add one.
--
-- As in 0003, every writer of a row's status takes the event log's lock first.

ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline', 'down_failure', 'abandon', 'bind', 'approval', 'after_apply',
                    'after_down', 'down_replace', 'apply_start', 'apply_progress'));

-- The detail of an `apply_start` or `apply_progress` event.
CREATE FUNCTION stagegate.progress_detail(p_done integer, p_total integer, p_done_checksum text)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT json_build_object('statements_done', p_done, 'statements_total', p_total,
                             'done_checksum', p_done_checksum)::text
$$;

-- A no-transaction migration is about to run (or resume) at statement p_statements_done + 1:
-- appends its `apply_start` event and writes the `running` row anchored on it. Returns false,
-- writing nothing, when the migration is already applied (another run got there first).
CREATE FUNCTION stagegate.record_start(
    p_version text, p_version_text text, p_name text, p_checksum text, p_down_checksum text,
    p_verify_checksum text, p_os_user text, p_statements_done integer,
    p_statements_total integer, p_done_checksum text
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_hash   text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT status INTO v_status FROM stagegate.migrations WHERE version = p_version;
    IF v_status = 'applied' THEN
        RETURN false;
    END IF;
    v_hash := stagegate.append_event(
        'apply_start', p_version_text, p_name, p_checksum, p_os_user,
        stagegate.progress_detail(p_statements_done, p_statements_total, p_done_checksum));
    INSERT INTO stagegate.migrations AS m
        (version, version_text, name, checksum, down_checksum, verify_checksum,
         no_transaction, status, started_at, db_user, os_user, statements_done,
         statements_total, done_checksum, event_hash)
    VALUES (p_version, p_version_text, p_name, p_checksum, p_down_checksum, p_verify_checksum,
            true, 'running', clock_timestamp(), current_user, p_os_user, p_statements_done,
            p_statements_total, p_done_checksum, v_hash)
    ON CONFLICT (version) DO UPDATE SET
        version_text = excluded.version_text, name = excluded.name,
        checksum = excluded.checksum, down_checksum = excluded.down_checksum,
        verify_checksum = excluded.verify_checksum, no_transaction = true,
        status = 'running', rolled_back = false, db_user = excluded.db_user,
        os_user = excluded.os_user, statements_done = excluded.statements_done,
        statements_total = excluded.statements_total,
        done_checksum = excluded.done_checksum, error = NULL,
        finished_at = NULL, duration_ms = NULL, running_statement = NULL,
        running_pid = NULL, running_since = NULL, event_hash = excluded.event_hash;
    RETURN true;
END
$$;

-- As in 0003, and the step is an `apply_progress` event the row is anchored on.
CREATE OR REPLACE FUNCTION stagegate.record_progress(
    p_version text, p_done integer, p_done_checksum text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_row  record;
    v_hash text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT version_text, name, checksum, os_user, statements_total INTO v_row
    FROM stagegate.migrations
    WHERE version = p_version AND status = 'running' AND statements_done = p_done - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SG003',
            MESSAGE = format('statement %s of migration %s cannot be recorded done: it is not '
                             'the next one of a running attempt', p_done, p_version);
    END IF;
    v_hash := stagegate.append_event(
        'apply_progress', v_row.version_text, v_row.name, v_row.checksum, v_row.os_user,
        stagegate.progress_detail(p_done, v_row.statements_total, p_done_checksum));
    UPDATE stagegate.migrations
    SET statements_done = p_done, done_checksum = p_done_checksum,
        running_statement = NULL, running_pid = NULL, running_since = NULL,
        event_hash = v_hash
    WHERE version = p_version;
END
$$;
