//! The sign-in pages' layout, pinned: page modules import the shared modules, never each
//! other, and the sign-in domain knows nothing of HTTP.

use std::path::Path;

const PAGES: [&str; 8] = [
    "login",
    "identify",
    "passkey_login",
    "recovery",
    "signup",
    "email_link",
    "account",
    "assets",
];

fn source(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn no_page_module_imports_another_page_module() {
    for page in PAGES {
        let text = source(&format!("src/http/{page}.rs"));
        for other in PAGES.iter().filter(|other| **other != page) {
            for import in [format!("super::{other}::"), format!("super::{other};")] {
                assert!(
                    !text.contains(&import),
                    "http/{page}.rs uses the page module {other}"
                );
            }
        }
    }
}

#[test]
fn the_sign_in_domain_knows_nothing_of_http() {
    for module in ["mod", "offers", "proof", "steps"] {
        let text = source(&format!("src/signin/{module}.rs"));
        for http in ["actix", "HttpResponse", "HttpRequest", "crate::http"] {
            assert!(!text.contains(http), "signin/{module}.rs mentions {http}");
        }
    }
}
