//! Staff sign-in: signed tokens (JWT) carrying who someone is, their role and department.
//!
//! On AWS the HTTP API's JWT authorizer checks Cognito's tokens (signature, issuer, audience,
//! expiry) before a function runs, and the function checks again what it can of the claims it is
//! passed; locally the runner signs tokens of the same shape with its own secret, issuer and
//! audience (`cityfix token`), and checks them itself. Either way a token lives at most
//! [`MAX_TOKEN_LIFETIME_SECS`], and a refusal says only "invalid token", never which check failed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;

/// The longest a staff token may live, from issue to expiry: one working day.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 12 * 3600;

/// How far clocks may disagree when expiry, not-before and issue times are checked.
pub const CLOCK_LEEWAY_SECS: u64 = 5;

/// The issuer of the local runner's tokens; no other token is taken locally.
pub const LOCAL_ISSUER: &str = "cityfix-local";

/// The audience of the local runner's tokens: the staff routes.
pub const LOCAL_AUDIENCE: &str = "cityfix-staff";

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A 311 call-taker: files reports for callers.
    Agent,
    /// Works the requests of one department.
    Staff,
    /// Works and oversees every department's requests.
    Supervisor,
    Admin,
    /// Reads confidential ethics reports.
    Ethics,
}

/// The claims of a staff token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffClaims {
    /// A stable id of the person (Cognito's `sub`).
    pub sub: String,
    pub name: String,
    pub role: Role,
    /// The department a `staff` member works for.
    #[serde(default)]
    pub department: Option<String>,
    /// Expiry, seconds since 1970.
    pub exp: u64,
}

impl StaffClaims {
    /// Whether this person may change requests of `department`.
    pub fn may_work(&self, department: Option<&str>) -> bool {
        match self.role {
            Role::Supervisor | Role::Admin => true,
            Role::Staff => self.department.is_some() && self.department.as_deref() == department,
            Role::Agent | Role::Ethics => false,
        }
    }

    /// How much of a request of `department` this person may read, confidential (an ethics
    /// report) or not: the read policy of docs/staff-access.md.
    pub fn may_read(&self, department: Option<&str>, confidential: bool) -> Reading {
        match (self.role, confidential) {
            (Role::Ethics, true) => Reading::Case,
            (Role::Ethics, false) => Reading::Refused,
            (_, true) => Reading::Hidden,
            (Role::Supervisor | Role::Admin, false) => Reading::Case,
            (Role::Staff, false) if self.may_work(department) => Reading::Case,
            (Role::Staff | Role::Agent, false) => Reading::Caller,
        }
    }

    /// Whether this person may read the work queue of `department` (what it lists is what
    /// [`StaffClaims::may_read`] gives [`Reading::Case`] of).
    pub fn may_list(&self, department: &str) -> bool {
        match self.role {
            Role::Ethics => true,
            Role::Agent => false,
            Role::Staff | Role::Supervisor | Role::Admin => self.may_work(Some(department)),
        }
    }
}

/// What a staff action asks of whoever takes it (docs/staff-access.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Add a note.
    Annotate,
    /// Move, assign, prioritise, reschedule, refer, merge, add a photo.
    Work,
    /// Archive a closed request by hand.
    Archive,
    /// Moderate what the public reads: hide a request, edit its public description.
    Moderate,
}

impl StaffClaims {
    /// Whether this person may take `act` on a request of `department`: staff in their own
    /// department, supervisors and admins anywhere, agents notes only, ethics officers on
    /// confidential reports only (and nobody else on those). Moderation is for supervisors and
    /// admins only: a confidential report is never public, so there is nothing to moderate.
    pub fn may_act(&self, act: Act, department: Option<&str>, confidential: bool) -> bool {
        match (self.role, confidential) {
            (Role::Ethics, true) => act != Act::Moderate,
            (Role::Ethics, false) | (_, true) => false,
            (Role::Agent, false) => act == Act::Annotate,
            (Role::Staff, false) => {
                !matches!(act, Act::Archive | Act::Moderate) && self.may_work(department)
            }
            (Role::Supervisor | Role::Admin, false) => true,
        }
    }
}

/// What someone sees of one request (docs/staff-access.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The case as its workers see it: the public record, who has it and why it was routed
    /// there, the internal timeline, followers and whether the reporter can be reached.
    Case,
    /// What a caller may be told: the public record with its public timeline, and who has it.
    Caller,
    /// Not this person's to read (403): an ethics officer and an ordinary request.
    Refused,
    /// As if it did not exist (404): a confidential report to anyone but ethics, so that a
    /// tracking number does not tell that one was made.
    Hidden,
}

