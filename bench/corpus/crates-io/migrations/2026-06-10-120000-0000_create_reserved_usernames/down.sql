DROP TRIGGER trigger_ensure_username_not_reserved ON users;
DROP FUNCTION ensure_username_not_reserved();
DROP TABLE reserved_usernames;
DROP FUNCTION canon_username(text);
