//! `/admin/api`: staged upload, diff, commit, rollback, versions, export, and the
//! RESTCONF-compatible data resource.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{AdminError, AdminState};
use crate::config::{Root, UploadMode};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/candidate", web::post().to(upload))
        .route("/candidate/import", web::post().to(import))
        .route("/candidate", web::get().to(candidate))
        .route("/candidate", web::delete().to(discard))
        .route("/commit", web::post().to(commit))
        .route("/versions", web::get().to(versions))
        .route("/rollback/{version}", web::post().to(rollback))
        .route("/export", web::get().to(export))
        .route("/restconf/data", web::get().to(restconf_get))
        .route("/restconf/data", web::patch().to(restconf_patch))
        .route("/restconf/data", web::put().to(restconf_put));
}

/// Who asks for a change: the admin behind the request's credentials, once the request is
/// known not to come from another site's page. The API's only ambient credential is HTTP Basic
/// cached by a browser; a browser sends `Sec-Fetch-Site` (and `Origin`) with a cross-site
/// request, which is refused before the credentials are even looked at. The CLI and scripts
/// send neither.
async fn changer(state: &AdminState, req: &HttpRequest) -> Result<String, AdminError> {
    refuse_cross_site(req)?;
    state.auth.authenticate(req).await
}

fn refuse_cross_site(req: &HttpRequest) -> Result<(), AdminError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(AdminError::CrossSite),
        };
    }
    match (header("origin"), header("host")) {
        (None, _) => Ok(()),
        (Some(origin), Some(host))
            if url::Url::parse(origin).is_ok_and(|o| {
                o.host_str().map(|h| match o.port() {
                    Some(port) => format!("{h}:{port}"),
                    None => h.to_owned(),
                }) == Some(host.to_ascii_lowercase())
            }) =>
        {
            Ok(())
        }
        _ => Err(AdminError::CrossSite),
    }
}

/// A POST that carries no document must still say `application/json`: a type no page can send
/// across sites without the browser asking first (CORS preflight), which Tessera never allows
/// on the admin API.
fn json_request(req: &HttpRequest) -> Result<(), AdminError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(AdminError::UnsupportedMediaType(format!(
            "send Content-Type: application/json (a body such as {{\"comment\": \"…\"}} or {{}}), not {essence:?}"
        )))
    }
}

#[derive(Deserialize)]
struct ModeQuery {
    mode: Option<String>,
    /// Import only: report and check, stage nothing.
    #[serde(default)]
    dry_run: bool,
}

impl ModeQuery {
    fn mode(&self) -> Result<UploadMode, AdminError> {
        match self.mode.as_deref() {
            Some("merge") | None => Ok(UploadMode::Merge),
            Some("replace") => Ok(UploadMode::Replace),
            Some(other) => Err(AdminError::BadRequest(format!(
                "mode must be merge or replace, not {other:?}"
            ))),
        }
    }
}

fn xml_body(req: &HttpRequest) -> Result<(), AdminError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if matches!(
        essence,
        "application/xml" | "text/xml" | "application/yang-data+xml"
    ) {
        Ok(())
    } else {
        Err(AdminError::UnsupportedMediaType(format!(
            "send the configuration as application/xml or application/yang-data+xml, not {essence:?}"
        )))
    }
}

/// `POST /admin/api/candidate?mode=merge|replace` with an XML body: stage a candidate.
async fn upload(
    state: web::Data<AdminState>,
    req: HttpRequest,
    query: web::Query<ModeQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let author = changer(&state, &req).await?;
    xml_body(&req)?;
    let view = state
        .service
        .upload(body.to_vec(), query.mode()?, &author)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /admin/api/candidate/import?mode=merge|replace&dry_run=true|false` with a Curity
/// file: stage what Tessera understands (or, dry run, only check it) and answer the
/// migration report.
async fn import(
    state: web::Data<AdminState>,
    req: HttpRequest,
    query: web::Query<ModeQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let author = changer(&state, &req).await?;
    xml_body(&req)?;
    let view = state
        .service
        .import(body.to_vec(), query.mode()?, &author, query.dry_run)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn candidate(
    state: web::Data<AdminState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    state.auth.authenticate(&req).await?;
    match state.service.candidate().await? {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(crate::ConfigError::NotFound("there is no candidate".into()).into()),
    }
}

async fn discard(
    state: web::Data<AdminState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    changer(&state, &req).await?;
    state.service.discard().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
struct CommentBody {
    #[serde(default)]
    comment: String,
    /// The `id` of the reviewed candidate (optional).
    #[serde(default)]
    candidate: Option<String>,
}

fn body_of(body: &web::Bytes) -> Result<CommentBody, AdminError> {
    if body.is_empty() {
        return Ok(CommentBody::default());
    }
    serde_json::from_slice::<CommentBody>(body).map_err(|e| {
        AdminError::BadRequest(format!(
            "expected a JSON body {{\"comment\": \"…\", \"candidate\": \"<id>\"}}: {e}"
        ))
    })
}

/// `POST /admin/api/commit` `{"comment": "…"}`.
async fn commit(
    state: web::Data<AdminState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let author = changer(&state, &req).await?;
    json_request(&req)?;
    let body = body_of(&body)?;
    let outcome = state
        .service
        .commit(&body.comment, &author, body.candidate.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

async fn rollback(
    state: web::Data<AdminState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let author = changer(&state, &req).await?;
    json_request(&req)?;
    let version: i32 = path.parse().map_err(|_| {
        AdminError::BadRequest(format!("{:?} is not a version number", path.as_str()))
    })?;
    let outcome = state
        .service
        .rollback(version, &body_of(&body)?.comment, &author)
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

async fn versions(
    state: web::Data<AdminState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    state.auth.authenticate(&req).await?;
    Ok(HttpResponse::Ok().json(state.service.versions().await?))
}

fn xml_response(content_type: &str, xml: String, version: i32) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("X-Config-Version", version.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(xml)
}

async fn export(
    state: web::Data<AdminState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    state.auth.authenticate(&req).await?;
    let version = state.service.active().version();
    Ok(xml_response(
        "application/xml",
        state.service.export(Root::Config),
        version,
    ))
}

async fn restconf_get(
    state: web::Data<AdminState>,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    state.auth.authenticate(&req).await?;
    let version = state.service.active().version();
    Ok(xml_response(
        "application/yang-data+xml",
        state.service.export(Root::Data),
        version,
    ))
}

async fn restconf_edit(
    state: web::Data<AdminState>,
    req: HttpRequest,
    body: web::Bytes,
    mode: UploadMode,
) -> Result<HttpResponse, AdminError> {
    let author = changer(&state, &req).await?;
    xml_body(&req)?;
    state
        .service
        .edit_and_commit(body.to_vec(), mode, &author)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// RESTCONF `PATCH`: merge and commit (204).
async fn restconf_patch(
    state: web::Data<AdminState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    restconf_edit(state, req, body, UploadMode::Merge).await
}

/// RESTCONF `PUT`: replace and commit (204).
async fn restconf_put(
    state: web::Data<AdminState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    restconf_edit(state, req, body, UploadMode::Replace).await
}
