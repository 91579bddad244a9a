-- The SQLSTATEs the state functions raise move from class SG, which looked like the lint
-- codes (SG101, ...), to class ST: ST001 a version already applied, ST002 a no-transaction
-- migration recorded applied before every statement is done, ST003 a statement recorded out
-- of order, ST005 a row that is not (or no longer) applied as the run read it, ST006 a
-- baseline over a row stagegate recorded itself. (ST004, a partitioned index still invalid, is
-- raised by a block the runner sends, not by a function here.) ST, for state, is an
-- implementation-defined class (it starts with a letter from I to Z) PostgreSQL does not use.
--
-- Each function that raises one is redefined from its own current definition with only the
-- codes changed, so this migration holds no second copy of any function's body.
DO $migration$
DECLARE
    f oid;
    definition text;
BEGIN
    FOR f IN
        SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'stagegate' AND p.prokind = 'f'
    LOOP
        definition := pg_get_functiondef(f);
        IF definition ~ 'ERRCODE = ''SG00[0-9]''' THEN
            EXECUTE regexp_replace(
                definition, 'ERRCODE = ''SG(00[0-9])''', 'ERRCODE = ''ST\1''', 'g'
            );
        END IF;
    END LOOP;
END
$migration$;
