//! The flow tables in the database, below the API: conversation states as the engine will use
//! them (lock, write, read), row-level security on every flow table, and the composite keys
//! that stop a row from pointing at another tenant's parent.

use switchyard_shared::db::conversation_states::{self, NewState};
use switchyard_shared::db::{DbError, TenantTx, contacts, conversations, flows, tenant_modules};
use switchyard_shared::domain::{Channel, E164Number, TenantId};
use switchyard_shared::flows::{FlowDefinition, FlowStatus, Trigger, TriggerDefinition};
use uuid::Uuid;

use crate::flows::menu_steps;
use crate::helpers::*;

/// A tenant module, a flow and a conversation of `tenant`; their ids.
async fn seed(app: &TestApp, tenant: TenantId, phone: &str) -> (Uuid, Uuid, Uuid) {
    let definition: FlowDefinition =
        serde_json::from_value(serde_json::json!({ "steps": menu_steps() })).unwrap();
    let flow = definition.parse().unwrap();
    let settings = flows::FlowSettings {
        name: "Menu".into(),
        trigger: Trigger::parse(&TriggerDefinition {
            kind: "first_contact".into(),
            keywords: None,
        })
        .unwrap(),
        is_active: true,
    };
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let catalogue: Uuid = sqlx::query_scalar("SELECT id FROM modules WHERE key = 'welcome'")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let module = tenant_modules::enable(&mut tx, catalogue, true)
        .await
        .unwrap();
    let flow = flows::create(&mut tx, module.id, &settings, &flow)
        .await
        .unwrap();
    let phone = E164Number::parse(phone).unwrap();
    let (contact, _) = contacts::upsert_phone(&mut tx, &phone).await.unwrap();
    let conversation = conversations::upsert(&mut tx, contact, Channel::Sms, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (module.id, flow.id, conversation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_states_lock_write_and_stay_with_their_tenant() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha", None).await;
    let b = app.create_tenant("beta", None).await;
    let (a_module, a_flow, a_conversation) = seed(&app, a, "+15550001111").await;
    let (_, b_flow, b_conversation) = seed(&app, b, "+15550002222").await;

    // A conversation without a state is idle; locking creates the idle row.
    let mut tx = TenantTx::begin(&app.pool, a).await.unwrap();
    assert_eq!(
        conversation_states::get(&mut tx, a_conversation)
            .await
            .unwrap(),
        None
    );
    let locked = conversation_states::lock(&mut tx, a_conversation)
        .await
        .unwrap()
        .expect("A's conversation");
    assert_eq!((locked.status, locked.flow_id), (FlowStatus::Idle, None));
    let waiting = NewState {
        flow_id: Some(a_flow),
        step_key: Some("menu"),
        status: FlowStatus::WaitingReply,
    };
    let written = conversation_states::upsert(&mut tx, a_conversation, &waiting)
        .await
        .unwrap();
    assert_eq!(written.step_key.as_deref(), Some("menu"));
    tx.commit().await.unwrap();

    // The lock holds off a second handler of the same conversation until the first commits.
    let mut first = TenantTx::begin(&app.pool, a).await.unwrap();
    conversation_states::lock(&mut first, a_conversation)
        .await
        .unwrap();
    let pool = app.pool.clone();
    let second = tokio::spawn(async move {
        let mut tx = TenantTx::begin(&pool, a).await.unwrap();
        let state = conversation_states::lock(&mut tx, a_conversation)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        state.expect("A's conversation")
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second lock waits");
    conversation_states::upsert(
        &mut first,
        a_conversation,
        &NewState {
            flow_id: Some(a_flow),
            step_key: None,
            status: FlowStatus::HandedOver,
        },
    )
    .await
    .unwrap();
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap().status, FlowStatus::HandedOver);

    // Tenant B sees none of A's flow rows, and cannot point its rows at A's.
    let mut tx = TenantTx::begin(&app.pool, b).await.unwrap();
    assert_eq!(
        conversation_states::get(&mut tx, a_conversation)
            .await
            .unwrap(),
        None
    );
    assert!(flows::get(&mut tx, a_flow).await.unwrap().is_none());
    assert!(
        tenant_modules::get(&mut tx, a_module)
            .await
            .unwrap()
            .is_none()
    );
    for sql in [
        "SELECT count(*) FROM tenant_modules WHERE tenant_id = $1",
        "SELECT count(*) FROM flows WHERE tenant_id = $1",
        "SELECT count(*) FROM flow_steps WHERE tenant_id = $1",
        "SELECT count(*) FROM conversation_states WHERE tenant_id = $1",
    ] {
        let seen: i64 = sqlx::query_scalar(sql)
            .bind(a.as_uuid())
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(seen, 0, "{sql}");
    }
    let foreign_flow = NewState {
        flow_id: Some(a_flow),
        step_key: Some("menu"),
        status: FlowStatus::WaitingReply,
    };
    let refused = conversation_states::upsert(&mut tx, b_conversation, &foreign_flow).await;
    assert!(
        matches!(refused, Err(DbError::MissingReference { .. })),
        "{refused:?}"
    );
    tx.rollback().await.unwrap();
    let mut tx = TenantTx::begin(&app.pool, b).await.unwrap();
    // Another tenant's conversation is not found, with or without a state row.
    assert_eq!(
        conversation_states::lock(&mut tx, a_conversation)
            .await
            .unwrap(),
        None
    );
    tx.rollback().await.unwrap();
    let mut tx = TenantTx::begin(&app.pool, a).await.unwrap();
    assert_eq!(
        conversation_states::lock(&mut tx, b_conversation)
            .await
            .unwrap(),
        None
    );
    tx.rollback().await.unwrap();
    let mut tx = TenantTx::begin(&app.pool, b).await.unwrap();
    let forged = sqlx::query(
        "INSERT INTO flows (id, tenant_id, tenant_module_id, name, trigger_kind) \
         VALUES ($1, $2, $3, 'x', 'first_contact')",
    )
    .bind(Uuid::now_v7())
    .bind(b.as_uuid())
    .bind(a_module)
    .execute(tx.conn())
    .await;
    assert!(matches!(
        forged.map_err(DbError::from),
        Err(DbError::MissingReference { .. })
    ));
    tx.rollback().await.unwrap();

    // Deleting a flow leaves conversations in it idle.
    let mut tx = TenantTx::begin(&app.pool, b).await.unwrap();
    let waiting = NewState {
        flow_id: Some(b_flow),
        step_key: Some("menu"),
        status: FlowStatus::WaitingReply,
    };
    conversation_states::upsert(&mut tx, b_conversation, &waiting)
        .await
        .unwrap();
    assert!(flows::delete(&mut tx, b_flow).await.unwrap());
    let state = conversation_states::get(&mut tx, b_conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.status, state.flow_id, state.step_key),
        (FlowStatus::Idle, None, None)
    );
    tx.commit().await.unwrap();
}
