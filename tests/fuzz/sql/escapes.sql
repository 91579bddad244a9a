ALTER TABLE t[8m ADD COLUMN "c‮" int;
COMMENT ON TABLE t IS ']0;title';
-- stagegate:allow SG201 -- [2K hidden
DROP TABLE "​";
