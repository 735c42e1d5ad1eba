//! Core speed targets (issue 2): trigger selection among 1,000 triggers < 10 µs,
//! rendering a typical robot text < 2 µs, planning a visit of 10 robots < 20 µs.
//! Run: `cargo bench -p crm-core --bench engine`.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use crm_core::context::{ItemContext, Outputs};
use crm_core::model::{Chain, Client, Item, Pipeline, Semantic, Stage, User};
use crm_core::planning::plan_runs;
use crm_core::robots::Robot;
use crm_core::template::Template;
use crm_core::triggers::Trigger;
use crm_core::triggers::{EventFacts, TriggerSet};
use crm_core::workhours::{WorkCalendar, WorkingHours};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T08:44:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn pipeline() -> Pipeline {
    Pipeline {
        id: "deals".into(),
        entity_type: "deal".into(),
        name: "Sales".into(),
        stages: (0..20)
            .map(|i| Stage {
                id: format!("s{i}"),
                name: format!("Stage {i}"),
                semantic: Semantic::Process,
            })
            .collect(),
        fields: Vec::new(),
        email_tracking: true,
    }
}

fn item() -> Item {
    Item {
        id: "item-1".into(),
        entity_type: "deal".into(),
        pipeline_id: "deals".into(),
        stage_id: "s10".into(),
        visit: 3,
        visit_started_at: now(),
        stage_time: Default::default(),
        external_id: None,
        title: "Website for Romashka".into(),
        amount: 15000.0,
        currency: "RUB".into(),
        responsible_id: "u-anna".into(),
        client: Client {
            name: Some("Romashka".into()),
            phone: Some("+74951234567".into()),
            email: None,
            ..Client::default()
        },
        is_repeat: false,
        fields: Default::default(),
        created_at: now(),
        updated_at: now(),
        version: 7,
        chain: Chain {
            id: "c".into(),
            hops: 0,
        },
    }
}

fn user() -> User {
    User {
        id: "u-anna".into(),
        name: "Anna Sales".into(),
        email: None,
        phone: None,
        department_id: None,
        time_zone: "Europe/Moscow".into(),
        working_hours: WorkingHours::default(),
        days_off: Vec::new(),
    }
}

const TYPES: &[&str] = crm_core::triggers::TRIGGER_TYPES;

/// 1,000 triggers over 20 stages and 13 event types, each with a condition.
fn triggers(all_same_type: bool) -> Vec<Trigger> {
    (0..1000u64)
        .map(|i| {
            let ty = if all_same_type { "email_read" } else { TYPES[(i % 13) as usize] };
            let settings = match ty {
                "field_changed" => json!({"fields": ["amount"]}),
                "task_status" => json!({"status": "completed"}),
                "webhook" => json!({"code": format!("c{i}")}),
                _ => json!({}),
            };
            serde_json::from_value(json!({
                "id": format!("t{i}"), "pipeline_id": "deals", "stage_id": format!("s{}", (i * 7) % 20),
                "order": i, "name": format!("t{i}"), "type": ty, "settings": settings,
                // only the very last trigger's condition holds
                "condition": {"field": "amount", "op": "gte", "value": if i == 999 { 1 } else { 1_000_000 }},
                "execute_as": null, "allow_backwards": i % 3 == 0,
            }))
            .unwrap()
        })
        .collect()
}

fn robots() -> Vec<Robot> {
    (0..10u64)
        .map(|i| {
            let delay = match i % 4 {
                0 => json!({"mode": "immediately"}),
                1 => json!({"mode": "after", "amount": 2, "unit": "hours"}),
                2 => json!({"mode": "after", "amount": 1, "unit": "days"}),
                _ => json!({"mode": "after", "amount": 30, "unit": "minutes"}),
            };
            serde_json::from_value(json!({
                "id": format!("r{i}"), "pipeline_id": "deals", "stage_id": "s10", "order": i, "name": "r",
                "type": "notify_supervisor", "settings": {"text": "{{responsible.name}} did not move {{title}}"},
                "delay": delay, "respect_working_hours": i % 2 == 1, "condition": null, "after_previous": i == 9,
            }))
            .unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let p = pipeline();
    let it = item();
    let u = user();
    let outputs = Outputs::new();
    let ctx = ItemContext {
        item: &it,
        pipeline: &p,
        responsible: Some(&u),
        outputs: &outputs,
        now: now(),
    };
    let data = Value::Null;
    let facts = EventFacts {
        event_type: "email_read",
        data: &data,
        task: None,
    };

    for (name, same) in [
        ("select_trigger_1000_mixed_types", false),
        ("select_trigger_1000_same_type", true),
    ] {
        let set = TriggerSet::new(&p, triggers(same));
        c.bench_function(name, |b| {
            b.iter(|| black_box(set.select(10, black_box(&facts), &ctx)));
        });
    }

    let t = Template::parse(
        "Deal {{title}} for {{amount}} {{currency}}, responsible {{responsible.name}}",
    )
    .unwrap();
    c.bench_function("render_typical_text", |b| {
        b.iter(|| black_box(t.render(black_box(&ctx))))
    });

    let rs = robots();
    let cal = WorkCalendar::new(chrono_tz::Europe::Moscow, WorkingHours::default(), []);
    let chain = Chain {
        id: "c".into(),
        hops: 0,
    };
    c.bench_function("plan_visit_10_robots", |b| {
        b.iter(|| black_box(plan_runs(black_box(&it), &rs, now(), &chain, Some(&cal))));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
