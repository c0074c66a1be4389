DROP INDEX auth_flows_browser_idx;
