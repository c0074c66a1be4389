//! What every sign-in page checks before anything else: that the flow it names is open, that
//! it is this browser's, and (for a posted form) that the form's CSRF token is the one issued
//! for that flow and browser. The extractors here do it once for every handler.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::SignInError;
use super::{AuthnState, cookies};
use crate::flow::{self, Policy};
use crate::signin::SignIn;

/// An open sign-in of this browser.
#[derive(Debug, Clone)]
pub(super) struct OpenFlow {
    /// The flow.
    pub id: Uuid,
    /// The browser's cookie secret, which the flow is bound to.
    pub browser: String,
    /// What the caller required.
    pub policy: Policy,
}

impl OpenFlow {
    /// The CSRF token of this flow's forms in this browser.
    pub fn csrf_token(&self, state: &AuthnState) -> String {
        state.forms.token(&binding(self.id, &self.browser))
    }
}

fn binding(flow_id: Uuid, browser: &str) -> String {
    format!("{flow_id}|{browser}")
}

/// The open flow `flow_id` of the browser behind `req`.
pub(super) async fn open_flow(
    state: &AuthnState,
    req: &HttpRequest,
    flow_id: Uuid,
) -> Result<OpenFlow, SignInError> {
    let browser = req
        .cookie(cookies::BROWSER)
        .map(|c| c.value().to_owned())
        .ok_or(SignInError::Expired)?;
    let now = Utc::now();
    let row = state
        .store
        .run(move |conn| tessera_store::signin::flow(conn, flow_id, now))
        .await?
        .ok_or(SignInError::Expired)?;
    if !tessera_admin::crypto::same(&row.browser_hash, &flow::secret_hash(&browser)) {
        return Err(SignInError::Expired);
    }
    match SignIn::of(&row, now) {
        Ok(SignIn::Open(policy)) => Ok(OpenFlow {
            id: flow_id,
            browser,
            policy,
        }),
        Ok(SignIn::Authenticated | SignIn::Over) => Err(SignInError::Expired),
        Err(e) => {
            tracing::error!(error = %e, "a sign-in cannot be read");
            Err(SignInError::Unavailable)
        }
    }
}

/// The open flow a page's `?flow=<id>` names.
pub(super) struct QueriedFlow(pub OpenFlow);

#[derive(Deserialize)]
struct FlowQuery {
    flow: Option<String>,
}

impl FromRequest for QueriedFlow {
    type Error = SignInError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, SignInError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let query = web::Query::<FlowQuery>::from_query(req.query_string())
                .map_err(|_| SignInError::Expired)?;
            let flow_id = query
                .flow
                .as_deref()
                .and_then(|f| Uuid::parse_str(f).ok())
                .ok_or(SignInError::Expired)?;
            open_flow(&state, &req, flow_id).await.map(QueriedFlow)
        })
    }
}

/// A form that belongs to a sign-in: it names its flow and carries its CSRF token.
pub(super) trait FlowFields {
    /// The `flow` field.
    fn flow(&self) -> &str;
    /// The `csrf` field.
    fn csrf(&self) -> &str;
}

/// Implements [`FlowFields`] for forms with `flow` and `csrf` fields.
macro_rules! flow_form {
    ($($form:ty),+) => {$(
        impl $crate::http::guard::FlowFields for $form {
            fn flow(&self) -> &str {
                &self.flow
            }
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )+};
}
pub(super) use flow_form;

/// A posted form of an open flow of this browser, with the right CSRF token.
pub(super) struct Posted<T>(pub OpenFlow, pub T);

impl<T: DeserializeOwned + FlowFields + 'static> FromRequest for Posted<T> {
    type Error = SignInError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, SignInError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed = Signed::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            match signed.await {
                Ok(Signed { flow_id, form, .. }) => {
                    Ok(Posted(open_flow(&state, &req, flow_id).await?, form))
                }
                // The token is not this flow's and this browser's: a forged form if the flow
                // is open here, else simply an expired one.
                Err(SignInError::Expired) => {
                    let flow_id = flow_named(&req).ok_or(SignInError::Expired)?;
                    open_flow(&state, &req, flow_id).await?;
                    Err(SignInError::Forged)
                }
                Err(e) => Err(e),
            }
        })
    }
}

/// A posted form whose CSRF token is right for the flow it names and this browser, checked
/// without the database: the statement that then uses the flow must check that it is open
/// and this browser's (see [`tessera_store::passkeys::BrowserFlow`]). Half of every passkey
/// sign-in goes through here, so it saves the round trip.
pub(super) struct Signed<T> {
    /// The flow the form names.
    pub flow_id: Uuid,
    /// The browser's cookie secret.
    pub browser: String,
    /// The form.
    pub form: T,
}

impl<T: DeserializeOwned + FlowFields + 'static> FromRequest for Signed<T> {
    type Error = SignInError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, SignInError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await.map_err(|_| SignInError::BadForm)?.into_inner();
            let state = app_state(&req)?;
            let flow_id = Uuid::parse_str(form.flow()).map_err(|_| SignInError::Expired)?;
            let browser = req
                .cookie(cookies::BROWSER)
                .map(|c| c.value().to_owned())
                .ok_or(SignInError::Expired)?;
            req.extensions_mut().insert(PostedFlowId(flow_id));
            if state.forms.verify(&binding(flow_id, &browser), form.csrf()) {
                Ok(Signed {
                    flow_id,
                    browser,
                    form,
                })
            } else {
                Err(SignInError::Expired)
            }
        })
    }
}

/// The flow id a posted form named, kept on the request once read.
#[derive(Clone, Copy)]
struct PostedFlowId(Uuid);

fn flow_named(req: &HttpRequest) -> Option<Uuid> {
    req.extensions().get::<PostedFlowId>().map(|id| id.0)
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AuthnState>, SignInError> {
    req.app_data::<web::Data<AuthnState>>()
        .cloned()
        .ok_or(SignInError::Unavailable)
}
