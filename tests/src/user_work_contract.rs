//! Tasks and activities per responsible user (`GET /v1/tasks?responsible_id=`,
//! `GET /v1/activities?responsible_id=`) over a real store adapter: robots
//! create them for deals of different responsibles, and each user's list
//! pages through exactly that user's records, once each, in id order, and
//! shows a task's later status. Another tenant's user has none.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use crm_core::api::TaskPatch;
use crm_core::engine::{Engine, EngineConfig, Page, PageRequest};
use crm_core::memory::{ManualClock, MemDelivery, MemEvents, MemJobs, SeqIds};
use crm_core::model::TaskStatus;
use crm_core::ports::{Clock, DocStore, Ports};
use crm_core::testing::{PIPELINE, body};
use serde_json::json;

struct Rig {
    engine: Engine,
    jobs: Arc<MemJobs>,
    events: Arc<MemEvents>,
    clock: Arc<ManualClock>,
}

fn rig(store: Arc<dyn DocStore>) -> Rig {
    let jobs = Arc::new(MemJobs::new());
    let events = Arc::new(MemEvents::new());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let engine = Engine::new(
        Ports {
            store,
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: events.clone(),
            delivery: Arc::new(MemDelivery::new()),
            clock: clock.clone(),
            ids: Arc::new(SeqIds::new()),
            blobs: Arc::new(crm_core::memory_blobs::MemoryBlobs::new()),
            http: Arc::new(crm_core::memory_http::MemHttp::new()),
        },
        EngineConfig::default(),
    );
    Rig {
        engine,
        jobs,
        events,
        clock,
    }
}

impl Rig {
    /// Runs this tenant's outbox records, events and due robot jobs until
    /// none is left (other tenants' outbox records are left alone: the
    /// DynamoDB table is shared by concurrent tests).
    async fn settle(&self, tenant: &str) {
        for _ in 0..100 {
            let mut progressed = false;
            for d in self.engine.pending_outbox().await.expect("outbox") {
                if Engine::outbox_tenant(&d) == tenant {
                    self.engine.process_outbox(d).await.expect("outbox record");
                    progressed = true;
                }
            }
            while let Some(e) = self.events.pop() {
                self.engine.handle_event(e).await.expect("event");
                progressed = true;
            }
            while let Some(j) = self.jobs.pop_due(self.clock.now()) {
                self.engine.run_job(j).await.expect("robot run");
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
        panic!("the engine never settled");
    }
}

async fn walk<T, F, Fut>(limit: usize, mut page: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut out = Vec::new();
    let mut req = PageRequest::new(Some(limit), None);
    for _ in 0..100 {
        let p = page(req.clone()).await;
        assert!(p.items.len() <= limit, "a page holds at most `limit`");
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => return out,
        }
    }
    panic!("the list never ended");
}

/// Robots of "new" create a task and plan an activity for the deal's
/// responsible: 4 deals of Anna and 2 of Dan.
pub async fn tasks_and_activities_per_user(store: Arc<dyn DocStore>, tenant: &str) {
    let r = rig(store);
    crm_core::testing::load(&r.engine, tenant)
        .await
        .expect("company");
    for robot in [
        json!({"stage_id": "new", "type": "create_task", "settings": {"title": "Call about {{title}}"}}),
        json!({"stage_id": "new", "type": "plan_activity", "settings": {"description": "Meet {{title}}"}}),
    ] {
        r.engine
            .create_robot(tenant, PIPELINE, body(robot))
            .await
            .expect("robot");
    }
    let mut deals = Vec::new();
    for (n, who) in ["u-anna", "u-dan", "u-anna", "u-anna", "u-dan", "u-anna"]
        .iter()
        .enumerate()
    {
        let item = r
            .engine
            .create_item(
                tenant,
                body(json!({"pipeline_id": PIPELINE, "stage_id": "new",
                    "title": format!("Deal {n}"), "responsible_id": who})),
            )
            .await
            .expect("item");
        deals.push((item.id, *who));
    }
    r.settle(tenant).await;

    for (user, count) in [("u-anna", 4), ("u-dan", 2), ("u-nobody", 0)] {
        let want_items: Vec<&str> = deals
            .iter()
            .filter(|(_, w)| *w == user)
            .map(|(id, _)| id.as_str())
            .collect();
        for limit in [1, 3, 50] {
            let tasks = walk(limit, |req| {
                let e = &r.engine;
                async move { e.user_tasks_page(tenant, user, &req).await.expect("tasks") }
            })
            .await;
            assert_eq!(tasks.len(), count, "{user} limit {limit}: {tasks:?}");
            assert!(tasks.iter().all(|t| t.responsible_id == user));
            let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids, sorted, "id order");
            let mut items: Vec<&str> = tasks.iter().map(|t| t.item_id.as_str()).collect();
            items.sort();
            let mut want = want_items.clone();
            want.sort();
            assert_eq!(items, want, "{user}: one task per deal of theirs");

            let acts = walk(limit, |req| {
                let e = &r.engine;
                async move {
                    e.user_activities_page(tenant, user, &req)
                        .await
                        .expect("activities")
                }
            })
            .await;
            assert_eq!(acts.len(), count, "{user} limit {limit}");
            assert!(
                acts.iter()
                    .all(|a| a.responsible_id == user && a.description.starts_with("Meet Deal"))
            );
        }
    }

    // A status change shows in the user's list (the entry names the task).
    let first = r
        .engine
        .user_tasks_page(tenant, "u-dan", &PageRequest::new(Some(1), None))
        .await
        .expect("tasks")
        .items
        .remove(0);
    r.engine
        .patch_task(
            tenant,
            &first.id,
            TaskPatch {
                status: TaskStatus::Completed,
                author_id: None,
            },
        )
        .await
        .expect("complete");
    let again = r
        .engine
        .user_tasks_page(tenant, "u-dan", &PageRequest::new(Some(1), None))
        .await
        .expect("tasks")
        .items
        .remove(0);
    assert_eq!((again.id, again.status), (first.id, TaskStatus::Completed));
    assert!(again.version > first.version);

    // Another tenant's Anna has nothing.
    let other = format!("{tenant}-other");
    let page = r
        .engine
        .user_tasks_page(&other, "u-anna", &PageRequest::default())
        .await
        .expect("tasks");
    assert!(page.items.is_empty() && page.next_cursor.is_none());
    // A cursor that is not one is a 400.
    assert!(
        r.engine
            .user_activities_page(
                tenant,
                "u-anna",
                &PageRequest::new(Some(2), Some("zz".into()))
            )
            .await
            .is_err()
    );
}
