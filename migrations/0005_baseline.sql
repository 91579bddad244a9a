-- `migrate baseline`: a migration another runner applied is recorded as applied without
-- running it. Never edit an applied file: add one.
--
-- As in 0003, every writer of a row's status takes the event log's lock first.

ALTER TABLE stagegate.migrations
    -- Where the record came from when stagegate did not run the migration: the runner whose
    -- table said it was applied (`sqlx`, `diesel`, `flyway`, `dbmate`, `golang-migrate`) or
    -- `manual` (`--to`). NULL for a migration stagegate ran.
    ADD COLUMN baselined_from text;

-- Records a migration another runner applied as applied, marked baselined, and appends its
-- `baseline` event (p_detail: the runner, the reason, what the runner's table said). Only a
-- version with no row yet: anything stagegate recorded itself is left as it is (SG006).
CREATE FUNCTION stagegate.record_baseline(
    p_version text, p_version_text text, p_name text, p_checksum text, p_down_checksum text,
    p_verify_checksum text, p_no_transaction boolean, p_os_user text, p_statements_total integer,
    p_applied_at timestamptz, p_from text, p_detail text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_hash   text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT status INTO v_status FROM stagegate.migrations WHERE version = p_version;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SG006',
            MESSAGE = format('migration %s is already recorded (status %s); baseline leaves '
                             'what stagegate recorded itself as it is', p_version_text, v_status);
    END IF;
    v_hash := stagegate.append_event('baseline', p_version_text, p_name, p_checksum, p_os_user,
                                     p_detail);
    INSERT INTO stagegate.migrations
        (version, version_text, name, checksum, down_checksum, verify_checksum, no_transaction,
         status, started_at, finished_at, duration_ms, db_user, os_user, statements_done,
         statements_total, event_hash, baselined_from)
    VALUES
        (p_version, p_version_text, p_name, p_checksum, p_down_checksum, p_verify_checksum,
         p_no_transaction, 'applied', coalesce(p_applied_at, now()),
         coalesce(p_applied_at, now()), NULL, current_user, p_os_user, p_statements_total,
         p_statements_total, v_hash, p_from);
END
$$;
