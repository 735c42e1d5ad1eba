//! Items: create, read, change, move, delete; their timeline and run log.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::api::{ItemPatch, NewItem};
use crate::check::Refs;
use crate::client_index::client_keys;
use crate::error::{EngineError, FieldError, Result};
use crate::fields::{check_fields, check_item_size, same_value, user_refs};
use crate::model::{
    Chain, Item, ItemChange, OutboxRecord, Pipeline, StageMove, TIMELINE_KINDS, TimelineEntry,
};
use crate::money::check_amount;
use crate::ports::{Cond, DocKey, Kind, SYSTEM_TENANT, Write};
use crate::store::{doc, put, record_doc, timeline_id, timeline_write, visit_counter_write};

use super::{Engine, OUTBOX_PENDING, unprocessable};

/// Where a new item of `entity_type` lands in `pipeline`: `stage_id`, else
/// the first stage; with the field errors of a wrong entity type or an
/// unknown stage (item create, web forms).
pub(crate) fn placement(
    pipeline: &Pipeline,
    entity_type: Option<&str>,
    stage_id: Option<&str>,
) -> (String, Vec<FieldError>) {
    let mut errors = Vec::new();
    if let Some(et) = entity_type
        && et != pipeline.entity_type
    {
        errors.push(FieldError {
            field: "entity_type".into(),
            message: format!(
                "pipeline '{}' holds {} items",
                pipeline.id, pipeline.entity_type
            ),
        });
    }
    let stage_id = stage_id.map_or_else(|| pipeline.stages[0].id.clone(), str::to_string);
    if pipeline.stage(&stage_id).is_none() {
        errors.push(FieldError {
            field: "stage_id".into(),
            message: format!("unknown stage '{stage_id}' in pipeline '{}'", pipeline.id),
        });
    }
    (stage_id, errors)
}

impl Engine {
    // ---------------------------------------------------------------- items

    /// Writes that commit an item change: the item (conditional on its
    /// version), its client index, the timeline entries, and the outbox record.
    pub(crate) fn item_change_writes(
        &self,
        tenant: &str,
        old: Option<&Item>,
        item: &Item,
        change: &ItemChange,
        timeline: Vec<TimelineEntry>,
    ) -> Vec<Write> {
        let mut writes = Vec::new();
        let cond = match old {
            None => Cond::Absent,
            Some(o) => Cond::Version(o.version),
        };
        if change.deleted {
            writes.push(Write::Delete {
                key: DocKey::new(tenant, Kind::Item, &item.id),
                parent: Some(item.pipeline_id.clone()),
                cond,
            });
        } else {
            writes.push(put(record_doc(tenant, item, item.version), cond));
        }
        let old_keys = old.map(|o| client_keys(&o.client)).unwrap_or_default();
        let new_keys = if change.deleted {
            Vec::new()
        } else {
            client_keys(&item.client)
        };
        for k in &old_keys {
            if !new_keys.contains(k) {
                writes.push(Write::Delete {
                    key: DocKey::new(tenant, Kind::ClientIndex, format!("{k}|{}", item.id)),
                    parent: Some(k.clone()),
                    cond: Cond::Any,
                });
            }
        }
        for k in &new_keys {
            if !old_keys.contains(k) {
                writes.push(put(
                    doc(
                        tenant,
                        Kind::ClientIndex,
                        &format!("{k}|{}", item.id),
                        1,
                        Some(k),
                        &item.id,
                    ),
                    Cond::Any,
                ));
            }
        }
        writes.extend(crate::bitrix::external_ids::index_writes(
            tenant,
            old,
            item,
            change.deleted,
        ));
        for e in &timeline {
            writes.push(timeline_write(tenant, e));
        }
        // A new visit (or the item's end) moves the timeline counter to the
        // visit's epoch: runs guarded by the counter see their visit end.
        if old.is_some_and(|o| change.deleted || o.visit != item.visit) {
            writes.push(visit_counter_write(tenant, item, change.deleted));
        }
        let mut change = change.clone();
        change.report = Some(crate::reports::facts::visit_facts(old, item, &change));
        writes.push(self.outbox_write(
            tenant,
            &format!("{}|{:012}", item.id, item.version),
            &OutboxRecord::ItemChanged(change),
        ));
        writes
    }

    /// A transactional-outbox record, written in the same transaction as the
    /// change that causes it.
    pub(crate) fn outbox_write(&self, tenant: &str, id: &str, record: &OutboxRecord) -> Write {
        let parent = self.config.list_outbox.then_some(OUTBOX_PENDING);
        put(
            doc(
                SYSTEM_TENANT,
                Kind::Outbox,
                &format!("{tenant}|{id}"),
                1,
                parent,
                record,
            ),
            Cond::Any,
        )
    }

