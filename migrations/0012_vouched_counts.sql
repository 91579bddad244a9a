-- Every count of statements done that a resume relies on is vouched for by the event log, as
-- a running up attempt's is since 0010:
--
-- - a no-transaction down script's attempt starts with a `down_start` event (written by the
--   run with the `reverting` row, which is anchored on it) and each down statement recorded
--   done appends a `down_progress` event, in the statement's own transaction where it has
--   one; the details are `stagegate.progress_detail`'s, as for `apply_start` and
--   `apply_progress`;
-- - a count recorded otherwise (a failed attempt's, a failed down's, or one a human settled
--   with `migrate resolve`) appends an `apply_progress` or `down_progress` event first when
--   the log does not already hold it (the runner does, in the record's transaction).
--
-- So a `failed` or `reverting` row whose count differs from its script's latest progress
-- event does not verify, and nothing resumes past statements that never ran. Never edit an
-- applied file: add one.
--
-- As in 0003, every writer of a row's status takes the event log's lock first.

ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline', 'down_failure', 'abandon', 'bind', 'approval', 'after_apply',
                    'after_down', 'down_replace', 'apply_start', 'apply_progress',
                    'down_start', 'down_progress'));

-- As in 0004 (0011: ST003), and the step is a `down_progress` event the row is anchored on,
-- by the user of the event the row is anchored on (the down's `down_start` or the
-- statement before).
CREATE OR REPLACE FUNCTION stagegate.record_down_progress(p_version text, p_done integer,
                                                          p_done_checksum text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_row  record;
    v_hash text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT m.version_text, m.name, m.checksum, m.down_statements_total, e.os_user INTO v_row
    FROM stagegate.migrations m LEFT JOIN stagegate.events e ON e.hash = m.event_hash
    WHERE m.version = p_version AND m.status = 'reverting'
      AND m.down_statements_done = p_done - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ST003',
            MESSAGE = format('down statement %s of migration %s cannot be recorded done: it '
                             'is not the next one of a running down', p_done, p_version);
    END IF;
    v_hash := stagegate.append_event(
        'down_progress', v_row.version_text, v_row.name, v_row.checksum, v_row.os_user,
        stagegate.progress_detail(p_done, v_row.down_statements_total, p_done_checksum));
    UPDATE stagegate.migrations
    SET down_statements_done = p_done, down_done_checksum = p_done_checksum,
        running_statement = NULL, running_pid = NULL, running_since = NULL,
        event_hash = v_hash
    WHERE version = p_version;
END
$$;
