-- Plain webhooks are a destination toolkit too (an HTTP POST, not a Composio toolkit).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_toolkit_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_toolkit_check
    CHECK (toolkit IN ('slack', 'jira', 'pagerduty', 'gmail', 'webhook'));
ALTER TABLE delivery_threads DROP CONSTRAINT delivery_threads_toolkit_check;
ALTER TABLE delivery_threads ADD CONSTRAINT delivery_threads_toolkit_check
    CHECK (toolkit IN ('slack', 'jira', 'pagerduty', 'gmail', 'webhook'));
