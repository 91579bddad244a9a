-- `approval`: a sign-off of one plan hash (`migrate approve`), counted by the approvals gate
-- of `migrate plan` and `migrate apply` while the plan hashes the same. `after_apply` and
-- `after_down`: the outcome, output tail and duration of the command run after an apply or
-- a down committed. All three are run events (no migration version) in the hash chain.

ALTER TABLE stagegate.events DROP CONSTRAINT events_kind_check;
ALTER TABLE stagegate.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'failure', 'resolve', 'down', 'backup', 'confirmation', 'repair',
                    'baseline', 'down_failure', 'abandon', 'bind', 'approval', 'after_apply',
                    'after_down'));
