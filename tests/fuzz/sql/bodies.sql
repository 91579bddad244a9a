-- stagegate:no-transaction
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.updated_at := now();
  EXECUTE format('UPDATE %I SET x = 1', TG_TABLE_NAME);
  EXECUTE 'ALTER TABLE t ADD COLUMN y int';
  RETURN NEW;
END
$fn$;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id FROM users LOOP
    UPDATE users SET email = lower(email) WHERE id = r.id;
    COMMIT;
  END LOOP;
END $$;
CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC
  INSERT INTO log VALUES (1);
  DELETE FROM log WHERE id < 0;
END;
CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); SELECT 2);
CREATE INDEX CONCURRENTLY orders_at ON orders (created_at);
