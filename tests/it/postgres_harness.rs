//! The PostgreSQL harness itself: every call gives a database of its own,
//! empty, on one shared server, that no other test sees into.

use sqlx::PgPool;

use crate::helpers::{TestDatabase, test_database};

/// The tables outside PostgreSQL's own schemas, as `schema.table`.
async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("list the tables")
}

/// `pool` is on `database`, and it holds no table.
async fn assert_fresh(database: &TestDatabase, pool: &PgPool) {
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .expect("current_database()");
    assert_eq!(current, database.name, "the URL names its own database");
    assert_eq!(tables(pool).await, Vec::<String>::new(), "fresh is empty");
}

#[tokio::test]
async fn each_database_is_fresh_empty_and_apart() {
    let first = test_database().await;
    let second = test_database().await;
    assert_ne!(first.name, second.name);
    assert_ne!(first.url, second.url);
    let server = |url: &str| {
        let url = url::Url::parse(url).expect("a URL");
        (url.host_str().map(str::to_owned), url.port())
    };
    assert_eq!(server(&first.url), server(&second.url), "one server");

    let (a, b) = (first.pool().await, second.pool().await);
    assert_fresh(&first, &a).await;
    assert_fresh(&second, &b).await;

    sqlx::query("CREATE TABLE checks (id bigint PRIMARY KEY)")
        .execute(&a)
        .await
        .expect("create a table");
    sqlx::query("INSERT INTO checks VALUES (1)")
        .execute(&a)
        .await
        .expect("insert a row");
    assert_eq!(tables(&a).await, ["public.checks"]);
    assert_eq!(tables(&b).await, Vec::<String>::new(), "b does not see a's");
    let read = sqlx::query("SELECT id FROM checks").fetch_all(&b).await;
    assert!(read.is_err(), "b has no table checks: {read:?}");
    a.close().await;
    b.close().await;
}
