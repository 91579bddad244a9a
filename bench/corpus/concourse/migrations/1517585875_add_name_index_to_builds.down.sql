
DROP INDEX builds_name;

