//! Staff sign-in: signed tokens (JWT) carrying who someone is, their role and department.
//!
//! On AWS the HTTP API's JWT authorizer checks Cognito's tokens before a function runs; locally the
//! runner signs tokens of the same shape with its own secret (`cityfix token`), and the functions
//! read the claims the same way.

use axum::http::{header, HeaderMap, StatusCode};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::api::ApiError;

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
    fn staff_work_their_department_and_supervisors_every_one() {
        assert!(claims(Role::Staff, Some("parks"), 0).may_work(Some("parks")));
        assert!(!claims(Role::Staff, Some("parks"), 0).may_work(Some("public-works")));
        assert!(!claims(Role::Staff, None, 0).may_work(None));
        assert!(claims(Role::Supervisor, None, 0).may_work(Some("public-works")));
        assert!(!claims(Role::Agent, None, 0).may_work(Some("public-works")));
    }
}
