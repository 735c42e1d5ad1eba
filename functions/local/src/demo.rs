//! `--demo`: a ready company and pipeline from the seed articles.
//!
//! Users and departments (a sales head, two managers, two designers, a
//! lawyer; Europe/Moscow, Mon–Fri 09:00–18:00), the pipeline `deals`
//! (New orders → Project preparation → Client presentation → Won / Lost), the
//! robots and trigger of the "employee control" article and the chat robots
//! of the "employee alerts" article. Loading is idempotent: directory records
//! and the pipeline are upserts, and robots and triggers are only added to a
//! pipeline that has none yet.

use crm_core::Engine;
use crm_core::api::{DepartmentBody, PipelineBody, RobotBody, TriggerBody, UserBody};
use crm_core::error::EngineError;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Id of the demo pipeline.
pub const PIPELINE: &str = "deals";

/// What [`load`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLoaded {
    /// Robots and the trigger were created now (false: they existed already).
    pub automation_created: bool,
    /// Number of robots on the pipeline.
    pub robots: usize,
    /// Number of triggers on the pipeline.
    pub triggers: usize,
}

fn body<B: DeserializeOwned>(v: Value) -> Result<B, EngineError> {
    serde_json::from_value(v).map_err(|e| EngineError::bad("demo", e.to_string()))
}

fn user(name: &str, email: &str, department: Option<&str>) -> Value {
    json!({
        "name": name,
        "email": email,
        "phone": "+7 900 000-00-00",
        "department_id": department,
        "time_zone": "Europe/Moscow",
        "working_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"},
        "days_off": ["2026-12-31", "2027-01-01"]
    })
}

/// Load the demo into `tenant`.
pub async fn load(engine: &Engine, tenant: &str) -> Result<DemoLoaded, EngineError> {
    // (id, name, department): heads first without a department (departments
    // name them), then the departments, then everyone with a department.
    let people = [
        ("u-boss", "Boris Head", "sales"),
        ("u-anna", "Anna Manager", "sales"),
        ("u-max", "Max Manager", "sales"),
        ("u-dina", "Dina Designer", "design"),
        ("u-dan", "Dan Designer", "design"),
        ("u-lara", "Lara Lawyer", "legal"),
    ];
    for (id, name, _) in people
        .iter()
        .filter(|p| matches!(p.0, "u-boss" | "u-dina" | "u-lara"))
    {
        // Keep the department of an existing head (a repeated load).
        let dept = engine
            .get_user(tenant, id)
            .await
            .ok()
            .and_then(|u| u.department_id);
        let email = format!("{}@demo.test", &id[2..]);
        engine
            .put_user(
                tenant,
                id,
                body::<UserBody>(user(name, &email, dept.as_deref()))?,
            )
            .await?;
    }
    for (id, name, head, parent) in [
        ("sales", "Sales", "u-boss", None),
        ("design", "Design studio", "u-dina", Some("sales")),
        ("legal", "Legal", "u-lara", None),
    ] {
        engine
            .put_department(
                tenant,
                id,
                body::<DepartmentBody>(
                    json!({"name": name, "head_id": head, "parent_id": parent}),
                )?,
            )
            .await?;
    }
    for (id, name, dept) in people {
        let email = format!("{}@demo.test", &id[2..]);
        engine
            .put_user(
                tenant,
                id,
                body::<UserBody>(user(name, &email, Some(dept)))?,
            )
            .await?;
    }
    engine
        .put_pipeline(
            tenant,
            PIPELINE,
            body::<PipelineBody>(json!({
                "entity_type": "deal",
                "name": "Deals",
                "stages": [
                    {"id": "new", "name": "New orders", "semantic": "process"},
                    {"id": "prep", "name": "Project preparation", "semantic": "process"},
                    {"id": "presentation", "name": "Client presentation", "semantic": "process"},
                    {"id": "won", "name": "Won", "semantic": "success"},
                    {"id": "lost", "name": "Lost", "semantic": "failure"}
                ]
            }))?,
        )
        .await?;

    let existing = engine.list_robots(tenant, PIPELINE).await?;
    let automation_created = existing.is_empty();
    if automation_created {
        for r in employee_control_robots() {
            engine
                .create_robot(tenant, PIPELINE, body::<RobotBody>(r)?)
                .await?;
        }
        engine
            .create_trigger(
                tenant,
                PIPELINE,
                body::<TriggerBody>(json!({
                    "stage_id": "presentation", "type": "task_status", "name": "Design ready",
                    "execute_as": "u-boss",
                    "settings": {"status": "completed",
                        "task_filter": {"field": "title", "op": "contains", "value": "design"}}
                }))?,
            )
            .await?;
        let chat = engine
            .create_robot(
                tenant,
                PIPELINE,
                body::<RobotBody>(json!({
                    "stage_id": "presentation", "type": "create_group_chat", "name": "Deal chat",
                    "settings": {"name": "Deal {{title}}", "member_ids": ["responsible", "u-dina"]}
                }))?,
            )
            .await?;
        let chat_ref = format!("{{{{robot.{}.chat_id}}}}", chat.id);
        for r in [
            json!({
                "stage_id": "presentation", "type": "add_chat_members", "name": "Lawyer for big deals",
                "after_previous": true,
                "condition": {"field": "amount", "op": "gt", "value": 10000},
                "settings": {"chat_id": chat_ref, "user_ids": ["u-lara"], "show_history": true}
            }),
            json!({
                "stage_id": "presentation", "type": "send_chat_message", "name": "Announce the presentation",
                "after_previous": true,
                "settings": {"chat_id": chat_ref, "sender_id": "u-boss", "message_type": "important",
                    "text": "Presentation of {{title}} for {{amount}} {{currency}}: please get ready"}
            }),
        ] {
            engine
                .create_robot(tenant, PIPELINE, body::<RobotBody>(r)?)
                .await?;
        }
    }
    Ok(DemoLoaded {
        automation_created,
        robots: engine.list_robots(tenant, PIPELINE).await?.len(),
        triggers: engine.list_triggers(tenant, PIPELINE).await?.len(),
    })
}

