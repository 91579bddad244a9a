-- append_event without the call to stagegate.event_text: a SQL function that cannot be inlined
-- (concat_ws is only STABLE) is parsed and planned again in every transaction, which made each
-- recorded migration ~60 µs slower on the server. The hashed text is the same as
-- stagegate.event_text's, field for field (`stagegate audit --verify` and src/db/events.rs
-- rebuild it independently); event_text stays as its documented definition.
CREATE OR REPLACE FUNCTION stagegate.append_event(
    p_kind text, p_version text, p_name text, p_checksum text, p_os_user text, p_detail text
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_at   timestamptz := clock_timestamp();
    v_user text := current_user::text;
    v_prev text;
    v_hash text;
BEGIN
    -- One appender at a time, so two events never claim the same predecessor.
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    SELECT hash INTO v_prev FROM stagegate.events ORDER BY id DESC LIMIT 1;
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
        (at, kind, version, name, checksum, db_user, os_user, detail, prev_hash, hash)
    VALUES
        (v_at, p_kind, p_version, p_name, p_checksum, v_user, p_os_user, p_detail,
         v_prev, v_hash);
    RETURN v_hash;
END
$$;
