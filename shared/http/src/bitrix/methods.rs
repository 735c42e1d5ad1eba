//! The Bitrix methods served: `crm.automation.trigger` and the app-trigger
//! methods `crm.automation.trigger.add` / `.list` / `.delete` / `.execute`.
//! Each takes the caller's tenant and the call's parameters and answers the
//! method's `result`.

use crm_core::Engine;
use crm_core::api::EventBody;
use crm_core::bitrix::app_triggers::check_code;
use crm_core::bitrix::{Owner, RestCaller};
use serde_json::{Value, json};

use super::envelope::BitrixError;
use super::params::Params;

/// The names of the served methods, lower-case (method names are
/// case-insensitive).
pub const METHODS: &[&str] = &[
    "crm.automation.trigger",
    "crm.automation.trigger.add",
    "crm.automation.trigger.list",
    "crm.automation.trigger.delete",
    "crm.automation.trigger.execute",
];

/// One call: which method, by whom, with what.
pub struct Call<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// Who calls (tenant, credential, acting user).
    pub caller: &'a RestCaller,
    /// Lower-case method name.
    pub method: &'a str,
    /// The call's parameters.
    pub params: &'a Params,
    /// The request's `Idempotency-Key`, if any.
    pub idempotency_key: Option<&'a str>,
}

/// Runs the call's method and returns its `result`.
pub async fn dispatch(call: Call<'_>) -> Result<Value, BitrixError> {
    match call.method {
        "crm.automation.trigger" => trigger(&call).await,
        "crm.automation.trigger.add" => add(&call).await,
        "crm.automation.trigger.list" => list(&call).await,
        "crm.automation.trigger.delete" => delete(&call).await,
        "crm.automation.trigger.execute" => execute(&call).await,
        other => Err(BitrixError::method_not_found(other)),
    }
}

fn required(params: &Params, key: &str, name: &str) -> Result<String, BitrixError> {
    params
        .text(key)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| BitrixError::missing(name))
}

fn code_param(params: &Params) -> Result<String, BitrixError> {
    let code = required(params, "code", "CODE")?;
    check_code(&code).map_err(|m| BitrixError::invalid_arg(format!("CODE {m}")))?;
    Ok(code)
}

/// `crm.automation.trigger`: `target` (`DEAL_57`, …), optional `code` →
/// a `webhook` event with `data.code` for the target's item.
async fn trigger(call: &Call<'_>) -> Result<Value, BitrixError> {
    let target = required(call.params, "target", "target")?;
    let owner = Owner::from_target(&target).map_err(|e| BitrixError::invalid_arg(e.to_string()))?;
    let code = call.params.text("code").filter(|c| !c.is_empty());
    raise(call, &owner, code).await
}

/// `crm.automation.trigger.execute`: `CODE` (registered), `OWNER_TYPE_ID`,
/// `OWNER_ID` → a `webhook` event with `data.code` = `CODE`. `true` whether
/// or not a trigger moved the item.
async fn execute(call: &Call<'_>) -> Result<Value, BitrixError> {
    let code = code_param(call.params)?;
    let type_id = match call.params.integer("owner_type_id") {
        None => return Err(BitrixError::missing("OWNER_TYPE_ID")),
        Some(Err(())) => return Err(BitrixError::invalid_arg("OWNER_TYPE_ID must be an integer")),
        Some(Ok(n)) => n,
    };
    let owner_id = required(call.params, "owner_id", "OWNER_ID")?;
    let owner = Owner::from_type_id(type_id, &owner_id)
        .map_err(|e| BitrixError::invalid_arg(e.to_string()))?;
    if call
        .engine
        .app_trigger(&call.caller.tenant, &code)
        .await?
        .is_none()
    {
        return Err(BitrixError::not_found(format!(
            "Trigger with code '{code}' is not registered (crm.automation.trigger.add)"
        )));
    }
    raise(call, &owner, Some(code)).await
}

/// Queues the `webhook` event for the owner's item (404 when there is none).
async fn raise(call: &Call<'_>, owner: &Owner, code: Option<String>) -> Result<Value, BitrixError> {
    let tenant = &call.caller.tenant;
    let item = call
        .engine
        .find_owner(tenant, owner)
        .await?
        .ok_or_else(|| {
            BitrixError::not_found(format!("{} {} not found", owner.entity_type, owner.id))
        })?;
    let data = match &code {
        Some(c) => json!({"code": c}),
        None => json!({}),
    };
    let body = EventBody {
        event_type: "webhook".into(),
        item_id: Some(item.id.clone()),
        client: None,
        data: Some(data),
        idempotency_key: call
            .idempotency_key
            .map(|k| format!("bitrix:{}:{k}", call.method)),
        occurred_at: None,
    };
    let event_id = call.engine.submit_event(tenant, body).await?;
    tracing::debug!(%tenant, item = %item.id, %event_id, webhook = call.caller.webhook_id, "bitrix trigger queued");
    Ok(Value::Bool(true))
}

/// `crm.automation.trigger.add`: `CODE`, `NAME` (upsert).
async fn add(call: &Call<'_>) -> Result<Value, BitrixError> {
    let code = code_param(call.params)?;
    let name = required(call.params, "name", "NAME")?;
    call.engine
        .upsert_app_trigger(&call.caller.tenant, &code, &name)
        .await?;
    Ok(Value::Bool(true))
}

/// `crm.automation.trigger.list`: `[{"NAME", "CODE"}]`.
async fn list(call: &Call<'_>) -> Result<Value, BitrixError> {
    let all = call.engine.app_triggers(&call.caller.tenant).await?;
    Ok(Value::Array(
        all.into_iter()
            .map(|t| json!({"NAME": t.name, "CODE": t.code}))
            .collect(),
    ))
}

/// `crm.automation.trigger.delete`: `CODE` (404 when not registered).
async fn delete(call: &Call<'_>) -> Result<Value, BitrixError> {
    let code = code_param(call.params)?;
    call.engine
        .delete_app_trigger(&call.caller.tenant, &code)
        .await?;
    Ok(Value::Bool(true))
}
