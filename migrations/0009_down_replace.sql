-- `migrate replace-down`: the down script recorded for an applied migration is replaced (a
-- wrong down fixed) or declared a no-op (`noop`: `migrate down` runs nothing for it and
-- records it reverted). Never edit an applied file: add one.
--
-- As in 0003, every writer of a row's status takes the event log's lock first.

ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline', 'down_failure', 'abandon', 'bind', 'approval', 'after_apply',
                    'after_down', 'down_replace'));

-- Replaces the recorded down checksum of an applied migration and appends its
-- `down_replace` event (p_detail: the reason, the old and the new down checksums), only if
-- the row is what the run read: applied, with the same up and down checksums. Otherwise it
-- raises SG005 and nothing changes.
CREATE FUNCTION stagegate.record_down_replace(
    p_version text, p_version_text text, p_name text, p_checksum text, p_old_down text,
    p_new_down text, p_os_user text, p_detail text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_status   text;
    v_checksum text;
    v_down     text;
    v_hash     text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT status, checksum, down_checksum INTO v_status, v_checksum, v_down
    FROM stagegate.migrations WHERE version = p_version;
    IF v_status IS DISTINCT FROM 'applied' OR v_checksum IS DISTINCT FROM p_checksum
       OR v_down IS DISTINCT FROM p_old_down THEN
        RAISE EXCEPTION USING ERRCODE = 'SG005',
            MESSAGE = format('the down script of migration %s cannot be replaced: it is not '
                             'applied with checksum %s and down checksum %s (status %s, '
                             'checksum %s, down checksum %s); another run changed it meanwhile',
                             p_version_text, p_checksum, coalesce(p_old_down, 'none'),
                             coalesce(v_status, 'none'), coalesce(v_checksum, 'none'),
                             coalesce(v_down, 'none'));
    END IF;
    v_hash := stagegate.append_event('down_replace', p_version_text, p_name, p_checksum,
                                     p_os_user, p_detail);
    UPDATE stagegate.migrations
    SET down_checksum = p_new_down, event_hash = v_hash
    WHERE version = p_version;
END
$$;