    pub(crate) fn new_chain(&self) -> Chain {
        Chain {
            id: self.ports.ids.next_id("chain"),
            hops: 0,
        }
    }

    pub async fn create_item(&self, tenant: &str, body: NewItem) -> Result<Item> {
        body.check_contacts()?;
        let (pipeline, _) = match self.load::<Pipeline>(tenant, &body.pipeline_id).await? {
            Some(p) => p,
            None => {
                return Err(EngineError::invalid(
                    "pipeline_id",
                    format!("unknown pipeline '{}'", body.pipeline_id),
                ));
            }
        };
        let (stage_id, mut errors) = placement(
            &pipeline,
            body.entity_type.as_deref(),
            body.stage_id.as_deref(),
        );
        if body.title.trim().is_empty() {
            errors.push(FieldError {
                field: "title".into(),
                message: "must not be empty".into(),
            });
        }
        errors.extend(check_fields(&pipeline, &body.fields));
        let amount = match body.amount.map(check_amount).transpose() {
            Ok(a) => a.unwrap_or(0.0),
            Err(message) => {
                errors.push(FieldError {
                    field: "amount".into(),
                    message,
                });
                0.0
            }
        };
        let mut refs = Refs {
            users: vec![("responsible_id".into(), body.responsible_id.clone())],
            ..Refs::default()
        };
        refs.users.extend(user_refs(&pipeline, &body.fields));
        errors.extend(self.check_refs(tenant, &refs).await?);
        if let Some(x) = &body.external_id {
            errors.extend(
                self.external_id_errors(tenant, &pipeline.entity_type, x, None)
                    .await?,
            );
        }
        unprocessable(errors)?;
        let now = self.now();
        let id = self.ports.ids.next_id("item");
        let item = Item {
            id: id.clone(),
            entity_type: pipeline.entity_type.clone(),
            pipeline_id: pipeline.id.clone(),
            stage_id: stage_id.clone(),
            visit: 1,
            visit_started_at: now,
            stage_time: Default::default(),
            title: body.title,
            amount,
            currency: body.currency.unwrap_or_default(),
            responsible_id: body.responsible_id,
            client: body.client.unwrap_or_default(),
            is_repeat: body.is_repeat,
            fields: body
                .fields
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect(),
            created_at: now,
            updated_at: now,
            version: 1,
            chain: self.new_chain(),
            external_id: body.external_id,
        };
        check_item_size(&item)?;
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: id.clone(),
            version: 1,
            at: now,
            author_id: None,
            stage: Some(StageMove {
                from_stage: None,
                from_visit: 0,
                to_stage: stage_id.clone(),
                to_visit: 1,
            }),
            changed: Vec::new(),
            responsible_changed: false,
            deleted: false,
            chain: item.chain.clone(),
            report: None,
        };
        let stage_name = pipeline
            .stage(&stage_id)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let timeline = vec![TimelineEntry {
            id: timeline_id(now, 1, 0, &format!("{id}-created")),
            item_id: id.clone(),
            at: now,
            kind: "created".into(),
            author_id: None,
            text: format!("Created in stage {stage_name}"),
            data: serde_json::json!({"stage_id": stage_id}),
        }];
        let writes = self.item_change_writes(tenant, None, &item, &change, timeline);
        self.ports.store.transact(writes).await?;
        Ok(item)
    }

    pub async fn get_item(&self, tenant: &str, id: &str) -> Result<Item> {
        self.load_item(tenant, id)
            .await?
            .ok_or_else(|| EngineError::not_found("item", id))
    }

    /// Apply a patch. A changed `stage_id` starts a new visit (a new causal
    /// chain: a person moved it).
    pub async fn patch_item(
        &self,
        tenant: &str,
        id: &str,
        patch: ItemPatch,
        if_match: Option<u64>,
    ) -> Result<Item> {
        patch.check_contacts()?;
        let old = self.get_item(tenant, id).await?;
        if let Some(v) = if_match
            && v != old.version
        {
            return Err(EngineError::Conflict(format!(
                "item '{id}' is at version {}, not {v}",
                old.version
            )));
        }
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, "pipeline", &old.pipeline_id)
            .await?;
        let mut errors = Vec::new();
        let mut patch = patch;
        if let Some(a) = patch.amount {
            match check_amount(a) {
                Ok(a) => patch.amount = Some(a),
                Err(message) => errors.push(FieldError {
                    field: "amount".into(),
                    message,
                }),
            }
        }
        if let Some(s) = &patch.stage_id
            && pipeline.stage(s).is_none()
        {
            errors.push(FieldError {
                field: "stage_id".into(),
                message: format!("unknown stage '{s}' in pipeline '{}'", pipeline.id),
            });
        }
        if let Some(t) = &patch.title
            && t.trim().is_empty()
        {
            errors.push(FieldError {
                field: "title".into(),
                message: "must not be empty".into(),
            });
        }
        if let Some(f) = &patch.fields {
            errors.extend(check_fields(&pipeline, f));
        }
        let mut refs = Refs::default();
        if let Some(r) = &patch.responsible_id {
            refs.users.push(("responsible_id".into(), r.clone()));
        }
        if let Some(a) = &patch.author_id {
            refs.users.push(("author_id".into(), a.clone()));
        }
        if let Some(f) = &patch.fields {
            refs.users.extend(user_refs(&pipeline, f));
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        if let Some(x) = patch.external_id.as_deref().filter(|x| !x.is_empty()) {
            errors.extend(
                self.external_id_errors(tenant, &old.entity_type, x, Some(id))
                    .await?,
            );
        }
        unprocessable(errors)?;

        let now = self.now();
        let mut item = old.clone();
        let mut changed = Vec::new();
        macro_rules! set {
            ($field:ident, $path:expr) => {
                if let Some(v) = patch.$field.clone()
                    && item.$field != v
                {
                    item.$field = v;
                    changed.push($path.to_string());
                }
            };
        }
        set!(title, "title");
        set!(amount, "amount");
        set!(currency, "currency");
        set!(is_repeat, "is_repeat");
        set!(responsible_id, "responsible_id");
        if let Some(x) = &patch.external_id {
            let new = (!x.is_empty()).then(|| x.clone());
            if item.external_id != new {
                item.external_id = new;
                changed.push("external_id".to_string());
            }
        }
        if let Some(c) = &patch.client {
            for (path, new, cur) in [
                ("client.name", &c.name, &mut item.client.name),
                ("client.phone", &c.phone, &mut item.client.phone),
                ("client.email", &c.email, &mut item.client.email),
            ] {
                if cur != new {
                    *cur = new.clone();
                    changed.push(path.to_string());
                }
            }
            if item.client.messengers != c.messengers {
                item.client.messengers = c.messengers.clone();
                changed.push("client.messengers".to_string());
            }
        }
        if let Some(fields) = &patch.fields {
            for (k, v) in fields {
                let cur = item.fields.get(k);
                if v.is_null() {
                    if cur.is_some() {
                        item.fields.remove(k);
                        changed.push(format!("fields.{k}"));
                    }
                } else if !cur.is_some_and(|c| same_value(pipeline.field(k), c, v)) {
                    item.fields.insert(k.clone(), v.clone());
                    changed.push(format!("fields.{k}"));
                }
            }
        }
        let moved = patch
            .stage_id
            .as_ref()
            .filter(|s| **s != old.stage_id)
            .cloned();
        if changed.is_empty() && moved.is_none() {
            return Ok(old);
        }
        item.chain = self.new_chain();
        let author = patch.author_id.clone();
        let mut timeline = Vec::new();
        let stage = moved.map(|to| {
            self.apply_move(
                &pipeline,
                &mut item,
                &to,
                now,
                author.clone(),
                &mut timeline,
            )
        });
        if !changed.is_empty() {
            timeline.push(TimelineEntry {
                id: timeline_id(
                    now,
                    old.version + 1,
                    timeline.len(),
                    &format!("{id}-{}-fields", old.version + 1),
                ),
                item_id: id.to_string(),
                at: now,
                kind: "fields_changed".into(),
                author_id: author.clone(),
                text: format!("Changed {}", changed.join(", ")),
                data: serde_json::json!({"fields": changed}),
            });
        }
        item.version = old.version + 1;
        item.updated_at = now;
        check_item_size(&item)?;
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: id.to_string(),
            version: item.version,
            at: now,
            author_id: author,
            stage,
            responsible_changed: changed.iter().any(|c| c == "responsible_id"),
            changed,
            deleted: false,
            chain: item.chain.clone(),
            report: None,
        };
        let writes = self.item_change_writes(tenant, Some(&old), &item, &change, timeline);
        self.commit(writes, || {
            format!("item '{id}' was changed concurrently; retry")
        })
        .await?;
        Ok(item)
    }

    /// Move `item` to stage `to` in memory: new visit, timeline entry.
    pub(crate) fn apply_move(
        &self,
        pipeline: &Pipeline,
        item: &mut Item,
        to: &str,
        now: DateTime<Utc>,
        author: Option<String>,
        timeline: &mut Vec<TimelineEntry>,
    ) -> StageMove {
        let left = crate::reports::facts::leave_current(item, now);
        item.stage_time.insert(item.stage_id.clone(), left.total);
        let from = std::mem::replace(&mut item.stage_id, to.to_string());
        let from_visit = item.visit;
        item.visit += 1;
        item.visit_started_at = now;
        let name = |s: &str| pipeline.stage(s).map_or(s.to_string(), |x| x.name.clone());
        timeline.push(TimelineEntry {
            // `item` is at the version read; this write makes the next one.
            id: timeline_id(
                now,
                item.version + 1,
                timeline.len(),
                &format!("{}-visit-{}", item.id, item.visit),
            ),
            item_id: item.id.clone(),
            at: now,
            kind: "stage_changed".into(),
            author_id: author,
            text: format!("Stage changed from {} to {}", name(&from), name(to)),
            data: serde_json::json!({"from": from, "to": to, "visit": item.visit}),
        });
        StageMove {
            from_stage: Some(from),
            from_visit,
            to_stage: to.to_string(),
            to_visit: item.visit,
        }
    }

    pub async fn delete_item(&self, tenant: &str, id: &str, if_match: Option<u64>) -> Result<()> {
        let old = self.get_item(tenant, id).await?;
        if let Some(v) = if_match
            && v != old.version
        {
            return Err(EngineError::Conflict(format!(
                "item '{id}' is at version {}, not {v}",
                old.version
            )));
        }
        let now = self.now();
        let writes = self.delete_writes(tenant, &old, now, None, self.new_chain());
        self.commit(writes, || {
            format!("item '{id}' was changed concurrently; retry")
        })
        .await?;
        Ok(())
    }

    pub(crate) fn delete_writes(
        &self,
        tenant: &str,
        old: &Item,
        now: DateTime<Utc>,
        author: Option<String>,
        chain: Chain,
    ) -> Vec<Write> {
        let mut item = old.clone();
        item.version += 1;
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: old.id.clone(),
            version: item.version,
            at: now,
            author_id: author.clone(),
            stage: Some(StageMove {
                from_stage: Some(old.stage_id.clone()),
                from_visit: old.visit,
                to_stage: old.stage_id.clone(),
                to_visit: old.visit,
            }),
            changed: Vec::new(),
            responsible_changed: false,
            deleted: true,
            chain,
            report: None,
        };
        let timeline = vec![TimelineEntry {
            id: timeline_id(now, item.version, 0, &format!("{}-deleted", old.id)),
            item_id: old.id.clone(),
            at: now,
            kind: "deleted".into(),
            author_id: author,
            text: "Item deleted".into(),
            data: Value::Null,
        }];
        self.item_change_writes(tenant, Some(old), &item, &change, timeline)
    }

    /// Timeline of an item (kept after the item is deleted), oldest first.
    pub async fn timeline(&self, tenant: &str, item_id: &str) -> Result<Vec<TimelineEntry>> {
        let entries: Vec<TimelineEntry> = self.list(tenant, item_id).await?;
        if entries.is_empty() {
            self.get_item(tenant, item_id).await?;
        }
        Ok(entries)
    }

    /// The timeline entries of the kinds named in `kinds` (comma-separated,
    /// e.g. `info,comment`; `None`: all), oldest first. An unknown kind is a 400.
    pub async fn timeline_of_kinds(
        &self,
        tenant: &str,
        item_id: &str,
        kinds: Option<&str>,
    ) -> Result<Vec<TimelineEntry>> {
        let Some(kinds) = kinds else {
            return self.timeline(tenant, item_id).await;
        };
        let wanted: Vec<&str> = kinds.split(',').map(str::trim).collect();
        if let Some(k) = wanted.iter().find(|k| !TIMELINE_KINDS.contains(k)) {
            return Err(EngineError::bad(
                "kind",
                format!(
                    "unknown timeline kind '{k}' (one of {})",
                    TIMELINE_KINDS.join(", ")
                ),
            ));
        }
        let mut entries = self.timeline(tenant, item_id).await?;
        entries.retain(|e| wanted.contains(&e.kind.as_str()));
        Ok(entries)
    }
}