/// Signs and checks staff tokens with one secret (HS256), issued by [`LOCAL_ISSUER`] for
/// [`LOCAL_AUDIENCE`].
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// A local token as signed: the staff claims and the claims that say by whom, for whom and when.
#[derive(Debug, Serialize, Deserialize)]
struct LocalToken {
    iss: String,
    aud: String,
    /// Issued at, seconds since 1970.
    iat: u64,
    /// Not before, seconds since 1970.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    #[serde(flatten)]
    claims: StaffClaims,
}

/// A token that would live longer than [`MAX_TOKEN_LIFETIME_SECS`], or not at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a staff token lives more than 0 s and at most {} h", MAX_TOKEN_LIFETIME_SECS / 3600)]
pub struct LifetimeRefused;

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[LOCAL_AUDIENCE]);
        // Times are checked in `verify` against the caller's clock (the same one as Cognito's
        // claims are checked against), with `CLOCK_LEEWAY_SECS`, not the library's 60 s.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = CLOCK_LEEWAY_SECS;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `claims`, valid from `issued_at` (seconds since 1970) until `claims.exp`.
    pub fn issue(&self, claims: &StaffClaims, issued_at: u64) -> Result<String, LifetimeRefused> {
        lifetime_allowed(issued_at, claims.exp).ok_or(LifetimeRefused)?;
        let token = LocalToken {
            iss: LOCAL_ISSUER.into(),
            aud: LOCAL_AUDIENCE.into(),
            iat: issued_at,
            nbf: Some(issued_at),
            claims: claims.clone(),
        };
        Ok(
            encode(&Header::new(Algorithm::HS256), &token, &self.encoding)
                .expect("HS256 signing cannot fail"),
        )
    }

    /// The claims of the request's bearer token at `now` (seconds since 1970): 401 without a
    /// valid one.
    pub fn verify(&self, headers: &HeaderMap, now: u64) -> Result<StaffClaims, ApiError> {
        self.verify_token(bearer_token(headers)?, now)
    }

    /// The claims of `token` at `now` (seconds since 1970): 401 unless it is one of ours, in time.
    pub fn verify_token(&self, token: &str, now: u64) -> Result<StaffClaims, ApiError> {
        let token = decode::<LocalToken>(token, &self.decoding, &self.validation)
            .map_err(|_| invalid_token())?
            .claims;
        issued_in_time(token.iat, token.claims.exp, now).ok_or_else(invalid_token)?;
        if token.nbf.is_some_and(|nbf| nbf > now + CLOCK_LEEWAY_SECS) {
            return Err(invalid_token());
        }
        Ok(token.claims)
    }
}

/// The bearer token of `Authorization`, or a 401 that says how to send one.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorised("sign in: send `Authorization: Bearer <token>`"))?;
    let value = value.to_str().map_err(|_| invalid_token())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(unauthorised(
            "sign in: send `Authorization: Bearer <token>`",
        )),
    }
}

fn unauthorised(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorised", message)
}

/// The one answer to a token that fails any check: which one failed helps only a forger.
fn invalid_token() -> ApiError {
    unauthorised("invalid token")
}

/// Whether a token issued at `iat` and expiring at `exp` lives no longer than allowed.
fn lifetime_allowed(iat: u64, exp: u64) -> Option<()> {
    (exp > iat && exp - iat <= MAX_TOKEN_LIFETIME_SECS).then_some(())
}

/// Whether a token issued at `iat`, expiring at `exp`, is good at `now`: issued already, not
/// expired, and living no longer than allowed (clocks may differ by [`CLOCK_LEEWAY_SECS`]).
fn issued_in_time(iat: u64, exp: u64, now: u64) -> Option<()> {
    lifetime_allowed(iat, exp)?;
    (iat <= now + CLOCK_LEEWAY_SECS && now <= exp + CLOCK_LEEWAY_SECS).then_some(())
}

/// The issuer and audience the staff function expects of Cognito's ID tokens. API Gateway's
/// authorizer checks them first (template.yaml); the function checks them again, so a route
/// wired without the authorizer's configuration cannot pass someone else's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoTokens {
    /// `https://cognito-idp.<region>.amazonaws.com/<user pool id>`.
    pub issuer: String,
    /// The app client id.
    pub audience: String,
}

