-- Monitors, tags and notifications of each kind, for both database
-- versions. {ORIGIN} in a URL and port 1 become the test origin's.
INSERT INTO user (id, username, password) VALUES (1, 'admin', 'not-a-hash');
INSERT INTO setting ("key", value, type) VALUES ('tlsExpiryNotifyDays', '[7,14,21]', 'general');

INSERT INTO monitor (id, name, type, user_id, interval, url, method, maxretries, retry_interval,
    resend_interval, accepted_statuscodes_json, timeout, expiry_notification, description)
VALUES (1, 'Shop front', 'http', 1, 60, 'http://{ORIGIN}/health', 'GET', 2, 20, 3,
    '["200-299","304"]', 48, 0, 'the public shop');

INSERT INTO monitor (id, name, type, user_id, interval, url, keyword, timeout, expiry_notification)
VALUES (2, 'Health keyword', 'keyword', 1, 30, 'http://{ORIGIN}/health', 'ok', 24, 0);

INSERT INTO monitor (id, name, type, user_id, interval, url, json_path, expected_value, timeout)
VALUES (3, 'Status JSON', 'json-query', 1, 60, 'http://{ORIGIN}/health', 'status', 'ok', 48);

INSERT INTO monitor (id, name, type, user_id, interval, url, method, headers, body,
    http_body_encoding, auth_method, basic_auth_user, basic_auth_pass, maxredirects, timeout)
VALUES (4, 'Login API', 'http', 1, 120, 'http://{ORIGIN}/login', 'POST',
    '{"X-Probe": "kuma", "Accept": "application/json"}', '{"user": "probe"}', 'json',
    'basic', 'probe', 's3cret', 0, 10);

INSERT INTO monitor (id, name, type, user_id, interval, hostname, port, timeout)
VALUES (5, 'Origin port', 'port', 1, 60, '127.0.0.1', 1, 48);

INSERT INTO monitor (id, name, type, user_id, interval, hostname, port, dns_resolve_type,
    dns_resolve_server)
VALUES (6, 'Resolver', 'dns', 1, 300, 'example.org', 5353, 'AAAA', '127.0.0.1');

INSERT INTO monitor (id, name, type, user_id, interval, push_token)
VALUES (7, 'Nightly job', 'push', 1, 86400, 'kuma-push-token');

INSERT INTO monitor (id, name, type, user_id, interval, hostname, packet_size)
VALUES (8, 'Router', 'ping', 1, 60, '127.0.0.1', 56);

INSERT INTO monitor (id, name, type, user_id, interval) VALUES (9, 'Backend', 'group', 1, 60);
INSERT INTO monitor (id, name, type, user_id, interval, url, parent, timeout)
VALUES (10, 'Backend health', 'http', 1, 60, 'http://{ORIGIN}/backend', 9, 48);

INSERT INTO monitor (id, name, type, user_id, interval, docker_container, docker_host)
VALUES (11, 'Worker container', 'docker', 1, 60, 'worker', 1);

INSERT INTO monitor (id, name, type, user_id, interval, url, active)
VALUES (12, 'Old site', 'http', 1, 60, 'http://{ORIGIN}/old', 0);

INSERT INTO monitor (id, name, type, user_id, interval, url, upside_down)
VALUES (13, 'Must be down', 'http', 1, 60, 'http://{ORIGIN}/gone', 1);

INSERT INTO monitor (id, name, type, user_id, interval, database_connection_string)
VALUES (14, 'Orders DB', 'postgres', 1, 60, 'postgres://127.0.0.1:5432/orders');

INSERT INTO tag (id, name, color) VALUES (1, 'prod', '#059669'), (2, 'team', '#2563EB');
INSERT INTO monitor_tag (monitor_id, tag_id, value) VALUES (1, 1, ''), (1, 2, 'web'), (2, 2, 'web'), (3, 2, 'web');

INSERT INTO notification (id, name, active, user_id, is_default, config) VALUES
 (1, 'Ops Slack', 1, 1, 1, '{"name":"Ops Slack","type":"slack","isDefault":true,"slackwebhookURL":"http://127.0.0.1:9/slack","slackchannel":"#ops","applyExisting":false}'),
 (2, 'Ops Mail', 1, 1, 0, '{"name":"Ops Mail","type":"smtp","smtpHost":"127.0.0.1","smtpPort":465,"smtpSecure":true,"smtpUsername":"kuma","smtpPassword":"mail-pass","smtpFrom":"\"Uptime Kuma\" <kuma@example.com>","smtpTo":"ops@example.com, oncall@example.com","smtpCC":"lead@example.com"}'),
 (3, 'Pager', 1, 1, 0, '{"name":"Pager","type":"PagerDuty","pagerdutyIntegrationUrl":"http://127.0.0.1:9/pd","pagerdutyIntegrationKey":"pd-routing-key","pagerdutyPriority":"high"}'),
 (4, 'Team Discord', 1, 1, 0, '{"name":"Team Discord","type":"discord","discordWebhookUrl":"http://127.0.0.1:9/discord","discordUsername":"kuma"}'),
 (5, 'Hook', 1, 1, 0, '{"name":"Hook","type":"webhook","webhookURL":"http://127.0.0.1:9/hook","webhookContentType":"json"}'),
 (6, 'Chat', 1, 1, 0, '{"name":"Chat","type":"mattermost","mattermostWebhookUrl":"http://127.0.0.1:9/mm"}'),
 (7, 'Phone', 1, 1, 0, '{"name":"Phone","type":"telegram","telegramBotToken":"123:abc","telegramChatID":"42"}');
INSERT INTO monitor_notification (id, monitor_id, notification_id) VALUES
 (1, 1, 1), (2, 1, 2), (3, 2, 1), (4, 3, 1), (5, 4, 3), (6, 5, 4), (7, 10, 5), (8, 10, 6), (9, 7, 7), (10, 7, 2);
