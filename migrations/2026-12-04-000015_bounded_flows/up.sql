-- Opening a flow drops the same browser's oldest unfinished ones beyond a few, which needs
-- the browser's flows found without a scan.
CREATE INDEX auth_flows_browser_idx ON auth_flows (browser_hash, created_at);
