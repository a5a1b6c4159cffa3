//! Tenant isolation in the database: the runtime role is subject to row-level security.

use switchyard_shared::db::TenantTx;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_transaction_sees_none_of_another_tenants_rows() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha", Some("hi a")).await;
    app.put_whatsapp(a, "100000000000011", "200000000000011", None)
        .await;
    let b = app.create_tenant("beta", Some("hi b")).await;
    app.put_whatsapp(b, "100000000000022", "200000000000022", None)
        .await;
    for (pnid, waba, wamid) in [
        ("100000000000011", "200000000000011", "wamid.A"),
        ("100000000000022", "200000000000022", "wamid.B1"),
        ("100000000000022", "200000000000022", "wamid.B2"),
    ] {
        let event = inbound_text(pnid, waba, "15550001111", wamid, "hi");
        assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    }
    eventually("all messages", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == 3
    })
    .await;

    // The runtime role cannot bypass RLS and does not own the tables.
    let (bypass, owns): (bool, bool) = sqlx::query_as(
        "SELECT rolbypassrls, pg_has_role(current_user, (SELECT tableowner FROM pg_tables \
           WHERE tablename = 'messages'), 'MEMBER') FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!bypass && !owns);

    let mut tx = TenantTx::begin(&app.pool, a).await.unwrap();
    for sql in [
        "SELECT count(*) FROM messages WHERE tenant_id = $1",
        "SELECT count(*) FROM contacts WHERE tenant_id = $1",
        "SELECT count(*) FROM conversations WHERE tenant_id = $1",
        "SELECT count(*) FROM processed_events WHERE tenant_id = $1",
        "SELECT count(*) FROM whatsapp_channels WHERE tenant_id = $1",
        "SELECT count(*) FROM outbox WHERE tenant_id = $1",
        "SELECT count(*) FROM tenants WHERE id = $1",
    ] {
        let seen: i64 = sqlx::query_scalar(sql)
            .bind(b.as_uuid())
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(seen, 0, "{sql}");
    }
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(own, 1);
    // Writing a row for another tenant is refused by the policy's WITH CHECK.
    let forged =
        sqlx::query("INSERT INTO contacts (id, tenant_id, phone) VALUES ($1, $2, '+1999')")
            .bind(uuid::Uuid::now_v7())
            .bind(b.as_uuid())
            .execute(tx.conn())
            .await;
    let code = forged
        .unwrap_err()
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("42501"));
    tx.rollback().await.unwrap();

    // With no tenant set (a connection that had one before reads '' back), nothing is visible.
    let tx = TenantTx::begin(&app.pool, a).await.unwrap();
    tx.commit().await.unwrap();
    let anonymous: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(anonymous, 0);
}
