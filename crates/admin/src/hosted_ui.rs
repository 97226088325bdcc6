//! Sign-in through Cognito's hosted UI on AWS: the authorization code flow with PKCE, the ID token
//! checked against the user pool's published keys, and its claims mapped by the same rules the
//! staff function applies to the HTTP API authorizer's claims.
//!
//! `/admin/sign-in` sends the browser to the hosted UI with a fresh `state` and PKCE verifier kept
//! in a short-lived cookie; the hosted UI sends it back to `/admin/auth/callback` with a code, which
//! is exchanged at the pool's token endpoint. The ID token must be signed (RS256) by a key of the
//! pool's JWKS, for this app client, issued by the pool, and in time; then the session starts as it
//! does after a local sign-in. Nothing of the token or the person is logged.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cityfix_http::auth::{claims_from_authorizer, CognitoTokens, StaffClaims};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The cookie holding a sign-in's `state`, PKCE verifier and the page to return to, while the
/// person is at the hosted UI.
pub const HOSTED_SIGN_IN_COOKIE: &str = "cityfix_hosted_sign_in";

/// How long someone may take at the hosted UI before the sign-in must start again.
pub const HOSTED_SIGN_IN_SECS: u64 = 600;

/// How soon the pool's keys may be fetched again when a token names a key not among them (Cognito
/// rotates keys rarely; a stream of made-up key ids must not become a stream of fetches).
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(60);

/// Where the hosted UI and the pool's endpoints are, and which app client signs staff in.
#[derive(Debug, Clone)]
pub struct HostedUiSettings {
    /// The hosted UI's origin, `https://<domain prefix>.auth.<region>.amazoncognito.com`.
    pub sign_in_url: String,
    /// The app client's id (the ID token's audience).
    pub client_id: String,
    /// Where the hosted UI sends the browser back: `<site>/admin/auth/callback`, as registered on
    /// the app client.
    pub callback_url: String,
    /// The pool's issuer, `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The token endpoint (`<sign_in_url>/oauth2/token` on AWS).
    pub token_endpoint: String,
    /// The pool's signing keys (`<issuer>/.well-known/jwks.json` on AWS).
    pub jwks_url: String,
}

impl HostedUiSettings {
    /// The settings of a Cognito pool: its endpoints follow from the hosted UI's origin and the
    /// issuer.
    pub fn cognito(sign_in_url: &str, client_id: &str, callback_url: &str, issuer: &str) -> Self {
        let sign_in_url = sign_in_url.trim_end_matches('/').to_string();
        let issuer = issuer.trim_end_matches('/').to_string();
        HostedUiSettings {
            token_endpoint: format!("{sign_in_url}/oauth2/token"),
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            sign_in_url,
            client_id: client_id.to_string(),
            callback_url: callback_url.to_string(),
            issuer,
        }
    }
}

/// Why a hosted sign-in did not end in a session. What the person is told is
/// [`SignInRefused::message`]; which check failed is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefused {
    #[error("the sign-in's state does not match this browser's (stale, replayed or forged)")]
    State,
    #[error("the hosted UI answered with an error: {0}")]
    HostedUi(String),
    #[error("the token endpoint cannot be reached or refused the code: {0}")]
    Exchange(String),
    #[error("the pool's signing keys cannot be fetched: {0}")]
    Keys(String),
    #[error("the ID token is not good: {0}")]
    Token(String),
    #[error("the account has no staff role")]
    NoRole,
}

impl SignInRefused {
    /// What the sign-in page says.
    pub fn message(&self) -> &'static str {
        match self {
            SignInRefused::State => {
                "That sign-in had expired or was not started here. Sign in again."
            }
            SignInRefused::NoRole => {
                "This account has no staff role. Ask an administrator to add you to a group."
            }
            SignInRefused::HostedUi(_) | SignInRefused::Token(_) => {
                "The sign-in could not be checked. Sign in again."
            }
            SignInRefused::Exchange(_) | SignInRefused::Keys(_) => {
                "The sign-in service did not answer. Try again in a minute."
            }
        }
    }
}

/// A sign-in on its way to the hosted UI: where to send the browser and the cookie value that
/// proves, on its return, that it started here.
pub struct Started {
    pub authorize_url: String,
    pub cookie: String,
}

