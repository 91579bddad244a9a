ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_token_key;
DROP INDEX api_tokens_token_idx;
