//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail, ErrorObject};
use crate::handlers::{
    audiences, automation, catalogue, directory, documents, forms, items, lists, me, meta, outbox,
    payment_providers, reports, rest_webhooks, robot_order, robot_types, run_control, site_keys,
    webhooks, work,
};

/// The API's OpenAPI document (`GET /v1/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM robots and triggers API",
        version = "1",
        description = "Stage automation for CRM pipelines: robots run actions when an item enters a stage, triggers move items when events happen. Every error answers `{\"error\": {\"code\", \"message\", \"details\": [{\"field\", \"message\"}]}}`."
    ),
    paths(
        meta::health,
        meta::openapi_json,
        catalogue::catalogue,
        meta::get_clock,
        meta::advance_clock,
        directory::put_department,
        directory::get_department,
        directory::put_user,
        directory::get_user,
        directory::put_directory,
        automation::put_pipeline,
        automation::get_pipeline,
        automation::create_robot,
        automation::list_robots,
        automation::get_robot,
        automation::update_robot,
        automation::delete_robot,
        automation::copy_robot,
        automation::create_trigger,
        automation::list_triggers,
        automation::get_trigger,
        automation::update_trigger,
        automation::delete_trigger,
        automation::copy_trigger,
        items::list_items,
        items::create_item,
        items::get_item,
        items::patch_item,
        items::delete_item,
        items::timeline,
        items::runs,
        work::submit_event,
        work::list_tasks,
        work::get_event,
        work::get_task,
        work::patch_task,
        work::list_activities,
        work::list_notifications,
        work::get_chat,
        work::list_messages,
        work::list_feed,
        work::list_outbound,
        outbox::retry_outbound,
        documents::create_template,
        documents::list_templates,
        documents::get_template,
        documents::replace_template,
        documents::delete_template,
        documents::template_file,
        documents::placeholders,
        documents::create_numerator,
        documents::list_numerators,
        documents::get_numerator,
        documents::update_numerator,
        documents::delete_numerator,
        documents::list_documents,
        documents::get_document,
        documents::document_file,
        me::me,
        lists::list_users,
        lists::list_departments,
        lists::list_chats,
        run_control::run_now,
        run_control::stop_automation,
        run_control::run_summary,
        robot_order::put_robot_order,
        reports::stage_time,
        reports::conversion,
        reports::robots,
        audiences::list_audiences,
        audiences::list_audience_members,
        webhooks::get_secret,
        webhooks::rotate_secret,
        rest_webhooks::create_rest_webhook,
        rest_webhooks::list_rest_webhooks,
        rest_webhooks::revoke_rest_webhook,
        crate::bitrix::call,
        robot_types::create_robot_type,
        robot_types::list_robot_types,
        robot_types::get_robot_type,
        robot_types::update_robot_type,
        robot_types::delete_robot_type,
        robot_types::answer_robot_event,
        forms::create_form,
        forms::list_forms,
        forms::get_form,
        forms::replace_form,
        forms::delete_form,
        site_keys::create_site_key,
        site_keys::list_site_keys,
        site_keys::delete_site_key,
        payment_providers::put_provider,
        payment_providers::get_provider,
        payment_providers::delete_provider,
        crate::public::forms::form_page,
        crate::public::forms::embed_js,
        crate::public::forms::submit,
        crate::public::tracker::tracker_js,
        crate::public::tracker::beacon,
        crate::public::payments::receive,
        crate::handlers::tracking::open,
        crate::handlers::tracking::click,
        crate::handlers::inbound_email::get_inbound_email,
    ),
    components(schemas(ErrorBody, ErrorObject, ErrorDetail, work::OutboxChannel)),
    modifiers(&CommonResponses),
    tags(
        (name = "meta", description = "Health and this document"),
        (name = "clock", description = "Manual clock of the local server"),
        (name = "directory", description = "Departments and users"),
        (name = "pipelines", description = "Pipelines and their stages"),
        (name = "robots", description = "Actions run when an item enters a stage"),
        (name = "triggers", description = "Events that move an item to a stage"),
        (name = "items", description = "Deals, leads and other items"),
        (name = "events", description = "Queued ingestion of external events"),
        (name = "work", description = "Records the robots create"),
        (name = "documents", description = "Document templates, numbering rules and the documents robots make"),
        (name = "bitrix", description = "Bitrix24 REST adapter: inbound-webhook credentials and the automation-trigger methods at /rest/{user_id}/{secret}/{method}"),
        (name = "reports", description = "Time in stage, conversion and robot activity, from aggregates kept per UTC day"),
        (name = "webhooks", description = "The signing secret of outbound webhooks (call_webhook robots)"),
        (name = "robot-types", description = "Custom robot types of applications (`app.<code>` robots) and the applications' answers"),
        (name = "forms", description = "Web forms: defined here, filled in by the public at /f/{form_id}"),
        (name = "tracker", description = "Site tracker keys (the script is /t/tracker.js)"),
        (name = "payments", description = "Payment providers whose webhooks raise invoice_paid"),
        (name = "public", description = "Keyless public endpoints: web forms, the site tracker, payment webhooks (rate limited per client IP)"),
        (name = "tracking", description = "Public, keyless open and click tracking of the emails robots send to clients (a pixel and rewritten links with signed tokens)"),
        (name = "inbound-email", description = "Incoming email: the tenant's inbound address (replies to robots' emails and clients' mail come back here)"),
    )
)]
pub struct ApiDoc;

