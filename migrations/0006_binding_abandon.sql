-- A database that knows which environment it is, failed migrations that can be abandoned, and
-- event hashes that do not depend on the database's encoding. Never edit an applied file: add
-- one.
--
-- As in 0003, every writer of a row's status (and of the binding) takes the event log's lock
-- first.

-- `abandoned`: a failed attempt a person gave up (`migrate resolve --abandon`): never run
-- again, and no longer in the way of the migrations after it.
ALTER TABLE stagegate.migrations DROP CONSTRAINT migrations_status_check;
ALTER TABLE stagegate.migrations ADD CONSTRAINT migrations_status_check
    CHECK (status IN ('applied', 'failed', 'running', 'reverted', 'reverting', 'abandoned'));

-- `abandon`: the event of an abandoned attempt. `bind`: the database was bound (or re-bound)
-- to an environment.
ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline', 'down_failure', 'abandon', 'bind'));

-- The environment this database belongs to, and the server's identity when it was bound: the
-- first apply writes it; another environment name reaching this database is refused until
-- `migrate rebind`. Anchored on its `bind` event like a migration's row on its latest event.
CREATE TABLE stagegate.binding (
    one               boolean PRIMARY KEY DEFAULT true CHECK (one),
    environment       text NOT NULL,
    -- pg_control_system().system_identifier: the cluster (a copy made by pg_dump, or a new
    -- cluster after pg_upgrade, has another one; a physical replica has the same).
    system_identifier text NOT NULL,
    -- The database's oid in that cluster.
    database_oid      bigint NOT NULL,
    bound_at          timestamptz NOT NULL,
    event_hash        text NOT NULL
);

-- The server's identity as stagegate records it: `<system identifier>/<database oid>`.
CREATE FUNCTION stagegate.server_identity() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' ||
           (SELECT oid::text FROM pg_database WHERE datname = current_database())
$$;

-- Binds this database to p_environment (first apply, or `migrate rebind`), with its `bind`
-- event (p_detail: JSON with the environment, the identity, the previous binding and why).
CREATE FUNCTION stagegate.bind(p_environment text, p_os_user text, p_detail text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
BEGIN
    LOCK TABLE stagegate.events IN SHARE ROW EXCLUSIVE MODE;
    v_hash := stagegate.append_event('bind', NULL, p_environment, NULL, p_os_user, p_detail);
    INSERT INTO stagegate.binding AS b
        (environment, system_identifier, database_oid, bound_at, event_hash)
    VALUES
        (p_environment, (SELECT system_identifier::text FROM pg_control_system()),
         (SELECT oid::bigint FROM pg_database WHERE datname = current_database()),
         clock_timestamp(), v_hash)
    ON CONFLICT (one) DO UPDATE SET
        environment = excluded.environment,
        system_identifier = excluded.system_identifier,
        database_oid = excluded.database_oid,
        bound_at = excluded.bound_at,
        event_hash = excluded.event_hash;
    RETURN v_hash;
END
$$;

-- The text an event's hash covers, as append_event below builds it: each field's length in
-- UTF-8 (see there).
CREATE OR REPLACE FUNCTION stagegate.event_text(
    p_at timestamptz, p_kind text, p_version text, p_name text, p_checksum text,
    p_db_user text, p_os_user text, p_detail text, p_prev_hash text
) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|',
        (extract(epoch FROM p_at) * 1000000)::bigint::text,
        coalesce(octet_length(convert_to(p_kind, 'UTF8'))::text || ':' || p_kind, '-'),
        coalesce(octet_length(convert_to(p_version, 'UTF8'))::text || ':' || p_version, '-'),
        coalesce(octet_length(convert_to(p_name, 'UTF8'))::text || ':' || p_name, '-'),
        coalesce(octet_length(convert_to(p_checksum, 'UTF8'))::text || ':' || p_checksum, '-'),
        coalesce(octet_length(convert_to(p_db_user, 'UTF8'))::text || ':' || p_db_user, '-'),
        coalesce(octet_length(convert_to(p_os_user, 'UTF8'))::text || ':' || p_os_user, '-'),
        coalesce(octet_length(convert_to(p_detail, 'UTF8'))::text || ':' || p_detail, '-'),
        coalesce(octet_length(convert_to(p_prev_hash, 'UTF8'))::text || ':' || p_prev_hash, '-'))
$$;

-- As in 0003, but each field's length is its length in UTF-8, whatever the database's
-- encoding: octet_length counts bytes in the server's encoding (one for `é` in LATIN1, two in
-- UTF-8) while the text hashed is converted to UTF-8, so a non-ASCII reason in a LATIN1
-- database made a hash that `audit --verify` (src/db/events.rs) could not recompute.
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
    UPDATE stagegate.chain_head SET id = v_id, hash = v_hash;
    RETURN v_hash;
END
$$;
