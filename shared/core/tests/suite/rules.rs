//! Save-time validation and the trigger selection rule.

use crate::common;

use chrono::Utc;
use common::*;
use crm_core::condition::{Condition, Op};
use crm_core::context::{ItemContext, Outputs};
use crm_core::error::EngineError;
use crm_core::model::{Chain, Client, Item, Pipeline, Semantic, Stage};
use crm_core::triggers::{EmailRead, MissedCall, Trigger, TriggerKind, Webhook};
use crm_core::triggers::{EventFacts, Selection, TriggerSet};
use proptest::prelude::*;
use serde_json::{Value, json};

fn field_of(e: EngineError) -> Vec<String> {
    match e {
        EngineError::Unprocessable { details } => details.into_iter().map(|d| d.field).collect(),
        EngineError::BadRequest { field, .. } => vec![format!("400:{field}")],
        other => panic!("unexpected {other:?}"),
    }
}

async fn reject(rt: &crm_core::memory::MemRuntime, v: Value) -> Vec<String> {
    field_of(
        rt.engine
            .create_robot(T, "deals", body(v))
            .await
            .unwrap_err(),
    )
}

#[tokio::test]
async fn robots_with_unknown_references_are_rejected_naming_the_setting() {
    let rt = company(MONDAY_1144_MSK).await;
    assert_eq!(
        reject(
            &rt,
            json!({"stage_id": "nope", "type": "add_timeline_comment", "settings": {"text": "x"}})
        )
        .await,
        ["stage_id"]
    );
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "{{nope}}"}})).await, ["settings.text"]);
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "{{fields.unknown}}"}})).await, ["settings.text"]);
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "notify_employee", "settings": {"text": "x", "recipient_ids": ["u-ghost"]}})).await, ["settings.recipient_ids[0]"]);
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "notify_employee", "settings": {"text": "x", "department_ids": ["ghosts"]}})).await, ["settings.department_ids[0]"]);
    assert_eq!(
        reject(
            &rt,
            json!({"stage_id": "new", "type": "change_stage", "settings": {"stage_id": "moon"}})
        )
        .await,
        ["settings.stage_id"]
    );
    assert_eq!(
        reject(&rt, json!({"stage_id": "new", "type": "teleport"})).await,
        ["type"]
    );
    assert_eq!(
        reject(
            &rt,
            json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": 5}})
        )
        .await,
        ["400:settings"]
    );
    assert_eq!(
        reject(
            &rt,
            json!({"stage_id": "new", "type": "add_timeline_comment",
        "condition": {"field": "colour", "op": "eq", "value": "red"}, "settings": {"text": "x"}})
        )
        .await,
        ["condition.colour"]
    );
    assert_eq!(
        reject(
            &rt,
            json!({"stage_id": "new", "type": "add_timeline_comment",
        "delay": {"mode": "after", "amount": 0, "unit": "days"}, "settings": {"text": "x"}})
        )
        .await,
        ["delay.amount"]
    );
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "add_timeline_comment",
        "delay": {"mode": "after_field", "amount": 1, "unit": "days", "field": "fields.source"}, "settings": {"text": "x"}})).await, ["delay.field"]);
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "modify_item", "settings": {"fields": {"stage_id": "won"}}})).await, ["settings.fields.stage_id"]);
    // robot outputs: only earlier robots of the same stage, and only outputs they have
    let chat = robot(&rt, json!({"stage_id": "prep", "type": "create_group_chat", "settings": {"name": "x", "member_ids": ["u-anna", "u-boss"]}})).await;
    let ok = json!({"stage_id": "prep", "type": "send_chat_message", "settings": {"chat_id": format!("{{{{robot.{}.chat_id}}}}", chat.id), "text": "hi"}});
    rt.engine.create_robot(T, "deals", body(ok)).await.unwrap();
    assert_eq!(reject(&rt, json!({"stage_id": "new", "type": "send_chat_message", "settings": {"chat_id": format!("{{{{robot.{}.chat_id}}}}", chat.id), "text": "hi"}})).await, ["settings.chat_id"]);
    assert_eq!(reject(&rt, json!({"stage_id": "prep", "type": "send_chat_message", "settings": {"chat_id": format!("{{{{robot.{}.task_id}}}}", chat.id), "text": "hi"}})).await, ["settings.chat_id"]);
    // nothing was saved by the rejected requests
    assert_eq!(rt.engine.list_robots(T, "deals").await.unwrap().len(), 2);
}