/// The document as served: utoipa's paths and operations, with the body
/// schemas generated by schemars ([`crate::schemas`]) in place of the
/// markers' placeholders.
pub fn openapi() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("the document has component schemas");
    for (name, schema) in crate::schemas::components() {
        schemas.insert(name, schema);
    }
    doc
}

/// Adds the bearer security scheme and the responses every operation of a
/// kind shares: 401/500/503 for authenticated operations, 400/413/415 for
/// operations with a JSON body.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator's admin key (`CRM_ADMIN_KEY`, or generated into the \
                         local server's data directory): `Authorization: Bearer <admin key>`. \
                         It moves the manual clock and belongs to no tenant.",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common(op);
            }
        }
    }
}

fn add_common(op: &mut Operation) {
    let secured = op
        .security
        .as_ref()
        .is_some_and(|reqs| reqs.iter().any(|r| r != &Default::default()));
    let has_body = op.request_body.is_some();
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description));
    };
    if has_body {
        add(
            "400",
            "Malformed JSON, a wrong type, or a missing or unknown field (`details` names it)",
        );
        add(
            "413",
            "The body exceeds 256 KiB (also when `Content-Length` only claims so)",
        );
        add(
            "408",
            "The body did not arrive in time (e.g. `Content-Length` claims more than is sent)",
        );
        add("415", "`Content-Type` is not `application/json`");
    }
    if secured {
        add(
            "400",
            "Two `Authorization` headers (`details` names `Authorization`)",
        );
        add("401", "Missing or unknown API key");
        add(
            "403",
            "The admin key: it belongs to no tenant and only moves the manual clock",
        );
        add(
            "429",
            "The tenant is over its request rate; retry after `Retry-After` seconds",
        );
        add("500", "Internal error");
        add("503", "A backend is unavailable; retry later");
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secured_operation_documents_401() {
        let doc = openapi();
        let paths = doc["paths"].as_object().unwrap();
        let mut secured = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                // Keyless: the application's answer (the event token in the
                // path is the credential), web forms, the tracker, payment
                // webhooks (no key, no 401).
                let public = path.starts_with("/f/")
                    || path.starts_with("/t/")
                    || path.starts_with("/v1/webhooks/payments/")
                    || path == "/v1/robot-events/{token}";
                if path == "/v1/health" || path == "/v1/openapi.json" || public {
                    assert!(op["responses"].get("401").is_none(), "{method} {path}");
                    continue;
                }
                if path.starts_with("/t/") {
                    // Email tracking: public, keyless (the token is signed).
                    assert!(op["responses"].get("401").is_none(), "{method} {path}");
                    assert!(op.get("security").is_none(), "{method} {path}");
                    continue;
                }
                secured += 1;
                assert!(op["responses"].get("401").is_some(), "{method} {path}");
                if path.starts_with("/rest/") {
                    // Bitrix24 REST: the credential is in the path.
                    assert!(op.get("security").is_none(), "{method} {path}");
                    continue;
                }
                let scheme = if path == "/v1/clock/advance" {
                    "admin"
                } else {
                    "bearer"
                };
                assert_eq!(op["security"][0][scheme], serde_json::json!([]));
            }
        }
        assert!(secured > 30);
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
