-- Token buckets of the failed-bind throttle and the portal's rate limit (issue 6), in the
-- database so that every node counts the same attempts. `milli` is thousandths of a token,
-- `at_ms` the Unix time in milliseconds of the last change.
CREATE TABLE buckets (
    key   TEXT PRIMARY KEY,
    milli BIGINT NOT NULL,
    at_ms BIGINT NOT NULL
);
