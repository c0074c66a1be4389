-- The staged configuration (one for the whole deployment, like a shared "Changes" area):
-- what an upload produced, and the version it was based on, so a commit can tell whether the
-- active configuration moved meanwhile (409). Secrets are already in stored form.
CREATE TABLE config_candidate (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    base_version  integer     NOT NULL,
    mode          text        NOT NULL CHECK (mode IN ('merge', 'replace')),
    xml           text        NOT NULL,
    uploaded_by   text        NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);