/// How staff are signed in.
#[derive(Clone)]
pub enum StaffSignIn {
    /// Bearer tokens signed by this process (the local runner; `cityfix token`).
    Local(Arc<TokenKeys>),
    /// Cognito ID tokens, already checked by the HTTP API's JWT authorizer, whose claims arrive
    /// in the request context. Only routes behind the authorizer may use this.
    ApiGatewayJwt(CognitoTokens),
    /// Claims a caller in this same process checked and put in the request's extensions (the
    /// staff application calling the staff routes as the person signed in to it). A router built
    /// with this is never served to the network.
    InProcess,
}

/// The roles of Cognito groups, strongest first (the groups' precedence in template.yaml).
const ROLES_BY_PRECEDENCE: [(&str, Role); 5] = [
    ("admin", Role::Admin),
    ("supervisor", Role::Supervisor),
    ("ethics", Role::Ethics),
    ("staff", Role::Staff),
    ("agent", Role::Agent),
];

/// The staff claims of a Cognito ID token as the HTTP API's JWT authorizer passes them on:
/// `sub`, `name` (or `email`), `cognito:groups` (`[staff supervisor]`), `custom:department`,
/// checked at `now` (seconds since 1970): an ID token (`token_use`) of `expected`'s issuer and
/// audience, issued (`iat`) and not expired (`exp`), living at most [`MAX_TOKEN_LIFETIME_SECS`].
/// A token failing any check is 401 "invalid token"; someone in no staff group is refused (403).
pub fn claims_from_authorizer(
    claims: &HashMap<String, String>,
    expected: &CognitoTokens,
    now: u64,
) -> Result<StaffClaims, ApiError> {
    let claim = |name: &str| {
        claims
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let time = |name: &str| claim(name).and_then(|v| v.parse::<u64>().ok());
    let sub = claim("sub").ok_or_else(invalid_token)?;
    let (iat, exp) = time("iat").zip(time("exp")).ok_or_else(invalid_token)?;
    let audience_ok = claim("aud").is_some_and(|aud| {
        aud.trim_matches(|c| c == '[' || c == ']')
            .split(|c: char| c == ',' || c.is_whitespace())
            .any(|aud| aud.trim_matches('"') == expected.audience)
    });
    if claim("iss") != Some(expected.issuer.as_str())
        || !audience_ok
        || claim("token_use") != Some("id")
        || issued_in_time(iat, exp, now).is_none()
    {
        return Err(invalid_token());
    }
    let groups: Vec<&str> = claim("cognito:groups")
        .map(|g| {
            g.trim_matches(|c| c == '[' || c == ']')
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(|g| g.trim_matches('"'))
                .filter(|g| !g.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let role = ROLES_BY_PRECEDENCE
        .iter()
        .find(|(group, _)| groups.contains(group))
        .map(|(_, role)| *role)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this account has no staff role",
            )
        })?;
    Ok(StaffClaims {
        sub: sub.to_string(),
        name: claim("name")
            .or_else(|| claim("email"))
            .unwrap_or(sub)
            .to_string(),
        role,
        department: claim("custom:department").map(str::to_string),
        exp,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::{json, Value};

    use super::*;

    const NOW: u64 = 1_795_515_300;

    fn claims(role: Role, department: Option<&str>, exp: u64) -> StaffClaims {
        StaffClaims {
            sub: "u1".into(),
            name: "Alice".into(),
            role,
            department: department.map(str::to_string),
            exp,
        }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    }

    /// A token of any claims, signed with `secret`.
    fn signed(secret: &[u8], claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    /// The claims of a good local token issued a minute before `NOW` for an hour, with `change`.
    fn local_claims(change: &[(&str, Value)]) -> Value {
        let mut claims = json!({
            "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "iat": NOW - 60, "nbf": NOW - 60,
            "exp": NOW + 3600, "sub": "local:ana", "name": "Ana", "role": "staff",
            "department": "public-works",
        });
        for (name, value) in change {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(*name);
            } else {
                claims[*name] = value.clone();
            }
        }
        claims
    }

    fn refusal(error: ApiError) -> (StatusCode, String) {
        (error.status, error.message.clone())
    }

    #[test]
    fn a_token_signed_with_the_secret_is_accepted_and_others_are_not() {
        let keys = TokenKeys::from_secret(b"local secret");
        let alice = claims(Role::Staff, Some("public-works"), NOW + 3600);
        let token = keys.issue(&alice, NOW - 60).unwrap();
        assert_eq!(keys.verify(&bearer(&token), NOW).unwrap(), alice);
        let forged = TokenKeys::from_secret(b"another secret")
            .issue(&alice, NOW - 60)
            .unwrap();
        assert_eq!(
            refusal(keys.verify(&bearer(&forged), NOW).unwrap_err()),
            (StatusCode::UNAUTHORIZED, "invalid token".into())
        );
        let missing = keys.verify(&HeaderMap::new(), NOW).unwrap_err();
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
        assert!(missing.message.contains("Authorization: Bearer"));
    }

    #[test]
    fn hostile_local_tokens_are_refused_without_saying_which_check_failed() {
        let secret = b"local secret";
        let keys = TokenKeys::from_secret(secret);
        let ninety_years = 90 * 365 * 24 * 3600;
        let hostile: &[(&str, Value)] = &[
            (
                "expired 59 s ago",
                local_claims(&[("exp", json!(NOW - 59))]),
            ),
            ("expired 6 s ago", local_claims(&[("exp", json!(NOW - 6))])),
            (
                "not before a minute from now",
                local_claims(&[("nbf", json!(NOW + 60))]),
            ),
            (
                "issued a minute from now",
                local_claims(&[("iat", json!(NOW + 60)), ("nbf", Value::Null)]),
            ),
            (
                "a lifetime of ninety years",
                local_claims(&[("exp", json!(NOW + ninety_years))]),
            ),
            (
                "a lifetime of 12 h and a second",
                local_claims(&[("exp", json!(NOW - 60 + MAX_TOKEN_LIFETIME_SECS + 1))]),
            ),
            ("no issue time", local_claims(&[("iat", Value::Null)])),
            ("no expiry", local_claims(&[("exp", Value::Null)])),
            (
                "another issuer",
                local_claims(&[("iss", json!("https://evil.example"))]),
            ),
            ("no issuer", local_claims(&[("iss", Value::Null)])),
            (
                "another audience",
                local_claims(&[("aud", json!("cityfix-public"))]),
            ),
            ("no audience", local_claims(&[("aud", Value::Null)])),
            ("no subject", local_claims(&[("sub", Value::Null)])),
            (
                "a role that does not exist",
                local_claims(&[("role", json!("mayor"))]),
            ),
            (
                "an expiry that is not a number",
                local_claims(&[("exp", json!("tomorrow"))]),
            ),
        ];
        for (case, claims) in hostile {
            let refused = keys.verify(&bearer(&signed(secret, claims)), NOW);
            assert_eq!(
                refused.map_err(refusal).unwrap_err(),
                (StatusCode::UNAUTHORIZED, "invalid token".to_string()),
                "{case}"
            );
        }
        for garbage in [
            "",
            "Bearer",
            "Bearer ",
            "Basic YWxhZGRpbjpvcGVu",
            "Bearer not.a.jwt",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(garbage).unwrap(),
            );
            assert_eq!(
                keys.verify(&headers, NOW).unwrap_err().status,
                StatusCode::UNAUTHORIZED,
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn clocks_may_differ_by_a_few_seconds() {
        let secret = b"local secret";
        let keys = TokenKeys::from_secret(secret);
        let just_expired = local_claims(&[("exp", json!(NOW - CLOCK_LEEWAY_SECS))]);
        assert!(keys
            .verify(&bearer(&signed(secret, &just_expired)), NOW)
            .is_ok());
        let just_issued = local_claims(&[("iat", json!(NOW + 2)), ("nbf", json!(NOW + 2))]);
        assert!(keys
            .verify(&bearer(&signed(secret, &just_issued)), NOW)
            .is_ok());
        let lower_case = bearer(&signed(secret, &local_claims(&[])));
        let mut headers = HeaderMap::new();
        let value = lower_case[header::AUTHORIZATION]
            .to_str()
            .unwrap()
            .replace("Bearer", "bearer");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        assert!(
            keys.verify(&headers, NOW).is_ok(),
            "the scheme is case-insensitive"
        );
    }

    #[test]
    fn no_token_is_issued_for_longer_than_twelve_hours() {
        let keys = TokenKeys::from_secret(b"local secret");
        let day = claims(Role::Admin, None, NOW + 24 * 3600);
        assert_eq!(keys.issue(&day, NOW), Err(LifetimeRefused));
        let backwards = claims(Role::Admin, None, NOW - 1);
        assert_eq!(keys.issue(&backwards, NOW), Err(LifetimeRefused));
        let shift = claims(Role::Admin, None, NOW + MAX_TOKEN_LIFETIME_SECS);
        assert!(keys.issue(&shift, NOW).is_ok());
    }

    fn cognito() -> CognitoTokens {
        CognitoTokens {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI".into(),
            audience: "4l7k2m9n3p5q8r1s6t0u2v4w6x".into(),
        }
    }

    /// A claim set to a value, or removed.
    type Change<'a> = (&'a str, Option<&'a str>);

    /// The claims an authorizer passes for a Cognito ID token issued a minute before `NOW`.
    fn cognito_claims(change: &[Change]) -> HashMap<String, String> {
        let (iat, exp) = ((NOW - 60).to_string(), (NOW + 3540).to_string());
        let mut claims: HashMap<String, String> = [
            ("sub", "5f2c-11"),
            ("name", "Dana Reyes"),
            ("cognito:groups", "[staff supervisor]"),
            ("custom:department", "public-works"),
            (
                "iss",
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI",
            ),
            ("aud", "4l7k2m9n3p5q8r1s6t0u2v4w6x"),
            ("token_use", "id"),
            ("iat", &iat),
            ("auth_time", &iat),
            ("exp", &exp),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (name, value) in change {
            match value {
                Some(value) => claims.insert(name.to_string(), value.to_string()),
                None => claims.remove(*name),
            };
        }
        claims
    }

    #[test]
    fn cognito_claims_give_the_strongest_group_and_the_department() {
        let staff = claims_from_authorizer(&cognito_claims(&[]), &cognito(), NOW).unwrap();
        assert_eq!(staff.role, Role::Supervisor);
        assert_eq!(staff.department.as_deref(), Some("public-works"));
        assert_eq!(staff.name, "Dana Reyes");
        let nobody = cognito_claims(&[("cognito:groups", Some("[]"))]);
        assert_eq!(
            claims_from_authorizer(&nobody, &cognito(), NOW)
                .map_err(refusal)
                .unwrap_err(),
            (
                StatusCode::FORBIDDEN,
                "this account has no staff role".into()
            )
        );
    }

    #[test]
    fn cognito_claims_the_function_can_check_are_checked_again() {
        let (expired, soon, centuries) = (
            (NOW - 59).to_string(),
            (NOW + 120).to_string(),
            (NOW + 300 * 365 * 24 * 3600).to_string(),
        );
        let hostile: &[(&str, &[Change])] = &[
            ("expired 59 s ago", &[("exp", Some(&expired))]),
            ("issued in two minutes", &[("iat", Some(&soon))]),
            ("a lifetime of centuries", &[("exp", Some(&centuries))]),
            ("no expiry", &[("exp", None)]),
            ("no issue time", &[("iat", None)]),
            (
                "another user pool",
                &[(
                    "iss",
                    Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
                )],
            ),
            (
                "another app client",
                &[("aud", Some("someone-elses-client"))],
            ),
            (
                "an access token",
                &[("token_use", Some("access")), ("aud", None)],
            ),
            ("nobody", &[("sub", None)]),
        ];
        for (case, change) in hostile {
            let refused = claims_from_authorizer(&cognito_claims(change), &cognito(), NOW);
            assert_eq!(
                refused.map_err(refusal).unwrap_err(),
                (StatusCode::UNAUTHORIZED, "invalid token".to_string()),
                "{case}"
            );
        }
    }

    #[test]
    fn only_ethics_read_confidential_reports_and_ethics_read_nothing_else() {
        for role in [Role::Agent, Role::Staff, Role::Supervisor, Role::Admin] {
            let someone = claims(role, Some("parks"), 0);
            assert_eq!(
                someone.may_read(Some("parks"), true),
                Reading::Hidden,
                "{role:?}"
            );
        }
        let ethics = claims(Role::Ethics, None, 0);
        assert_eq!(ethics.may_read(Some("parks"), true), Reading::Case);
        assert_eq!(ethics.may_read(Some("parks"), false), Reading::Refused);
    }

    #[test]
    fn staff_work_their_department_and_supervisors_every_one() {
        assert!(claims(Role::Staff, Some("parks"), 0).may_work(Some("parks")));
        assert!(!claims(Role::Staff, Some("parks"), 0).may_work(Some("public-works")));
        assert!(!claims(Role::Staff, None, 0).may_work(None));
        assert!(claims(Role::Supervisor, None, 0).may_work(Some("public-works")));
        assert!(!claims(Role::Agent, None, 0).may_work(Some("public-works")));
    }
}
