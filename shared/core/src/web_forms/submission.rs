//! A public submission of a form (`POST /f/{form_id}`).
//!
//! Order: the honeypot (a filled [`HONEYPOT_FIELD`] is answered like a
//! success and does nothing), the values against the form (422 naming the
//! field, nothing changed), the `Idempotency-Key` (a repeated key answers
//! what the first submission did, once more doing nothing), then the item:
//! the newest open item (a stage of semantic `process`) of the client in the
//! form's pipeline, matched by the submitted email or phone through the
//! client index, or else a new item (whose robots then run as for any new
//! item). Last, `form_submitted` is raised for the item through the event
//! ingestion ([`Engine::submit_event`]) with `data.form_id`, `data.values`
//! (every submitted field of the form) and `data.created`.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::form::{FieldKind, WebForm};
use crate::api::{EventBody, NewItem};
use crate::client_index::client_keys;
use crate::engine::Engine;
use crate::error::{EngineError, FieldError, Result};
use crate::model::{Client, ClientRef, FieldType, Item, Pipeline, Semantic};
use crate::ports::{Cond, DocKey, Kind, StoreError, Write};
use crate::store::{doc, put};

/// The honeypot: a field hidden from people; a bot that fills it gets a
/// success answer and nothing is created.
pub const HONEYPOT_FIELD: &str = "website";
/// The site tracker's visitor id (hidden field, or `?crm_v=`): ties the
/// visitor to the client of the submission.
pub const VISITOR_FIELD: &str = "crm_v";
/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;
/// How long a submission's `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_DAYS: i64 = 7;

/// What a visitor sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormInput {
    /// Submitted name → value (names the form does not have are ignored).
    pub values: BTreeMap<String, String>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormOutcome {
    /// The message to show the visitor.
    #[serde(default)]
    pub success_message: String,
    /// The item the submission was for (None: honeypot).
    pub item_id: Option<String>,
    /// Whether the item was made by this submission.
    pub created: bool,
    /// The `form_submitted` event (None: honeypot).
    pub event_id: Option<String>,
    /// The honeypot was filled: nothing was done.
    #[serde(default)]
    pub ignored: bool,
}

/// The remembered outcome of a submission with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Remembered {
    /// Being processed.
    Pending,
    Done(FormOutcome),
}

/// The checked, typed values of a submission, by field name.
struct Checked {
    values: BTreeMap<String, String>,
}

fn check_values(form: &WebForm, input: &FormInput) -> Result<Checked> {
    let mut errors = Vec::new();
    let mut values = BTreeMap::new();
    for f in &form.fields {
        let v = input
            .values
            .get(&f.name)
            .map(|v| v.trim())
            .unwrap_or_default();
        let mut fail = |m: String| {
            errors.push(FieldError {
                field: f.name.clone(),
                message: m,
            })
        };
        if v.is_empty() {
            if f.required {
                fail(format!("{} is required", f.label));
            }
            continue;
        }
        if v.chars().count() > f.kind.max_len() {
            fail(format!(
                "must be at most {} characters long",
                f.kind.max_len()
            ));
            continue;
        }
        let problem = match f.kind {
            FieldKind::Email => crate::api::check_email(&f.name, v).err(),
            FieldKind::Phone => crate::api::check_phone(&f.name, v).err(),
            FieldKind::Number => match v.parse::<f64>() {
                Ok(n) if n.is_finite() => None,
                _ => Some(EngineError::invalid(&f.name, "must be a number")),
            },
            FieldKind::Text if v.contains(['\n', '\r']) => {
                Some(EngineError::invalid(&f.name, "must be one line"))
            }
            FieldKind::Text | FieldKind::Textarea => None,
        };
        match problem {
            Some(EngineError::Unprocessable { details }) => {
                errors.extend(details.into_iter().map(|d| FieldError {
                    field: f.name.clone(),
                    message: d.message,
                }));
            }
            Some(e) => fail(e.to_string()),
            None => {
                values.insert(f.name.clone(), v.to_string());
            }
        }
    }
    crate::engine::unprocessable(errors)?;
    Ok(Checked { values })
}

impl Checked {
    fn target(&self, form: &WebForm, target: &str) -> Option<&str> {
        form.mapped(target)
            .and_then(|f| self.values.get(&f.name))
            .map(String::as_str)
    }

    fn client(&self, form: &WebForm) -> Client {
        Client {
            name: self.target(form, "client.name").map(str::to_string),
            email: self.target(form, "client.email").map(str::to_string),
            phone: self.target(form, "client.phone").map(str::to_string),
            ..Client::default()
        }
    }

    fn new_item(&self, form: &WebForm, pipeline: &Pipeline) -> NewItem {
        let client = self.client(form);
        let who = client
            .name
            .clone()
            .or_else(|| client.email.clone())
            .or_else(|| client.phone.clone());
        let title = match (self.target(form, "title"), who) {
            (Some(t), _) => t.to_string(),
            (None, Some(w)) => format!("{}: {w}", form.name),
            (None, None) => form.name.clone(),
        };
        let mut fields = BTreeMap::new();
        for f in &form.fields {
            let (Some(key), Some(v)) = (
                f.maps_to.as_deref().and_then(|t| t.strip_prefix("fields.")),
                self.values.get(&f.name),
            ) else {
                continue;
            };
            let value = match pipeline.field(key).map(|d| d.field_type) {
                Some(FieldType::Number) => v
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
                _ => Value::String(v.clone()),
            };
            fields.insert(key.to_string(), value);
        }
        NewItem {
            entity_type: Some(form.entity_type.clone()),
            pipeline_id: form.pipeline_id.clone(),
            stage_id: Some(form.stage_id.clone()),
            title,
            amount: self.target(form, "amount").and_then(|a| a.parse().ok()),
            currency: None,
            responsible_id: form.responsible_id.clone(),
            client: Some(client),
            is_repeat: false,
            fields,
            external_id: None,
        }
    }
}

