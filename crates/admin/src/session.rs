//! Who is signed in to the staff application: the session cookie, its expiry, and the CSRF token
//! every form carries.
//!
//! The session is the staff token itself (the same claims the staff routes check), in a cookie
//! that is `HttpOnly`, `SameSite=Strict`, scoped to `/admin`, and `Secure` when the site is served
//! over https. Scripts may send the token as `Authorization: Bearer` instead; they need no CSRF
//! token, since a browser never adds that header by itself. A form's CSRF token is an HMAC of the
//! session token under a key of this process, so it is good for that session only.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use cityfix_http::auth::{StaffClaims, TokenKeys};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Admin;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cityfix_staff";

/// The cookie carrying the sign-in form's own CSRF token, before any session exists.
pub const SIGN_IN_COOKIE: &str = "cityfix_sign_in";

/// How many bytes of the MAC a CSRF token keeps.
const CSRF_BYTES: usize = 16;

/// How long a session lasts from sign-in: a working day.
pub const SESSION_SECS: u64 = 10 * 3600;

/// The session keys and the CSRF key of one secret (the admin function's `ADMIN_SESSION_SECRET`),
/// each derived under its own label so that neither can stand in for the other.
pub fn keys_from_secret(secret: &[u8]) -> (Arc<TokenKeys>, Vec<u8>) {
    let derive = |label: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(label);
        mac.finalize().into_bytes().to_vec()
    };
    (
        Arc::new(TokenKeys::from_secret(&derive(b"cityfix-admin-session"))),
        derive(b"cityfix-admin-csrf-key"),
    )
}

/// How sessions are checked and their forms protected.
pub struct Sessions {
    pub keys: Arc<TokenKeys>,
    /// The key CSRF tokens are made with.
    pub csrf_key: Vec<u8>,
    /// Whether cookies are marked `Secure` (the site is served over https).
    pub secure: bool,
}

impl Sessions {
    /// The MAC a session's CSRF token is cut from.
    fn csrf_mac(&self, token: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("HMAC takes any key");
        mac.update(b"cityfix-admin-csrf\x1f");
        mac.update(token.as_bytes());
        mac
    }

    /// The CSRF token of the session `token`.
    pub fn csrf_for(&self, token: &str) -> String {
        hex::encode(&self.csrf_mac(token).finalize().into_bytes()[..CSRF_BYTES])
    }

    /// Whether `given` is the CSRF token of the session `token` (checked by the MAC, in constant
    /// time, and only at its full length).
    pub fn csrf_matches(&self, token: &str, given: &str) -> bool {
        hex::decode(given).is_ok_and(|tag| {
            tag.len() == CSRF_BYTES && self.csrf_mac(token).verify_truncated_left(&tag).is_ok()
        })
    }

    /// The `Set-Cookie` value of a session holding `token` for `max_age` seconds.
    pub fn session_cookie(&self, token: &str, max_age: u64) -> HeaderValue {
        self.cookie(SESSION_COOKIE, token, max_age)
    }

    /// The `Set-Cookie` value that ends the session.
    pub fn end_cookie(&self) -> HeaderValue {
        self.cookie(SESSION_COOKIE, "", 0)
    }

    /// A cookie for `/admin` only, unreadable by scripts, never sent from another site.
    pub fn cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        self.cookie_for_sites(name, value, max_age, "Strict")
    }

    /// A cookie as [`Sessions::cookie`], but also sent when another site sends the browser here
    /// with a plain link or redirect (`SameSite=Lax`): only for a sign-in on its way back from the
    /// hosted UI, which is such a redirect.
    pub fn returning_cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        self.cookie_for_sites(name, value, max_age, "Lax")
    }

    fn cookie_for_sites(
        &self,
        name: &str,
        value: &str,
        max_age: u64,
        same_site: &str,
    ) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
        ))
        .expect("cookie values are token characters")
    }
}

/// The value of cookie `name` of a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// How the signed-in person reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The session cookie of a browser: forms must carry the CSRF token.
    Cookie,
    /// `Authorization: Bearer`, from a script.
    Bearer,
}

/// The person signed in to a page, with their session token and how it came.
pub struct Session {
    pub claims: StaffClaims,
    pub token: String,
    pub carrier: Carrier,
}

impl Session {
    /// The CSRF token this session's forms carry.
    pub fn csrf(&self, admin: &Admin) -> String {
        admin.sessions.csrf_for(&self.token)
    }