/// The pool's keys as last fetched.
struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// Signs staff in through the hosted UI.
pub struct HostedUi {
    settings: HostedUiSettings,
    http: reqwest::Client,
    keys: RwLock<Option<Keys>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
}

impl HostedUi {
    pub fn new(settings: HostedUiSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with rustls and a timeout builds");
        HostedUi {
            settings,
            http,
            keys: RwLock::new(None),
        }
    }

    /// Where sign-out sends the browser: the hosted UI's logout, which ends its own session too and
    /// comes back to the sign-in page.
    pub fn logout_url(&self) -> String {
        let back = self
            .settings
            .callback_url
            .trim_end_matches("/auth/callback")
            .to_string()
            + "/sign-in";
        format!(
            "{}/logout?client_id={}&logout_uri={}",
            self.settings.sign_in_url,
            encode(&self.settings.client_id),
            encode(&back)
        )
    }

    /// A new sign-in that returns to `next` (a page of this application).
    pub fn start(&self, next: &str) -> Started {
        let state = random_token();
        let verifier = random_token() + &random_token();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let authorize_url = format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
            self.settings.sign_in_url,
            encode(&self.settings.client_id),
            encode(&self.settings.callback_url),
            encode("openid email profile"),
            state,
            challenge,
        );
        Started {
            authorize_url,
            cookie: format!(
                "{state}.{verifier}.{}",
                URL_SAFE_NO_PAD.encode(next.as_bytes())
            ),
        }
    }

    /// The claims of whoever the hosted UI sent back with `code` and `state`, checked at `now`
    /// (seconds since 1970), given the sign-in cookie this browser holds; and the page to go to.
    pub async fn finish(
        &self,
        cookie: Option<&str>,
        code: &str,
        state: &str,
        now: u64,
    ) -> Result<(StaffClaims, String), SignInRefused> {
        let (expected_state, verifier, next) = cookie
            .and_then(|c| {
                let mut parts = c.splitn(3, '.');
                Some((parts.next()?, parts.next()?, parts.next()?))
            })
            .ok_or(SignInRefused::State)?;
        if expected_state.is_empty()
            || !constant_time_eq(expected_state.as_bytes(), state.as_bytes())
        {
            return Err(SignInRefused::State);
        }
        let next = URL_SAFE_NO_PAD
            .decode(next)
            .ok()
            .and_then(|n| String::from_utf8(n).ok())
            .unwrap_or_default();
        let id_token = self.exchange(code, verifier).await?;
        let claims = self.check_id_token(&id_token, now).await?;
        Ok((claims, next))
    }

    /// The ID token the token endpoint gives for `code`.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, SignInRefused> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", self.settings.client_id.as_str()),
            ("code", code),
            ("redirect_uri", self.settings.callback_url.as_str()),
            ("code_verifier", verifier),
        ];
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let answer = self
            .http
            .post(&self.settings.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| SignInRefused::Exchange(e.without_url().to_string()))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(SignInRefused::Exchange(format!("status {status}")));
        }
        answer
            .json::<TokenAnswer>()
            .await
            .map(|a| a.id_token)
            .map_err(|_| SignInRefused::Exchange("no id_token in the answer".into()))
    }

    /// The staff claims of an ID token: signed by a key of the pool, RS256, for this client, then
    /// through the same checks as the authorizer's claims (issuer, audience, `token_use`, issue and
    /// expiry at `now`, lifetime, a staff group).
    pub async fn check_id_token(
        &self,
        token: &str,
        now: u64,
    ) -> Result<StaffClaims, SignInRefused> {
        let header = decode_header(token).map_err(|e| SignInRefused::Token(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(SignInRefused::Token(format!(
                "algorithm {:?}, not RS256",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| SignInRefused::Token("no key id".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_issuer(&[&self.settings.issuer]);
        // Time is checked below against the application's clock, as for every staff token.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let claims = decode::<HashMap<String, Value>>(token, &key, &validation)
            .map_err(|e| SignInRefused::Token(e.to_string()))?
            .claims;
        let expected = CognitoTokens {
            issuer: self.settings.issuer.clone(),
            audience: self.settings.client_id.clone(),
        };
        claims_from_authorizer(&as_authorizer_claims(&claims), &expected, now).map_err(|e| {
            if e.status == axum::http::StatusCode::FORBIDDEN {
                SignInRefused::NoRole
            } else {
                SignInRefused::Token(e.message)
            }
        })
    }

    /// The pool's key `kid`, fetching the pool's keys when they are not known yet, or when `kid` is
    /// not among them and they were fetched more than a minute ago (a rotation).
    async fn key(&self, kid: &str) -> Result<DecodingKey, SignInRefused> {
        let (known, stale) = {
            let keys = self.keys.read().expect("the key cache is never poisoned");
            match keys.as_ref() {
                Some(keys) => (
                    keys.set.find(kid).cloned(),
                    keys.fetched.elapsed() >= JWKS_REFETCH_AFTER,
                ),
                None => (None, true),
            }
        };
        let jwk = match known {
            Some(jwk) => jwk,
            None if stale => {
                let set = self.fetch_keys().await?;
                let found = set.find(kid).cloned();
                *self.keys.write().expect("the key cache is never poisoned") = Some(Keys {
                    set,
                    fetched: Instant::now(),
                });
                found.ok_or_else(|| SignInRefused::Token("a key the pool does not have".into()))?
            }
            None => return Err(SignInRefused::Token("a key the pool does not have".into())),
        };
        DecodingKey::from_jwk(&jwk).map_err(|e| SignInRefused::Keys(e.to_string()))
    }

    async fn fetch_keys(&self) -> Result<JwkSet, SignInRefused> {
        let answer = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await
            .map_err(|e| SignInRefused::Keys(e.without_url().to_string()))?;
        if !answer.status().is_success() {
            return Err(SignInRefused::Keys(format!("status {}", answer.status())));
        }
        answer
            .json::<JwkSet>()
            .await
            .map_err(|e| SignInRefused::Keys(e.to_string()))
    }
}

/// An ID token's claims as the HTTP API's JWT authorizer hands them to a function: every value a
/// string, arrays as `[a b]`.
fn as_authorizer_claims(claims: &HashMap<String, Value>) -> HashMap<String, String> {
    claims
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Array(items) => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|item| item
                            .as_str()
                            .map_or_else(|| item.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect()
}

/// 32 random letters and digits.
fn random_token() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hosted() -> HostedUi {
        HostedUi::new(HostedUiSettings::cognito(
            "https://city-staff.auth.us-east-1.amazoncognito.com/",
            "client123",
            "https://311.example/admin/auth/callback",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool",
        ))
    }

    #[test]
    fn a_sign_in_goes_to_the_hosted_ui_with_state_and_a_pkce_challenge_of_its_cookie() {
        let started = hosted().start("/admin/requests/7K3M-9QZ2");
        let (state, rest) = started.cookie.split_once('.').unwrap();
        let (verifier, next) = rest.split_once('.').unwrap();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let url = &started.authorize_url;
        assert!(url.starts_with(
            "https://city-staff.auth.us-east-1.amazoncognito.com/oauth2/authorize?response_type=code&client_id=client123&redirect_uri=https%3A%2F%2F311.example%2Fadmin%2Fauth%2Fcallback&"
        ), "{url}");
        assert!(url.contains(&format!("&state={state}&")), "{url}");
        assert!(url.contains(&format!(
            "&code_challenge={challenge}&code_challenge_method=S256"
        )));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(next).unwrap(),
            b"/admin/requests/7K3M-9QZ2"
        );
        assert_ne!(hosted().start("/admin").cookie, started.cookie);
    }

    #[test]
    fn groups_reach_the_authorizer_rules_as_the_authorizer_writes_them() {
        let claims: HashMap<String, Value> = serde_json::from_value(json!({
            "cognito:groups": ["staff", "agent"], "exp": 1700000000, "aud": "client123",
            "custom:department": "public-works",
        }))
        .unwrap();
        let flat = as_authorizer_claims(&claims);
        assert_eq!(flat["cognito:groups"], "[staff agent]");
        assert_eq!(flat["exp"], "1700000000");
        assert_eq!(flat["aud"], "client123");
        assert_eq!(flat["custom:department"], "public-works");
    }

    #[test]
    fn sign_out_ends_the_hosted_session_and_comes_back_to_sign_in() {
        assert_eq!(
            hosted().logout_url(),
            "https://city-staff.auth.us-east-1.amazoncognito.com/logout?client_id=client123&logout_uri=https%3A%2F%2F311.example%2Fadmin%2Fsign-in"
        );
    }
}