#[tokio::test]
async fn triggers_are_validated_copied_and_deleted() {
    let rt = company(MONDAY_1144_MSK).await;
    let bad = |v: Value| async {
        field_of(
            rt.engine
                .create_trigger(T, "deals", body(v))
                .await
                .unwrap_err(),
        )
    };
    assert_eq!(
        bad(json!({"stage_id": "x", "type": "email_read"})).await,
        ["stage_id"]
    );
    assert_eq!(
        bad(json!({"stage_id": "won", "type": "email_read", "execute_as": "u-ghost"})).await,
        ["execute_as"]
    );
    assert_eq!(
        bad(
            json!({"stage_id": "won", "type": "field_changed", "settings": {"fields": ["colour"]}})
        )
        .await,
        ["settings.fields[0]"]
    );
    assert_eq!(
        bad(
            json!({"stage_id": "won", "type": "task_status", "settings": {"status": "completed",
        "task_filter": {"field": "colour", "op": "eq", "value": 1}}})
        )
        .await,
        ["settings.task_filter.colour"]
    );
    let t = trigger(
        &rt,
        json!({"stage_id": "won", "type": "invoice_paid", "name": "Paid"}),
    )
    .await;
    let c = rt
        .engine
        .copy_trigger(T, "deals", &t.id, body(json!({"stage_id": "presentation"})))
        .await
        .unwrap();
    assert_eq!(
        (c.stage_id.as_str(), c.name.as_str()),
        ("presentation", "Paid")
    );
    rt.engine.delete_trigger(T, "deals", &t.id).await.unwrap();
    assert_eq!(rt.engine.list_triggers(T, "deals").await.unwrap().len(), 1);
    // a stage with triggers cannot be removed from the pipeline
    let mut p = rt.engine.get_pipeline(T, "deals").await.unwrap();
    p.stages.retain(|s| s.id != "presentation");
    let e = rt
        .engine
        .put_pipeline(T, "deals", body(serde_json::to_value(&p).unwrap()))
        .await
        .unwrap_err();
    assert_eq!(field_of(e), ["stages"]);
}

#[tokio::test]
async fn items_reject_bad_fields_and_stale_versions() {
    let rt = company(MONDAY_1144_MSK).await;
    let e = rt
        .engine
        .create_item(
            T,
            body(
                json!({"pipeline_id": "deals", "title": "x", "responsible_id": "u-ghost",
        "fields": {"budget": "lots", "colour": 1}}),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        field_of(e),
        ["fields.budget", "fields.colour", "responsible_id"]
    );
    let item = deal(&rt, "new", 1.0).await;
    let e = rt
        .engine
        .patch_item(
            T,
            &item.id,
            body(json!({"title": "y"})),
            Some(item.version + 7),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::Conflict(_)));
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().title,
        item.title
    );
    // other tenants see nothing
    assert!(matches!(
        rt.engine.get_item("other", &item.id).await,
        Err(EngineError::NotFound { .. })
    ));
}

// ------------------------------------------------------------ selection rule

fn pipeline(n: usize) -> Pipeline {
    Pipeline {
        id: "p".into(),
        entity_type: "deal".into(),
        name: "p".into(),
        stages: (0..n)
            .map(|i| Stage {
                id: format!("s{i}"),
                name: format!("S{i}"),
                semantic: Semantic::Process,
            })
            .collect(),
        fields: Vec::new(),
        email_tracking: true,
    }
}

