-- `migrate down`: a migration can be reverted, and a no-transaction down script records its
-- progress like an up does. Never edit an applied file: add one.
--
-- As in 0003, every writer of a row's status takes the event log's lock first.

-- `reverted`: its down script ran and its record committed with it; apply applies it again.
-- `reverting`: a no-transaction down script stopped part way (or is running); the down
-- progress columns say how far it got, and `migrate down` resumes it.
ALTER TABLE stagegate.migrations DROP CONSTRAINT migrations_status_check;
ALTER TABLE stagegate.migrations ADD CONSTRAINT migrations_status_check
    CHECK (status IN ('applied', 'failed', 'running', 'reverted', 'reverting'));

ALTER TABLE stagegate.migrations
    -- A no-transaction down script: statements done, of how many, and the SHA-256 over the
    -- done ones (so a resumed down can check they did not change). NULL unless reverting.
    ADD COLUMN down_statements_done  integer,
    ADD COLUMN down_statements_total integer,
    ADD COLUMN down_done_checksum    text;

-- `down_failure`: a down script failed; its transaction was rolled back (the row stays
-- applied) or, for a no-transaction one, it stopped part way (the row is `reverting`).
ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline', 'down_failure'));

-- Marks a migration reverted and appends its `down` event, inside the down script's own
-- transaction, only if the row is what the run read: applied (a no-transaction down:
-- reverting with every down statement done) with the same up and down checksums. Otherwise
-- it raises SG005, so the transaction rolls back and the down never takes effect twice.
CREATE FUNCTION stagegate.record_revert(
    p_version text, p_version_text text, p_name text, p_checksum text, p_down_checksum text,
    p_no_transaction boolean, p_os_user text, p_statements_total integer
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status   text;
    v_checksum text;
    v_down     text;
    v_done     integer;
    v_hash     text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT status, checksum, down_checksum, down_statements_done
    INTO v_status, v_checksum, v_down, v_done
    FROM stagegate.migrations WHERE version = p_version;
    IF v_checksum IS DISTINCT FROM p_checksum
       OR v_down IS DISTINCT FROM p_down_checksum
       OR (NOT p_no_transaction AND v_status IS DISTINCT FROM 'applied')
       OR (p_no_transaction AND (v_status IS DISTINCT FROM 'reverting'
                                 OR v_done IS DISTINCT FROM p_statements_total)) THEN
        RAISE EXCEPTION USING ERRCODE = 'SG005',
            MESSAGE = format('migration %s cannot be recorded reverted: it is not %s with '
                             'checksum %s and down checksum %s (status %s, checksum %s, down '
                             'checksum %s); another run changed it meanwhile',
                             p_version_text,
                             CASE WHEN p_no_transaction
                                  THEN 'reverting with all ' || p_statements_total
                                       || ' down statements done'
                                  ELSE 'applied' END,
                             p_checksum, coalesce(p_down_checksum, 'none'),
                             coalesce(v_status, 'none'), coalesce(v_checksum, 'none'),
                             coalesce(v_down, 'none'));
    END IF;
    v_hash := stagegate.append_event('down', p_version_text, p_name, p_checksum, p_os_user,
                                     NULL);
    -- None of the up script is in effect any more: a later apply starts it from the top.
    UPDATE stagegate.migrations
    SET status = 'reverted', finished_at = clock_timestamp(), db_user = current_user,
        os_user = p_os_user, statements_done = 0, done_checksum = NULL, error = NULL,
        running_statement = NULL, running_pid = NULL, running_since = NULL,
        down_statements_done = NULL, down_statements_total = NULL, down_done_checksum = NULL,
        event_hash = v_hash
    WHERE version = p_version;
END
$$;

-- Down statement p_done of a reverting no-transaction migration is done; only ever the one
-- after the last recorded (SG003 otherwise), in the statement's own transaction where it
-- allows one.
CREATE FUNCTION stagegate.record_down_progress(p_version text, p_done integer,
                                               p_done_checksum text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stagegate.migrations
    SET down_statements_done = p_done, down_done_checksum = p_done_checksum,
        running_statement = NULL, running_pid = NULL, running_since = NULL
    WHERE version = p_version AND status = 'reverting' AND down_statements_done = p_done - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SG003',
            MESSAGE = format('down statement %s of migration %s cannot be recorded done: it '
                             'is not the next one of a running down', p_done, p_version);
    END IF;
END
$$;

-- Down statement p_index is about to be sent outside any transaction (as
-- record_statement_start for an up).
CREATE FUNCTION stagegate.record_down_statement_start(p_version text, p_index integer)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stagegate.migrations
    SET running_statement = p_index, running_pid = pg_backend_pid(),
        running_since = clock_timestamp()
    WHERE version = p_version AND status = 'reverting' AND down_statements_done = p_index - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SG003',
            MESSAGE = format('down statement %s of migration %s cannot start: it is not the '
                             'next one of a running down', p_index, p_version);
    END IF;
END
$$;
