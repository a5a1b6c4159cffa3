//! LLM turns gather a conversation's messages that arrive close together into one pending turn.

use std::time::Duration;

use switchyard_shared::db::tenants::NewTenant;
use switchyard_shared::db::{TenantTx, contacts, conversations, llm_turns};
use switchyard_shared::domain::{Channel, E164Number, TenantId, TenantSlug};
use switchyard_shared::tenancy;
use uuid::Uuid;

use crate::helpers::*;

async fn conversation(env: &TestEnv) -> (TenantId, Uuid) {
    let tenant = tenancy::create_tenant(
        &env.pool,
        &NewTenant {
            slug: TenantSlug::parse("turns").unwrap(),
            name: "Turns".into(),
            welcome_text: None,
            external_org_id: None,
        },
    )
    .await
    .unwrap()
    .id;
    let mut tx = TenantTx::begin(&env.pool, tenant).await.unwrap();
    let phone = E164Number::parse("+15550001111").unwrap();
    let (contact, _) = contacts::upsert_phone(&mut tx, &phone).await.unwrap();
    let id = conversations::upsert(&mut tx, contact, Channel::Sms, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (tenant, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_close_together_join_one_turn_that_waits_no_longer_than_its_cap() {
    let env = TestEnv::new().await;
    let (tenant, conversation) = conversation(&env).await;
    let window = Duration::from_millis(300);
    let cap = Duration::from_millis(700);
    let mut tx = TenantTx::begin(&env.pool, tenant).await.unwrap();
    let first = llm_turns::schedule(&mut tx, conversation, window, cap)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The customer keeps typing: each message joins the turn and pushes it back.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut tx = TenantTx::begin(&env.pool, tenant).await.unwrap();
        let joined = llm_turns::schedule(&mut tx, conversation, window, cap)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(joined, first);
    }
    // 800 ms after the first message the cap (700 ms) has passed: the turn is due.
    let due = llm_turns::due(&env.pool, 10).await.unwrap();
    assert_eq!(due, vec![(tenant, first)]);
    let mut tx = TenantTx::begin(&env.pool, tenant).await.unwrap();
    let turn = llm_turns::claim(&mut tx, first, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(turn.messages, 5);
    assert!(
        llm_turns::claim(&mut tx, first, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "claimed once"
    );
    tx.commit().await.unwrap();

    // A message while it runs starts the next turn; a failed run then yields to it.
    let mut tx = TenantTx::begin(&env.pool, tenant).await.unwrap();
    let next = llm_turns::schedule(&mut tx, conversation, window, cap)
        .await
        .unwrap();
    assert_ne!(next, first);
    let retried = llm_turns::retry(&mut tx, first, "LLM unavailable", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(!retried);
    tx.commit().await.unwrap();
    assert_eq!(
        env.count("SELECT count(*) FROM llm_turns WHERE status = 'pending'")
            .await,
        1
    );
    assert_eq!(
        env.count("SELECT count(*) FROM llm_turns WHERE status = 'done'")
            .await,
        1
    );
}
