//! The HTML of a web form: the hosted page (`GET /f/{form_id}`) and the
//! markup `embed.js` writes into the embedding page. Minimal inline CSS, no
//! external assets. The form holds a hidden honeypot (`website`) and the
//! tracker's visitor id (`crm_v`, filled from the `crm_v` cookie or
//! localStorage the tracker keeps), and posts to `/f/{form_id}` as
//! `application/x-www-form-urlencoded`: with JavaScript the answer is shown
//! in place, without it the server answers an HTML page.

use crm_core::web_forms::{FieldKind, HONEYPOT_FIELD, VISITOR_FIELD, WebForm};

use super::html_escape as esc;

/// The form's CSS (scoped under `.crm-form`).
const CSS: &str = ".crm-form{font:16px/1.4 system-ui,sans-serif;max-width:32rem;color:#222}\
.crm-form h2{font-size:1.3rem;margin:0 0 1rem}\
.crm-form label{display:block;margin:0 0 .8rem}\
.crm-form input,.crm-form textarea{display:block;width:100%;box-sizing:border-box;padding:.45rem;margin-top:.2rem;border:1px solid #bbb;border-radius:4px;font:inherit}\
.crm-form textarea{min-height:6rem}\
.crm-form button{padding:.5rem 1.2rem;border:0;border-radius:4px;background:#2f6fdf;color:#fff;font:inherit;cursor:pointer}\
.crm-form .crm-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}\
.crm-form .crm-msg{margin-top:.8rem}.crm-form .crm-err{color:#b00020}";

/// The script that fills the visitor id and posts in place.
const SCRIPT: &str = r#"(function(f){if(!f)return;
var m=document.cookie.match(/(?:^|; )crm_v=([A-Za-z0-9_-]{8,64})/),v=m?m[1]:"";
try{v=v||localStorage.getItem("crm_v")||""}catch(e){}
if(window.crmVisitorId)v=window.crmVisitorId;
if(v)f.elements["crm_v"].value=v;
f.addEventListener("submit",function(ev){ev.preventDefault();
var out=f.querySelector(".crm-msg");out.className="crm-msg";out.textContent="…";
fetch(f.action,{method:"POST",body:new URLSearchParams(new FormData(f))}).then(function(r){return r.json().then(function(b){return[r.status,b]})}).then(function(x){
if(x[0]<300){f.querySelector("fieldset").disabled=true;out.textContent=x[1].message;return}
out.className="crm-msg crm-err";var e=x[1].error||{};
out.textContent=(e.details&&e.details.length?e.details.map(function(d){return d.field+": "+d.message}).join("; "):e.message)||"Error"})
.catch(function(){out.className="crm-msg crm-err";out.textContent="The form could not be sent; try again."})});
})"#;

/// The `<form>` element (with its CSS and script) posting to `action`.
pub fn form_markup(form: &WebForm, action: &str, element_id: &str) -> String {
    let mut h = format!(
        "<style>{CSS}</style><form class=\"crm-form\" id=\"{id}\" method=\"post\" action=\"{action}\"><fieldset style=\"border:0;padding:0;margin:0\"><h2>{name}</h2>",
        id = esc(element_id),
        action = esc(action),
        name = esc(&form.name),
    );
    for f in &form.fields {
        let req = if f.required { " required" } else { "" };
        let star = if f.required { " *" } else { "" };
        let input = match f.kind {
            FieldKind::Textarea => format!(
                "<textarea name=\"{}\" maxlength=\"{}\"{req}></textarea>",
                esc(&f.name),
                f.kind.max_len()
            ),
            k => format!(
                "<input name=\"{}\" type=\"{}\" maxlength=\"{}\"{}{req}>",
                esc(&f.name),
                k.html_type(),
                k.max_len(),
                if k == FieldKind::Number {
                    " step=\"any\""
                } else {
                    ""
                },
            ),
        };
        h.push_str(&format!("<label>{}{star}{input}</label>", esc(&f.label)));
    }
    h.push_str(&format!(
        "<div class=\"crm-hp\" aria-hidden=\"true\"><label>Website<input name=\"{HONEYPOT_FIELD}\" tabindex=\"-1\" autocomplete=\"off\"></label></div>\
<input type=\"hidden\" name=\"{VISITOR_FIELD}\" value=\"\"><button type=\"submit\">Send</button></fieldset><div class=\"crm-msg\" role=\"status\"></div></form>"
    ));
    h.push_str(&format!("<script>{}</script>", script_for(element_id)));
    h
}

/// The element id of the hosted page's form.
pub const HOSTED_ID: &str = "crm-form";

/// The inline script that runs [`SCRIPT`] on the form `element_id`.
fn script_for(element_id: &str) -> String {
    format!(
        "{SCRIPT}(document.getElementById(\"{}\"));",
        esc(element_id)
    )
}

/// The hosted page's inline script: the same on every form's page, so the
/// pages' Content-Security-Policy allows exactly it, by its SHA-256
/// ([`crate::security_headers`]).
pub fn hosted_script() -> String {
    script_for(HOSTED_ID)
}

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>{}</title></head><body style=\"margin:2rem\">{body}</body></html>",
        esc(title)
    )
}

/// The hosted page of a form.
pub fn form_page(form: &WebForm) -> String {
    let action = format!("/f/{}", form.id);
    page(&form.name, &form_markup(form, &action, HOSTED_ID))
}

/// The answer page of a form posted without JavaScript.
pub fn message_page(title: &str, message: &str, error: bool) -> String {
    let class = if error { "crm-msg crm-err" } else { "crm-msg" };
    page(
        title,
        &format!(
            "<style>{CSS}</style><div class=\"crm-form\"><h2>{}</h2><p class=\"{class}\">{}</p></div>",
            esc(title),
            esc(message)
        ),
    )
}

/// `embed.js`: writes the form into the page, before the `<script>` tag
/// that loaded it, posting to the server the script came from. Its markup
/// is the same as the hosted page's, with the script run after insertion
/// (scripts in `innerHTML` do not run).
pub fn embed_js(form: &WebForm) -> String {
    let element_id = format!("crm-form-{}", &form.id[3..11]);
    let markup = form_markup(form, "__ACTION__", &element_id);
    let (markup, _) = markup.split_once("<script>").unwrap_or((&markup, ""));
    let markup = serde_json::to_string(markup).expect("strings serialize");
    format!(
        "(function(){{var s=document.currentScript;if(!s)return;\
var base=new URL(s.src,location.href).origin;\
var box=document.createElement(\"div\");\
box.innerHTML={markup}.replace(\"__ACTION__\",base+\"/f/{id}\");\
s.parentNode.insertBefore(box,s);\
{SCRIPT}(document.getElementById({eid}));}})();\n",
        id = form.id,
        eid = serde_json::to_string(&element_id).expect("strings serialize"),
    )
}
