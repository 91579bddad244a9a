-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY i ON t (a);
/* nested /* comment */ still comment */
SELECT E'it\'s', U&'d\0061t\+000061', $tag$ $$ not the end $tag$, "quoted ""ident""";

-- migrate:down
DROP INDEX CONCURRENTLY i;
