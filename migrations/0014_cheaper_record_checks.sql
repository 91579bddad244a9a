-- The record's checks at a lower cost, the same checks. Never edit an applied file: add one.
--
-- 1. append_event moves the head anchor through its key (`WHERE one`), as record_apply does
--    since 0013: its one row is updated by every event and, while any transaction is open on
--    the server, its dead versions stay, so the table grows by pages that an UPDATE without a
--    condition reads in full for every event other than `apply` (progress, failures,
--    resolutions). Otherwise the function is 0006's.
--
-- 2. The allowed event kinds and row statuses are checked against one array constant
--    (`kind = ANY ('{...}'::text[])`) instead of a list (`kind IN ('apply', ...)`, which is
--    stored as an ARRAY[...] of one constant per kind). A CHECK is stored as a node tree in
--    text and, for every INSERT and UPDATE, read back (stringToNode: each byte of each
--    constant is a number in that text), planned (the list folded into an array) and compiled
--    again; the list of 19 kinds took 3,773 characters, the array 1,281. Measured with
--    callgrind on a single-user backend running apply's transactions (a one-table CREATE
--    TABLE and its record): 3.78M instructions per migration before, 3.67M after, against
--    3.57M with no check at all (docs/performance.md, fifth round). The guarantee is the same
--    (`x IN (a, b)` is `x = ANY (ARRAY[a, b])`): every value stored by any INSERT, UPDATE or
--    COPY is one of the list (23514 otherwise). A domain with the check, read once per session
--    into the type cache, was measured too and cost more: any change to pg_constraint (a
--    CREATE TABLE with a key) empties that cache, so it is read again in each migration.

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
        coalesce(octet_length(convert_to(p_kind, 'UTF8'))::text || ':' || p_kind, '-'),
        coalesce(octet_length(convert_to(p_version, 'UTF8'))::text || ':' || p_version, '-'),
        coalesce(octet_length(convert_to(p_name, 'UTF8'))::text || ':' || p_name, '-'),
        coalesce(octet_length(convert_to(p_checksum, 'UTF8'))::text || ':' || p_checksum, '-'),
        coalesce(octet_length(convert_to(v_user, 'UTF8'))::text || ':' || v_user, '-'),
        coalesce(octet_length(convert_to(p_os_user, 'UTF8'))::text || ':' || p_os_user, '-'),
        coalesce(octet_length(convert_to(p_detail, 'UTF8'))::text || ':' || p_detail, '-'),
        coalesce(octet_length(convert_to(v_prev, 'UTF8'))::text || ':' || v_prev, '-')),
        'UTF8')), 'hex');
    INSERT INTO stagegate.events
        (id, at, kind, version, name, checksum, db_user, os_user, detail, prev_hash, hash)
    OVERRIDING SYSTEM VALUE
    VALUES
        (v_id, v_at, p_kind, p_version, p_name, p_checksum, v_user, p_os_user, p_detail,
         v_prev, v_hash);
    UPDATE stagegate.chain_head SET id = v_id, hash = v_hash WHERE one;
    RETURN v_hash;
END
$$;

-- The kinds and statuses of 0012's constraints (the newest), the same lists.
ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind = ANY ('{apply,failure,resolve,down,backup,confirmation,repair,baseline,'
                        'down_failure,abandon,bind,approval,after_apply,after_down,'
                        'down_replace,apply_start,apply_progress,down_start,down_progress}'::text[]));
ALTER TABLE stagegate.migrations DROP CONSTRAINT migrations_status_check;
ALTER TABLE stagegate.migrations ADD CONSTRAINT migrations_status_check
    CHECK (status = ANY ('{applied,failed,running,reverted,reverting,abandoned}'::text[]));
