//! Staff sign-in: signed tokens (JWT) carrying who someone is, their role and department.
//!
//! On AWS the HTTP API's JWT authorizer checks Cognito's tokens before a function runs; locally the
//! runner signs tokens of the same shape with its own secret (`cityfix token`), and the functions
//! read the claims the same way.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;

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
}

/// Signs and checks staff tokens with one secret (HS256).
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, claims: &StaffClaims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The claims of the request's bearer token: 401 without a valid one.
    pub fn verify(&self, headers: &HeaderMap) -> Result<StaffClaims, ApiError> {
        let unauthorised = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorised", why);
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorised("sign in: send `Authorization: Bearer <token>`"))?;
        decode::<StaffClaims>(token.trim(), &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| unauthorised(&format!("the token is not valid: {e}")))
    }
}

/// How staff are signed in.
#[derive(Clone)]
pub enum StaffSignIn {
    /// Bearer tokens signed by this process (the local runner; `cityfix token`).
    Local(Arc<TokenKeys>),
    /// Cognito ID tokens, already checked by the HTTP API's JWT authorizer, whose claims arrive
    /// in the request context. Only routes behind the authorizer may use this.
    ApiGatewayJwt,
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
/// `sub`, `name` (or `email`), `cognito:groups` (`[staff supervisor]`), `custom:department`, `exp`.
/// Someone in no staff group is refused (403).
pub fn claims_from_authorizer(claims: &HashMap<String, String>) -> Result<StaffClaims, ApiError> {
    let sub = claims.get("sub").filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "the sign-in token names nobody",
        )
    })?;
    let groups: Vec<&str> = claims
        .get("cognito:groups")
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
                "this account is in no staff group (agent, staff, supervisor, admin, ethics)",
            )
        })?;
    Ok(StaffClaims {
        sub: sub.clone(),
        name: claims
            .get("name")
            .or_else(|| claims.get("email"))
            .cloned()
            .unwrap_or_else(|| sub.clone()),
        role,
        department: claims
            .get("custom:department")
            .filter(|d| !d.is_empty())
            .cloned(),
        exp: claims.get("exp").and_then(|e| e.parse().ok()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

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

    #[test]
    fn a_token_signed_with_the_secret_is_accepted_and_others_are_not() {
        let keys = TokenKeys::from_secret(b"local secret");
        let alice = claims(Role::Staff, Some("public-works"), 4_000_000_000);
        assert_eq!(keys.verify(&bearer(&keys.issue(&alice))).unwrap(), alice);
        let forged = TokenKeys::from_secret(b"another secret").issue(&alice);
        assert_eq!(
            keys.verify(&bearer(&forged)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        let expired = keys.issue(&claims(Role::Admin, None, 1_000));
        assert_eq!(
            keys.verify(&bearer(&expired)).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            keys.verify(&HeaderMap::new()).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn cognito_claims_give_the_strongest_group_and_the_department() {
        let claims: HashMap<String, String> = [
            ("sub", "5f2c-11"),
            ("name", "Dana Reyes"),
            ("cognito:groups", "[staff supervisor]"),
            ("custom:department", "public-works"),
            ("exp", "4000000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let staff = claims_from_authorizer(&claims).unwrap();
        assert_eq!(staff.role, Role::Supervisor);
        assert_eq!(staff.department.as_deref(), Some("public-works"));
        assert_eq!(staff.name, "Dana Reyes");
        let mut nobody = claims.clone();
        nobody.insert("cognito:groups".into(), "[]".into());
        assert_eq!(
            claims_from_authorizer(&nobody).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        nobody.remove("sub");
        assert_eq!(
            claims_from_authorizer(&nobody).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
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
