-- Fixed-window counters for anything that checks a secret or sends a message (password
-- attempts per username and per client address, later email codes). They live in PostgreSQL,
-- not in one instance's memory, so every instance behind a load balancer counts the same
-- attempts. `bucket` is an opaque key chosen by the caller (usernames and addresses are
-- hashed before they get here).
CREATE TABLE rate_limits (
    bucket        text        PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    hits          integer     NOT NULL
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);