    /// Whether a form posted in this session is genuine: its CSRF token is this session's (a
    /// bearer caller needs none).
    pub fn form_is_genuine(&self, admin: &Admin, given: Option<&str>) -> bool {
        self.carrier == Carrier::Bearer
            || given.is_some_and(|given| admin.sessions.csrf_matches(&self.token, given))
    }
}

/// A page asked for without a valid session: to the sign-in page, which brings them back.
pub struct SignInFirst {
    next: String,
    expired: bool,
}

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let mut target = format!(
            "/admin/sign-in?next={}",
            form_urlencoded::byte_serialize(self.next.as_bytes()).collect::<String>()
        );
        if self.expired {
            target.push_str("&expired=1");
        }
        Redirect::to(&target).into_response()
    }
}

/// Where the sign-in page may send someone back to: a page of this application, never elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with("/admin")
                && !path.starts_with("/admin/sign-")
                && !path.contains("//")
                && !path.contains('\\')
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path.to_string()
        }
        _ => "/admin/queue".to_string(),
    }
}

impl FromRequestParts<Arc<Admin>> for Session {
    type Rejection = SignInFirst;

    async fn from_request_parts(
        parts: &mut Parts,
        admin: &Arc<Admin>,
    ) -> Result<Self, SignInFirst> {
        let now = admin.now_secs();
        let next = || {
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/admin");
            // After a sign-in the browser comes back with a GET, so a form's page, not its action.
            if parts.method == axum::http::Method::GET {
                safe_next(Some(path))
            } else {
                safe_next(Some(
                    parts
                        .uri
                        .path()
                        .rsplit_once('/')
                        .map_or("/admin", |(page, _)| page),
                ))
            }
        };
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_string());
        let (token, carrier) = match bearer {
            Some(token) => (token, Carrier::Bearer),
            None => match cookie(&parts.headers, SESSION_COOKIE) {
                Some(token) => (token.to_string(), Carrier::Cookie),
                None => {
                    return Err(SignInFirst {
                        next: next(),
                        expired: false,
                    })
                }
            },
        };
        match admin.sessions.keys.verify_token(&token, now) {
            Ok(claims) => Ok(Session {
                claims,
                token,
                carrier,
            }),
            Err(_) => Err(SignInFirst {
                next: next(),
                expired: carrier == Carrier::Cookie,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions {
            keys: Arc::new(TokenKeys::from_secret(b"k")),
            csrf_key: b"csrf-key".to_vec(),
            secure: true,
        }
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let s = sessions();
        let token = s.csrf_for("session-a");
        assert!(s.csrf_matches("session-a", &token));
        assert!(!s.csrf_matches("session-b", &token));
        assert!(!s.csrf_matches("session-a", ""));
        assert!(!s.csrf_matches("session-a", &token[..10]));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_on_https() {
        let s = sessions();
        let cookie = s.session_cookie("tok", 60);
        let text = cookie.to_str().unwrap();
        for part in [
            "cityfix_staff=tok",
            "Path=/admin",
            "Max-Age=60",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        let local = Sessions { secure: false, ..s };
        assert!(!local.end_cookie().to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn sign_in_sends_back_only_to_pages_of_this_application() {
        assert_eq!(
            safe_next(Some("/admin/requests/7K3M-9QZ2")),
            "/admin/requests/7K3M-9QZ2"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/admin//evil",
            "/other",
            "/admin/sign-in",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin/queue", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin/queue");
    }

    #[test]
    fn one_secret_gives_different_session_and_csrf_keys() {
        let (keys, csrf) = keys_from_secret(b"a secret of the admin function, long enough");
        let (_, other_csrf) = keys_from_secret(b"another secret of the admin function, as long");
        assert_ne!(csrf, other_csrf);
        let claims = StaffClaims {
            sub: "u1".into(),
            name: "Ana".into(),
            role: cityfix_http::auth::Role::Staff,
            department: None,
            exp: 2_000_000_000,
        };
        let token = keys.issue(&claims, 2_000_000_000 - 60).unwrap();
        let csrf_as_session = TokenKeys::from_secret(&csrf);
        assert!(csrf_as_session
            .verify_token(&token, 2_000_000_000 - 30)
            .is_err());
        assert!(keys.verify_token(&token, 2_000_000_000 - 30).is_ok());
    }

    #[test]
    fn a_returning_cookie_is_lax_and_the_others_strict() {
        let s = sessions();
        let text = s.returning_cookie("c", "v", 600);
        assert!(text.to_str().unwrap().contains("SameSite=Lax; Secure"));
        assert!(s
            .cookie("c", "v", 600)
            .to_str()
            .unwrap()
            .contains("SameSite=Strict"));
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; cityfix_staff=tok; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