/// The robots of the "employee control" article.
fn employee_control_robots() -> Vec<Value> {
    vec![
        json!({
            "stage_id": "new", "type": "notify_supervisor", "name": "Escalate after a day",
            "delay": {"mode": "after", "amount": 1, "unit": "days"},
            "settings": {"text": "{{responsible.name}} has not processed {{title}}"}
        }),
        json!({
            "stage_id": "new", "type": "plan_activity", "name": "Call the client",
            "settings": {"description": "Call {{client.name}} about {{title}}", "activity_type": "call",
                "deadline": {"amount": 2, "unit": "hours"}, "respect_working_hours": true}
        }),
        json!({
            "stage_id": "prep", "type": "create_task", "name": "Design project",
            "settings": {"title": "Prepare a design project for {{title}}",
                "description": "Budget {{amount}} {{currency}}, client {{client.name}}",
                "responsible_id": "u-dina", "accomplice_ids": ["u-dan"], "auditor_ids": ["u-boss"],
                "deadline": {"amount": 3, "unit": "days"}, "time_tracking": true}
        }),
        json!({
            "stage_id": "prep", "type": "add_history_record", "name": "Note for the history",
            "settings": {"text": "Deal {{title}} went to project preparation", "author_id": "supervisor"}
        }),
        json!({
            "stage_id": "won", "type": "complete_task", "name": "Close the design tasks",
            "settings": {"pipeline_id": PIPELINE, "stage_ids": ["prep"]}
        }),
    ]
}

/// Curl commands that walk through the demo, for the startup banner.
///
/// `admin_key` is the key that moves the manual clock (`None`: the server runs
/// on the system clock).
pub fn what_to_try(base_url: &str, key: &str, admin_key: Option<&str>) -> String {
    let h = "-H \"Authorization: Bearer $KEY\"";
    let j = "-H 'Content-Type: application/json'";
    let mut s = format!(
        r#"
Demo loaded: pipeline "deals" (New orders -> Project preparation -> Client presentation -> Won / Lost).
What to try (jq only extracts ids; without it copy them from the answers):

  export CRM={base_url} KEY={key}

  # 1. A new order: a call with the client is planned 2 working hours ahead (Moscow time)
  ID=$(curl -s -X POST $CRM/v1/items {h} {j} \
    -d '{{"pipeline_id":"deals","title":"Website for Romashka","amount":25000,"currency":"RUB","responsible_id":"u-anna","client":{{"name":"Romashka LLC","phone":"+7 495 123-45-67"}}}}' | jq -r .id)
  curl -s "$CRM/v1/activities?item_id=$ID" {h}

  # 2. Project preparation: a design task for Dina and a history record by the supervisor
  curl -s -X PATCH $CRM/v1/items/$ID {h} {j} -d '{{"stage_id":"prep"}}'
  TASK=$(curl -s "$CRM/v1/tasks?item_id=$ID" {h} | jq -r '.tasks[0].id')
  curl -s $CRM/v1/items/$ID/timeline {h}

  # 3. Dina completes the task: the trigger moves the deal to Client presentation,
  #    a group chat opens and the lawyer joins it (amount > 10000)
  curl -s -X PATCH $CRM/v1/tasks/$TASK {h} {j} -d '{{"status":"completed","author_id":"u-dina"}}'
  curl -s $CRM/v1/items/$ID {h}
  CHAT=$(curl -s $CRM/v1/items/$ID/runs {h} | jq -r '[.runs[] | select(.outputs.chat_id)][0].outputs.chat_id')
  curl -s $CRM/v1/chats/$CHAT {h}

  # 4. Why did (or didn't) each robot run? The run log answers.
  curl -s $CRM/v1/items/$ID/runs {h}
"#
    );
    if let Some(admin_key) = admin_key {
        s.push_str(&format!(
            r#"
  # 5. A deal left in New orders for a day: the supervisor (Boris) is notified.
  #    Only the admin key moves the clock (it is shared by every tenant).
  export ADMIN={admin_key}
  ID2=$(curl -s -X POST $CRM/v1/items {h} {j} -d '{{"pipeline_id":"deals","title":"Logo for Vasilek","amount":3000,"responsible_id":"u-max"}}' | jq -r .id)
  curl -s -X POST $CRM/v1/clock/advance -H "Authorization: Bearer $ADMIN" {j} -d '{{"seconds":86400}}'
  curl -s "$CRM/v1/notifications?user_id=u-boss" {h}
"#
        ));
    } else {
        s.push_str(
            "\n  # (Start with --clock manual to fast-forward time with POST /v1/clock/advance.)\n",
        );
    }
    s
}
