-- What Uptime Kuma 2.x adds to a 1.23 database when it upgrades it: its
-- knex migration table and the monitor columns of its migrations, written
-- for the import tests (run after kuma_1_23.sql).
CREATE TABLE knex_migrations (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255),
    batch INTEGER,
    migration_time DATETIME
);
INSERT INTO knex_migrations (name, batch) VALUES ('2023-08-16-0000-create-uptime.js', 1);

ALTER TABLE monitor ADD COLUMN mqtt_check_type VARCHAR(255) NOT NULL DEFAULT 'keyword';
ALTER TABLE monitor ADD COLUMN remote_browser INTEGER DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN snmp_oid VARCHAR(255) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN snmp_version TEXT DEFAULT '2c';
ALTER TABLE monitor ADD COLUMN json_path_operator VARCHAR(255) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN cache_bust BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE monitor ADD COLUMN conditions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE monitor ADD COLUMN rabbitmq_nodes TEXT;
ALTER TABLE monitor ADD COLUMN rabbitmq_username VARCHAR(255);
ALTER TABLE monitor ADD COLUMN rabbitmq_password VARCHAR(255);
ALTER TABLE monitor ADD COLUMN smtp_security VARCHAR(255) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN ws_ignore_sec_websocket_accept_header BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE monitor ADD COLUMN ws_subprotocol VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE monitor ADD COLUMN ping_count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE monitor ADD COLUMN ping_numeric BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE monitor ADD COLUMN ping_per_request_timeout INTEGER NOT NULL DEFAULT 2;
ALTER TABLE monitor ADD COLUMN ip_family VARCHAR(4) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN manual_status VARCHAR(255) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN oauth_audience VARCHAR(255) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN mqtt_websocket_path VARCHAR(255);
ALTER TABLE monitor ADD COLUMN domain_expiry_notification BOOLEAN DEFAULT 1;
ALTER TABLE monitor ADD COLUMN save_response BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE monitor ADD COLUMN save_error_response BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE monitor ADD COLUMN response_max_length INTEGER NOT NULL DEFAULT 1024;
ALTER TABLE monitor ADD COLUMN system_service_name VARCHAR(255);
ALTER TABLE monitor ADD COLUMN subtype VARCHAR(10);
ALTER TABLE monitor ADD COLUMN location VARCHAR(255);
ALTER TABLE monitor ADD COLUMN protocol VARCHAR(20);
ALTER TABLE monitor ADD COLUMN snmp_v3_username VARCHAR(255);
ALTER TABLE monitor ADD COLUMN expected_tls_alert VARCHAR(50) DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN retry_only_on_status_code_failure BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE monitor ADD COLUMN screenshot_delay INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monitor ADD COLUMN ntp_root_dispersion_threshold INTEGER DEFAULT 500;
ALTER TABLE monitor ADD COLUMN ntp_stratum_threshold INTEGER DEFAULT 5;
ALTER TABLE monitor ADD COLUMN ntp_time_offset_threshold INTEGER DEFAULT 1000;
ALTER TABLE monitor ADD COLUMN bearer_token TEXT DEFAULT NULL;
ALTER TABLE monitor ADD COLUMN gamedig_token TEXT DEFAULT NULL;