/// The id of the remembered outcome of (`form_id`, `key`).
fn submission_id(form_id: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(form_id.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Engine {
    /// Handle a public submission of `form` (of `tenant`). See the module doc.
    pub async fn submit_form(
        &self,
        tenant: &str,
        form: &WebForm,
        input: FormInput,
    ) -> Result<FormOutcome> {
        if input
            .values
            .get(HONEYPOT_FIELD)
            .is_some_and(|v| !v.trim().is_empty())
        {
            tracing::info!(tenant = %tenant, form_id = %form.id, "form honeypot filled: ignored");
            return Ok(FormOutcome {
                success_message: form.success_message.clone(),
                item_id: None,
                created: false,
                event_id: None,
                ignored: true,
            });
        }
        let checked = check_values(form, &input)?;
        let visitor = input.values.get(VISITOR_FIELD).cloned();
        let Some(key) = input.idempotency_key.as_deref() else {
            let submission = self.ports.ids.next_id("sub");
            return self
                .process_submission(tenant, form, &checked, &submission, visitor)
                .await;
        };
        if key.trim().is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
            return Err(EngineError::bad(
                "Idempotency-Key",
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters long"),
            ));
        }
        let id = submission_id(&form.id, key);
        let dkey = DocKey::new(tenant, Kind::FormSubmission, &id);
        let mut claim = doc(
            tenant,
            Kind::FormSubmission,
            &id,
            1,
            None,
            &Remembered::Pending,
        );
        claim.expires_at = Some((self.now() + Duration::days(IDEMPOTENCY_DAYS)).timestamp());
        match self
            .ports
            .store
            .transact(vec![put(claim.clone(), Cond::Absent)])
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return match self
                    .load_kind::<Remembered>(tenant, Kind::FormSubmission, &id)
                    .await?
                {
                    Some((Remembered::Done(outcome), _)) => Ok(outcome),
                    _ => Err(EngineError::Conflict(
                        "a submission with this Idempotency-Key is being processed; retry".into(),
                    )),
                };
            }
            Err(e) => return Err(e.into()),
        }
        let outcome = match self
            .process_submission(tenant, form, &checked, &id, visitor)
            .await
        {
            Ok(o) => o,
            Err(e) => {
                // Let a retry with the same key try again.
                let _ = self
                    .ports
                    .store
                    .transact(vec![Write::Delete {
                        key: dkey,
                        parent: None,
                        cond: Cond::Version(1),
                    }])
                    .await;
                return Err(e);
            }
        };
        let mut done = claim;
        done.version = 2;
        done.body =
            serde_json::to_value(Remembered::Done(outcome.clone())).expect("outcomes serialize");
        self.ports
            .store
            .transact(vec![put(done, Cond::Version(1))])
            .await?;
        Ok(outcome)
    }

    async fn process_submission(
        &self,
        tenant: &str,
        form: &WebForm,
        checked: &Checked,
        submission: &str,
        visitor: Option<String>,
    ) -> Result<FormOutcome> {
        let (pipeline, _) = self
            .load::<Pipeline>(tenant, &form.pipeline_id)
            .await?
            .ok_or_else(|| EngineError::not_found("form", &form.id))?;
        let client = checked.client(form);
        let (item_id, created) = match self.open_item_of(tenant, &pipeline, &client).await? {
            Some(id) => (id, false),
            None => {
                let item = self
                    .create_item(tenant, checked.new_item(form, &pipeline))
                    .await?;
                (item.id, true)
            }
        };
        if let Some(v) = visitor {
            let r = ClientRef {
                email: client.email.clone(),
                phone: client.phone.clone(),
            };
            self.tie_visitor(tenant, &v, &r).await?;
        }
        let event_id = self
            .submit_event(
                tenant,
                EventBody {
                    event_type: "form_submitted".into(),
                    item_id: Some(item_id.clone()),
                    client: None,
                    data: Some(json!({
                        "form_id": form.id,
                        "values": checked.values,
                        "created": created,
                    })),
                    idempotency_key: Some(format!("form:{}:{submission}", form.id)),
                    occurred_at: None,
                },
            )
            .await?;
        Ok(FormOutcome {
            success_message: form.success_message.clone(),
            item_id: Some(item_id),
            created,
            event_id: Some(event_id),
            ignored: false,
        })
    }

    /// The newest open item (stage of semantic `process`) in `pipeline` whose
    /// client has the email or phone of `client`.
    async fn open_item_of(
        &self,
        tenant: &str,
        pipeline: &Pipeline,
        client: &Client,
    ) -> Result<Option<String>> {
        let mut ids = Vec::new();
        for key in client_keys(client) {
            for d in self
                .ports
                .store
                .list(tenant, Kind::ClientIndex, &key)
                .await?
            {
                if let Some(id) = d.body.as_str() {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut best: Option<Item> = None;
        for id in ids {
            let Some(item) = self.load_item(tenant, &id).await? else {
                continue;
            };
            let open = item.pipeline_id == pipeline.id
                && pipeline
                    .stage(&item.stage_id)
                    .is_some_and(|s| s.semantic == Semantic::Process);
            if open
                && best
                    .as_ref()
                    .is_none_or(|b| item.created_at >= b.created_at)
            {
                best = Some(item);
            }
        }
        Ok(best.map(|i| i.id))
    }
}
