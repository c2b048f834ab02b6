-- The tables of an Uptime Kuma 1.23 database that the importer reads,
-- with every column 1.23 has (its base schema plus the patches it applies
-- at start), written for the import tests.
CREATE TABLE user (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username VARCHAR(255) NOT NULL UNIQUE,
    password VARCHAR(255),
    active BOOLEAN NOT NULL DEFAULT 1,
    timezone VARCHAR(150),
    twofa_secret VARCHAR(64),
    twofa_status BOOLEAN NOT NULL DEFAULT 0,
    twofa_last_token VARCHAR(6)
);

CREATE TABLE setting (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(200) NOT NULL UNIQUE,
    value TEXT,
    type VARCHAR(20)
);

CREATE TABLE monitor (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(150),
    active BOOLEAN NOT NULL DEFAULT 1,
    user_id INTEGER REFERENCES user ON UPDATE CASCADE ON DELETE SET NULL,
    interval INTEGER NOT NULL DEFAULT 20,
    url TEXT,
    type VARCHAR(20),
    weight INTEGER DEFAULT 2000,
    hostname VARCHAR(255),
    port INTEGER,
    created_date DATETIME NOT NULL DEFAULT (DATETIME('now')),
    keyword VARCHAR(255),
    maxretries INTEGER NOT NULL DEFAULT 0,
    ignore_tls BOOLEAN NOT NULL DEFAULT 0,
    upside_down BOOLEAN NOT NULL DEFAULT 0,
    maxredirects INTEGER NOT NULL DEFAULT 10,
    accepted_statuscodes_json TEXT NOT NULL DEFAULT '["200-299"]',
    dns_resolve_type VARCHAR(5),
    dns_resolve_server VARCHAR(255),
    dns_last_result VARCHAR(255),
    retry_interval INTEGER NOT NULL DEFAULT 0,
    push_token VARCHAR(20) DEFAULT NULL,
    method TEXT NOT NULL DEFAULT 'GET',
    body TEXT DEFAULT NULL,
    headers TEXT DEFAULT NULL,
    basic_auth_user TEXT DEFAULT NULL,
    basic_auth_pass TEXT DEFAULT NULL,
    docker_host INTEGER,
    docker_container VARCHAR(255),
    proxy_id INTEGER,
    expiry_notification BOOLEAN DEFAULT 1,
    mqtt_topic TEXT,
    mqtt_success_message VARCHAR(255),
    mqtt_username VARCHAR(255),
    mqtt_password VARCHAR(255),
    database_connection_string VARCHAR(2000),
    database_query TEXT,
    auth_method VARCHAR(250),
    auth_domain TEXT,
    auth_workstation TEXT,
    grpc_url VARCHAR(255) DEFAULT NULL,
    grpc_protobuf TEXT DEFAULT NULL,
    grpc_body TEXT DEFAULT NULL,
    grpc_metadata TEXT DEFAULT NULL,
    grpc_method VARCHAR(255) DEFAULT NULL,
    grpc_service_name VARCHAR(255) DEFAULT NULL,
    grpc_enable_tls BOOLEAN NOT NULL DEFAULT 0,
    radius_username VARCHAR(255),
    radius_password VARCHAR(255),
    radius_calling_station_id VARCHAR(50),
    radius_called_station_id VARCHAR(50),
    radius_secret VARCHAR(255),
    resend_interval INTEGER NOT NULL DEFAULT 0,
    packet_size INTEGER NOT NULL DEFAULT 56,
    game VARCHAR(255),
    http_body_encoding VARCHAR(25),
    description TEXT DEFAULT NULL,
    tls_ca TEXT DEFAULT NULL,
    tls_cert TEXT DEFAULT NULL,
    tls_key TEXT DEFAULT NULL,
    parent INTEGER REFERENCES monitor (id) ON DELETE SET NULL ON UPDATE CASCADE,
    invert_keyword BOOLEAN NOT NULL DEFAULT 0,
    json_path TEXT,
    expected_value VARCHAR(255),
    kafka_producer_topic VARCHAR(255),
    kafka_producer_brokers TEXT,
    kafka_producer_sasl_options TEXT,
    kafka_producer_message TEXT,
    oauth_client_id TEXT DEFAULT NULL,
    oauth_client_secret TEXT DEFAULT NULL,
    oauth_token_url TEXT DEFAULT NULL,
    oauth_scopes TEXT DEFAULT NULL,
    oauth_auth_method TEXT DEFAULT NULL,
    timeout DOUBLE NOT NULL DEFAULT 0,
    gamedig_given_port_only BOOLEAN NOT NULL DEFAULT 1,
    kafka_producer_ssl BOOLEAN NOT NULL DEFAULT 0,
    kafka_producer_allow_auto_topic_creation BOOLEAN NOT NULL DEFAULT 0
);

CREATE TABLE tag (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL,
    color VARCHAR(255) NOT NULL,
    created_date DATETIME NOT NULL DEFAULT (DATETIME('now'))
);

CREATE TABLE monitor_tag (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    monitor_id INTEGER NOT NULL REFERENCES monitor (id) ON DELETE CASCADE ON UPDATE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tag (id) ON DELETE CASCADE ON UPDATE CASCADE,
    value TEXT
);

CREATE TABLE notification (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name VARCHAR(255),
    active BOOLEAN NOT NULL DEFAULT 1,
    user_id INTEGER NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT 0,
    config TEXT
);

CREATE TABLE monitor_notification (
    id INTEGER PRIMARY KEY NOT NULL,
    monitor_id INTEGER NOT NULL REFERENCES monitor (id) ON DELETE CASCADE ON UPDATE CASCADE,
    notification_id INTEGER NOT NULL REFERENCES notification (id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "group" (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL,
    created_date DATETIME NOT NULL DEFAULT (DATETIME('now')),
    public BOOLEAN NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT 1,
    weight BOOLEAN NOT NULL DEFAULT 1000,
    status_page_id INTEGER
);

CREATE TABLE monitor_group (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    monitor_id INTEGER NOT NULL REFERENCES monitor (id) ON DELETE CASCADE ON UPDATE CASCADE,
    group_id INTEGER NOT NULL REFERENCES "group" (id) ON DELETE CASCADE ON UPDATE CASCADE,
    weight BOOLEAN NOT NULL DEFAULT 1000,
    send_url BOOLEAN NOT NULL DEFAULT 0
);
