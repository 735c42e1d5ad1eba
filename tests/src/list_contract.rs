//! The paged lists of the API (`limit` + `cursor` → `next_cursor`) over a
//! real store adapter: the engine's list operations, which page with
//! [`DocStore::list_page`] across one or more parents, must give every
//! record once, in order, on memory, SQLite and DynamoDB alike. Like
//! [`crate::contract`], each check works in tenants derived from a prefix.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use crm_core::api::{DepartmentBody, UserBody};
use crm_core::engine::{Page, PageRequest};
use crm_core::ports::{Cond, Doc, DocKey, DocStore, Kind, Write};
use serde_json::{Value, json};

use crate::contract_engine::engine;

fn doc(tenant: &str, kind: Kind, id: &str, parent: &str, body: Value) -> Write {
    Write::Put {
        doc: Doc {
            key: DocKey::new(tenant, kind, id),
            version: 1,
            parent: Some(parent.to_string()),
            expires_at: None,
            body,
        },
        cond: Cond::Absent,
    }
}

/// Every page of a list, `limit` at a time; each page at most `limit` long
/// and the last one with no cursor.
async fn walk<T, F, Fut>(limit: usize, mut page: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut out = Vec::new();
    let mut req = PageRequest::new(Some(limit), None);
    for _ in 0..1_000 {
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

/// Run every check.
pub async fn run_all_lists(store: Arc<dyn DocStore>, tenant: &str) {
    eprintln!("contract: lists directory");
    directory_pages(store.clone(), &format!("{tenant}-dir")).await;
    eprintln!("contract: lists chats and feed");
    chats_and_feed_page(store.clone(), &format!("{tenant}-chats")).await;
    eprintln!("contract: lists timeline by kind");
    timeline_pages_by_kind(store.clone(), &format!("{tenant}-tl")).await;
    eprintln!("contract: lists tasks and activities per user");
    crate::user_work_contract::tasks_and_activities_per_user(store, &format!("{tenant}-uw")).await;
}

/// Users are listed under their department: the user list pages across
/// "no department" and every department, each user once; departments page
/// by id.
pub async fn directory_pages(store: Arc<dyn DocStore>, tenant: &str) {
    let e = engine(store);
    for d in ["d-b", "d-a", "d-c"] {
        let body: DepartmentBody =
            serde_json::from_value(json!({"name": d, "head_id": null, "parent_id": null})).unwrap();
        e.put_department(tenant, d, body).await.expect("department");
    }
    let mut expected = Vec::new();
    for (n, dept) in [
        None,
        Some("d-a"),
        Some("d-a"),
        Some("d-c"),
        None,
        Some("d-b"),
        Some("d-a"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("u-{n}");
        let body: UserBody = serde_json::from_value(json!({
            "name": id, "department_id": dept, "time_zone": "Europe/Moscow",
            "working_hours": {"days": ["mon"], "start": "09:00", "end": "18:00"}
        }))
        .unwrap();
        e.put_user(tenant, &id, body).await.expect("user");
        expected.push(id);
    }
    // d-c is empty after its user moves to d-b: an empty list in the middle
    let body: UserBody = serde_json::from_value(json!({
        "name": "u-3", "department_id": "d-b", "time_zone": "Europe/Moscow",
        "working_hours": {"days": ["mon"], "start": "09:00", "end": "18:00"}
    }))
    .unwrap();
    e.put_user(tenant, "u-3", body).await.expect("move");
    for limit in [1, 2, 3, 50] {
        let users = walk(limit, |r| {
            let e = &e;
            async move { e.users_page(tenant, &r).await.expect("users page") }
        })
        .await;
        let mut ids: Vec<String> = users.into_iter().map(|u| u.id).collect();
        let first_two: Vec<&str> = ids.iter().take(2).map(String::as_str).collect();
        assert_eq!(
            first_two,
            ["u-0", "u-4"],
            "users without a department first"
        );
        ids.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(ids, want, "limit {limit}: every user once");
        let depts = walk(limit, |r| {
            let e = &e;
            async move { e.departments_page(tenant, &r).await.expect("departments") }
        })
        .await;
        let ids: Vec<String> = depts.into_iter().map(|d| d.id).collect();
        assert_eq!(ids, ["d-a", "d-b", "d-c"], "limit {limit}");
    }
    let other = e
        .users_page(&format!("{tenant}-other"), &PageRequest::default())
        .await
        .unwrap();
    assert!(other.items.is_empty(), "another tenant sees none");
}

/// Chats and feed posts page by id, oldest (smallest id) first.
pub async fn chats_and_feed_page(store: Arc<dyn DocStore>, tenant: &str) {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let mut writes = Vec::new();
    for n in 0..7 {
        let id = format!("chat-{n:02}");
        writes.push(doc(
            tenant,
            Kind::Chat,
            &id,
            crm_core::store::CHATS,
            json!({"id": id, "name": format!("Deal {n}"), "member_ids": ["u-1"],
                "item_id": null, "created_at": at + Duration::minutes(n)}),
        ));
        let id = format!("post-{n:02}");
        writes.push(doc(
            tenant,
            Kind::FeedPost,
            &id,
            "feed",
            json!({"id": id, "subject": "s", "text": format!("post {n}"), "sender_id": "u-1",
                "recipient_ids": [], "department_ids": [], "everyone": true, "tag": null,
                "item_id": null, "at": at + Duration::minutes(n)}),
        ));
    }
    store.transact(writes).await.expect("setup");
    let e = engine(store);
    for limit in [1, 3, 7, 8] {
        let chats = walk(limit, |r| {
            let e = &e;
            async move { e.chats_page(tenant, &r).await.expect("chats") }
        })
        .await;
        let ids: Vec<String> = chats.into_iter().map(|c| c.id).collect();
        let want: Vec<String> = (0..7).map(|n| format!("chat-{n:02}")).collect();
        assert_eq!(ids, want, "limit {limit}");
        let posts = walk(limit, |r| {
            let e = &e;
            async move { e.feed_page(tenant, &r).await.expect("feed") }
        })
        .await;
        let texts: Vec<String> = posts.into_iter().map(|p| p.text).collect();
        let want: Vec<String> = (0..7).map(|n| format!("post {n}")).collect();
        assert_eq!(texts, want, "limit {limit}");
    }
}

/// The timeline pages by id and a kind filter keeps only its kinds, across
/// pages.
pub async fn timeline_pages_by_kind(store: Arc<dyn DocStore>, tenant: &str) {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let kinds = [
        "created",
        "comment",
        "info",
        "comment",
        "stage_changed",
        "comment",
        "info",
    ];
    let writes: Vec<Write> = kinds
        .iter()
        .enumerate()
        .map(|(n, kind)| {
            let id = format!("{n:013}-e");
            doc(
                tenant,
                Kind::Timeline,
                &id,
                "i-1",
                json!({"id": id, "item_id": "i-1", "at": at + Duration::seconds(n as i64),
                    "kind": kind, "author_id": null, "text": format!("{kind} {n}")}),
            )
        })
        .collect();
    store.transact(writes).await.expect("setup");
    let e = engine(store);
    for limit in [1, 2, 5] {
        let all = walk(limit, |r| {
            let e = &e;
            async move {
                e.timeline_page(tenant, "i-1", None, &r)
                    .await
                    .expect("timeline")
            }
        })
        .await;
        assert_eq!(all.len(), kinds.len(), "limit {limit}");
        let comments = walk(limit, |r| {
            let e = &e;
            async move {
                e.timeline_page(tenant, "i-1", Some("comment,info"), &r)
                    .await
                    .expect("timeline")
            }
        })
        .await;
        let texts: Vec<String> = comments.into_iter().map(|c| c.text).collect();
        assert_eq!(
            texts,
            ["comment 1", "info 2", "comment 3", "comment 5", "info 6"],
            "limit {limit}"
        );
    }
}