fn item_at(stage: usize, amount: f64) -> Item {
    let now = Utc::now();
    Item {
        id: "i".into(),
        entity_type: "deal".into(),
        pipeline_id: "p".into(),
        stage_id: format!("s{stage}"),
        visit: 1,
        visit_started_at: now,
        stage_time: Default::default(),
        external_id: None,
        title: "t".into(),
        amount,
        currency: "RUB".into(),
        responsible_id: "u".into(),
        client: Client::default(),
        is_repeat: false,
        fields: Default::default(),
        created_at: now,
        updated_at: now,
        version: 1,
        chain: Chain {
            id: "c".into(),
            hops: 0,
        },
    }
}

fn trig(
    order: u64,
    stage: usize,
    kind: TriggerKind,
    back: bool,
    min_amount: Option<f64>,
) -> Trigger {
    Trigger {
        id: format!("t{order}"),
        pipeline_id: "p".into(),
        stage_id: format!("s{stage}"),
        order,
        name: format!("t{order}"),
        kind,
        condition: min_amount.map(|a| Condition::leaf("amount", Op::Gte, json!(a))),
        execute_as: None,
        allow_backwards: back,
    }
}

fn select(p: &Pipeline, ts: Vec<Trigger>, item: &Item, ev: &str, data: Value) -> Option<String> {
    let set = TriggerSet::new(p, ts);
    let outputs = Outputs::new();
    let ctx = ItemContext {
        item,
        pipeline: p,
        responsible: None,
        outputs: &outputs,
        now: Utc::now(),
    };
    let facts = EventFacts {
        event_type: ev,
        data: &data,
        task: None,
    };
    let pos = p.stage_index(&item.stage_id).unwrap();
    match set.select(pos, &facts, &ctx) {
        Selection::Fire(t) => Some(t.id.clone()),
        Selection::NoMatch(_) => None,
    }
}

