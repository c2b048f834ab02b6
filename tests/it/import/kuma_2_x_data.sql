-- Monitors only 2.x has: a JSON query with its operator, bearer auth, the
-- tls type (port 2 becomes the test TLS peer's), and conditions on a DNS
-- monitor; and a grpc-keyword monitor in 2.x's columns, asking the health
-- service about the whole server. Run after kuma_data.sql.
INSERT INTO monitor (id, name, type, user_id, interval, url, json_path, json_path_operator,
    expected_value, timeout)
VALUES (20, 'Status JSON v2', 'json-query', 1, 60, 'http://{ORIGIN}/health', '$.status', '==', 'ok', 48);

INSERT INTO monitor (id, name, type, user_id, interval, url, json_path, json_path_operator,
    expected_value, timeout)
VALUES (21, 'Queue depth', 'json-query', 1, 60, 'http://{ORIGIN}/health', 'queue', '<', '100', 48);

INSERT INTO monitor (id, name, type, user_id, interval, url, auth_method, bearer_token, timeout)
VALUES (22, 'Token API', 'http', 1, 60, 'http://{ORIGIN}/api', 'bearer', 'api-token', 48);

INSERT INTO monitor (id, name, type, user_id, interval, hostname, port, expected_tls_alert,
    ignore_tls, timeout)
VALUES (23, 'TLS endpoint', 'tls', 1, 3600, '127.0.0.1', 2, 'none', 1, 48);

UPDATE monitor SET conditions = '[{"type":"expression","variable":"record","operator":"contains","value":"::1"}]'
WHERE id = 6;

INSERT INTO monitor (id, name, type, user_id, interval, hostname) VALUES (24, 'Browser', 'real-browser', 1, 60, NULL);
INSERT INTO monitor_notification (id, monitor_id, notification_id) VALUES (20, 20, 1), (21, 22, 1);

-- 2.x's form names the protobuf service in full and the method as the
-- generated client spells it (lower case); an empty request asks about the
-- server as a whole.
INSERT INTO monitor (id, name, type, user_id, interval, timeout, keyword, grpc_url,
    grpc_service_name, grpc_method, grpc_protobuf, grpc_body, grpc_metadata, grpc_enable_tls)
VALUES (25, 'Inventory health', 'grpc-keyword', 1, 30, 24, 'SERVING', 'inventory.internal:50051',
    'grpc.health.v1.Health', 'check',
    'syntax = "proto3"; package grpc.health.v1; message HealthCheckRequest { string service = 1; } message HealthCheckResponse { int32 status = 1; } service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }',
    '{}', '', 0);