#[test]
fn selection_rule_examples() {
    let p = pipeline(5);
    let e = || TriggerKind::EmailRead(EmailRead {});
    let item = item_at(2, 100.0);
    // current stage dropped; backwards dropped unless allowed; first in pipeline order wins
    assert_eq!(
        select(
            &p,
            vec![trig(1, 2, e(), false, None)],
            &item,
            "email_read",
            Value::Null
        ),
        None
    );
    assert_eq!(
        select(
            &p,
            vec![trig(1, 0, e(), false, None)],
            &item,
            "email_read",
            Value::Null
        ),
        None
    );
    assert_eq!(
        select(
            &p,
            vec![trig(1, 0, e(), true, None), trig(2, 3, e(), false, None)],
            &item,
            "email_read",
            Value::Null
        ),
        Some("t1".into())
    );
    assert_eq!(
        select(
            &p,
            vec![trig(1, 4, e(), false, None), trig(2, 3, e(), false, None)],
            &item,
            "email_read",
            Value::Null
        ),
        Some("t2".into())
    );
    // condition false → next candidate
    assert_eq!(
        select(
            &p,
            vec![
                trig(1, 3, e(), false, Some(1000.0)),
                trig(2, 4, e(), false, None)
            ],
            &item,
            "email_read",
            Value::Null
        ),
        Some("t2".into())
    );
    // settings: webhook code must match; other event types ignored
    let w = |c: &str| TriggerKind::Webhook(Webhook { code: c.into() });
    assert_eq!(
        select(
            &p,
            vec![
                trig(1, 3, w("a"), false, None),
                trig(2, 4, w("b"), false, None)
            ],
            &item,
            "webhook",
            json!({"code": "b"})
        ),
        Some("t2".into())
    );
    assert_eq!(
        select(
            &p,
            vec![trig(1, 3, e(), false, None)],
            &item,
            "missed_call",
            Value::Null
        ),
        None
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn selection_matches_the_rule(
        n in 2usize..8,
        cur in 0usize..8,
        amount in 0.0f64..2000.0,
        specs in prop::collection::vec((0usize..8, any::<bool>(), prop::option::of(0.0f64..2000.0), any::<bool>()), 0..25),
    ) {
        let cur = cur % n;
        let p = pipeline(n);
        let item = item_at(cur, amount);
        let ts: Vec<Trigger> = specs.iter().enumerate().map(|(i, (st, back, min, read))| {
            let kind = if *read { TriggerKind::EmailRead(EmailRead {}) } else { TriggerKind::MissedCall(MissedCall {}) };
            trig(i as u64, st % n, kind, *back, *min)
        }).collect();
        let eligible = |t: &Trigger| {
            let pos: usize = t.stage_id[1..].parse().unwrap();
            matches!(t.kind, TriggerKind::EmailRead(_)) && pos != cur && (pos > cur || t.allow_backwards)
                && t.condition.as_ref().is_none_or(|c| matches!(c, Condition::Leaf { value, .. } if amount >= value.as_f64().unwrap()))
        };
        let expected = ts.iter().filter(|t| eligible(t))
            .min_by_key(|t| (t.stage_id[1..].parse::<usize>().unwrap(), t.order))
            .map(|t| t.id.clone());
        prop_assert_eq!(select(&p, ts, &item, "email_read", Value::Null), expected);
    }
}

/// Lets concurrent operations interleave: every transaction waits a turn
/// first, so reads of one operation meet commits of another.
struct Yielding;

#[async_trait::async_trait]
impl crm_core::hooked_store::TransactHook for Yielding {
    async fn transact(
        &self,
        inner: &dyn crm_core::ports::DocStore,
        writes: Vec<crm_core::ports::Write>,
    ) -> Result<(), crm_core::ports::StoreError> {
        tokio::task::yield_now().await;
        inner.transact(writes).await
    }
}

#[tokio::test]
async fn robots_added_edited_and_copied_at_once_all_land_without_a_conflict() {
    let rt = company(MONDAY_1144_MSK).await;
    let mut ports = rt.engine.ports().clone();
    ports.store = std::sync::Arc::new(crm_core::hooked_store::HookedStore::new(
        ports.store.clone(),
        Yielding,
    ));
    let engine = crm_core::Engine::new(ports, crm_core::EngineConfig::default());
    let before = engine.list_robots(T, "deals").await.unwrap().len();
    let add = |n: usize| {
        engine.create_robot(
            T,
            "deals",
            body(json!({"stage_id": "new", "type": "add_timeline_comment",
                "name": format!("r{n}"), "settings": {"text": "x"}})),
        )
    };
    let added = futures::future::join_all((0..12).map(add)).await;
    let added: Vec<_> = added.into_iter().map(|r| r.expect("no 409")).collect();
    let first = added[0].id.clone();
    // Edits of one robot and copies of it at once: the last edit wins, every
    // copy gets a position of its own.
    let edits = (0..4).map(|n| {
        engine.update_robot(
            T,
            "deals",
            &first,
            body(json!({"stage_id": "new", "type": "add_timeline_comment",
                "name": format!("edit{n}"), "settings": {"text": "y"}})),
        )
    });
    let copies =
        (0..4).map(|_| engine.copy_robot(T, "deals", &first, body(json!({"stage_id": "prep"}))));
    let (edited, copied) = futures::future::join(
        futures::future::join_all(edits),
        futures::future::join_all(copies),
    )
    .await;
    for r in edited {
        r.expect("edit without a version: no 409");
    }
    for r in copied {
        r.expect("copy: no 409");
    }
    let robots = engine.list_robots(T, "deals").await.unwrap();
    assert_eq!(robots.len(), before + 12 + 4);
    let mut orders: Vec<u64> = robots.iter().map(|r| r.order).collect();
    orders.sort_unstable();
    orders.dedup();
    assert_eq!(
        orders.len(),
        robots.len(),
        "every robot has a position of its own"
    );
    let edited = robots.iter().find(|r| r.id == first).unwrap();
    assert!(edited.name.starts_with("edit"), "{}", edited.name);
}
