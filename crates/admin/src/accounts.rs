//! Local staff accounts: who may sign in to the runner's staff application, with passwords kept
//! only as Argon2id hashes. On AWS, Cognito holds the accounts instead.
//!
//! The runner seeds one demo account per role the first time it starts on a data folder, with a
//! random password each, and keeps those passwords (and only those) in `demo-staff.txt` beside the
//! hashes so that `./scripts/run` can print them again.

use std::path::Path;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use cityfix_domain::City;
use cityfix_http::auth::{Role, StaffClaims};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One person who may sign in locally.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// What they type to sign in.
    pub username: String,
    /// Their name, as staff pages and the audit log show it.
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub department: Option<String>,
    /// The PHC string of an Argon2id hash of their password.
    pub password_hash: String,
}

/// Why an account file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("cannot read or write {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} is not a list of staff accounts: {reason}")]
    Invalid { path: String, reason: String },
}

/// The accounts of one runner.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    accounts: Vec<Account>,
}

/// A demo account as first made: its password in the clear, shown to whoever runs the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub department: Option<String>,
}

/// A hash of `password` (Argon2id, a random salt).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password with its default parameters")
        .to_string()
}

/// A password nobody guesses: 16 letters and digits, without the ones read alike (0/O, 1/l).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Accounts {
    pub fn new(accounts: Vec<Account>) -> Self {
        Accounts { accounts }
    }

    /// The accounts of `dir/staff-accounts.json`, seeding the demo accounts the first time (one
    /// per role; the `staff` one is the first member of the city's first department, so requests
    /// can be assigned to them); with the demo logins of `dir/demo-staff.txt`.
    pub fn open_or_seed(
        dir: &Path,
        city: &City,
    ) -> Result<(Accounts, Vec<DemoLogin>), AccountsError> {
        let file = dir.join("staff-accounts.json");
        let demo = dir.join("demo-staff.txt");
        let io = |path: &Path, e: std::io::Error| AccountsError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if file.exists() {
            let text = std::fs::read_to_string(&file).map_err(|e| io(&file, e))?;
            let accounts: Vec<Account> =
                serde_json::from_str(&text).map_err(|e| AccountsError::Invalid {
                    path: file.display().to_string(),
                    reason: e.to_string(),
                })?;
            let logins = match std::fs::read_to_string(&demo) {
                Ok(text) => parse_demo_logins(&text, &accounts),
                Err(_) => Vec::new(),
            };
            return Ok((Accounts { accounts }, logins));
        }
        let (logins, names) = demo_logins(city);
        let accounts: Vec<Account> = logins
            .iter()
            .zip(names)
            .map(|(login, name)| Account {
                username: login.username.clone(),
                name,
                role: login.role,
                department: login.department.clone(),
                password_hash: hash_password(&login.password),
            })
            .collect();
        let text = serde_json::to_string_pretty(&accounts).expect("accounts serialise");
        write_private(&file, &text).map_err(|e| io(&file, e))?;
        let lines: String = logins
            .iter()
            .map(|l| format!("{} {}\n", l.username, l.password))
            .collect();
        write_private(&demo, &lines).map_err(|e| io(&demo, e))?;
        Ok((Accounts { accounts }, logins))
    }

    /// The claims of `username` signing in with `password`, lasting until `exp`; `None` for a
    /// wrong name or password alike (which one was wrong helps only a guesser).
    pub fn sign_in(&self, username: &str, password: &str, exp: u64) -> Option<StaffClaims> {
        let account = self
            .accounts
            .iter()
            .find(|a| a.username.eq_ignore_ascii_case(username.trim()));
        // Verify against some hash even for an unknown name, so the answer takes as long.
        let hash = account
            .map(|a| a.password_hash.as_str())
            .unwrap_or_else(|| unknown_user_hash());
        let parsed = PasswordHash::new(hash).ok()?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        let account = account.filter(|_| matches)?;
        Some(StaffClaims {
            sub: format!("local:{}", account.username),
            name: account.name.clone(),
            role: account.role,
            department: account.department.clone(),
            exp,
        })
    }
}

/// A hash of a password nobody has, checked when the user name is unknown.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_password()))
}

/// The demo logins and the names they go by.
fn demo_logins(city: &City) -> (Vec<DemoLogin>, Vec<String>) {
    let crew = city.departments.first().and_then(|department| {
        let member = department.members.iter().find(|m| !m.supervisor)?;
        let username = member.id.strip_prefix("local:")?;
        Some((
            username.to_string(),
            member.name.clone(),
            department.id.clone(),
        ))
    });
    let (crew_user, crew_name, crew_department) = match crew {
        Some((user, name, department)) => (user, name, Some(department)),
        None => (
            "staff".to_string(),
            "Demo Crew Lead".to_string(),
            city.departments.first().map(|d| d.id.clone()),
        ),
    };
    let people = [
        (
            Role::Agent,
            "agent".to_string(),
            "Demo Call-Taker".to_string(),
            None,
        ),
        (Role::Staff, crew_user, crew_name, crew_department),
        (
            Role::Supervisor,
            "supervisor".into(),
            "Demo Supervisor".into(),
            None,
        ),
        (
            Role::Admin,
            "admin".into(),
            "Demo Administrator".into(),
            None,
        ),
        (
            Role::Ethics,
            "ethics".into(),
            "Demo Ethics Officer".into(),
            None,
        ),
    ];
    people
        .into_iter()
        .map(|(role, username, name, department)| {
            (
                DemoLogin {
                    username,
                    password: random_password(),
                    role,
                    department,
                },
                name,
            )
        })
        .unzip()
}

fn parse_demo_logins(text: &str, accounts: &[Account]) -> Vec<DemoLogin> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .filter_map(|(username, password)| {
            let account = accounts.iter().find(|a| a.username == username)?;
            Some(DemoLogin {
                username: username.into(),
                password: password.trim().into(),
                role: account.role,
                department: account.department.clone(),
            })
        })
        .collect()
}

/// Writes `text` to `path` readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_password_signs_in_and_a_wrong_one_or_name_does_not() {
        let accounts = Accounts::new(vec![Account {
            username: "dana".into(),
            name: "Dana".into(),
            role: Role::Staff,
            department: Some("dpw".into()),
            password_hash: hash_password("correct horse"),
        }]);
        let claims = accounts.sign_in("Dana ", "correct horse", 99).unwrap();
        assert_eq!(claims.sub, "local:dana");
        assert_eq!(claims.role, Role::Staff);
        assert_eq!(claims.department.as_deref(), Some("dpw"));
        assert_eq!(claims.exp, 99);
        assert!(accounts.sign_in("dana", "wrong", 99).is_none());
        assert!(accounts.sign_in("nobody", "correct horse", 99).is_none());
    }

    #[test]
    fn a_hash_is_argon2id_and_never_the_password() {
        let hash = hash_password("s3cret-pass");
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("s3cret-pass"));
        assert_ne!(hash, hash_password("s3cret-pass"), "salted");
    }

    #[test]
    fn demo_accounts_are_seeded_once_one_per_role_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let city = cityfix_testing::demo_city();
        let (accounts, logins) = Accounts::open_or_seed(dir.path(), &city).unwrap();
        assert_eq!(logins.len(), 5);
        let staff = logins.iter().find(|l| l.role == Role::Staff).unwrap();
        let first = &city.departments[0];
        assert_eq!(staff.department.as_deref(), Some(first.id.as_str()));
        let claims = accounts
            .sign_in(&staff.username, &staff.password, 9)
            .unwrap();
        assert!(
            first.member(&claims.sub).is_some(),
            "{} is a member",
            claims.sub
        );
        let stored = std::fs::read_to_string(dir.path().join("staff-accounts.json")).unwrap();
        assert!(!stored.contains(&staff.password));
        let (again, logins_again) = Accounts::open_or_seed(dir.path(), &city).unwrap();
        assert_eq!(logins_again, logins, "the same accounts the second time");
        assert!(again.sign_in(&staff.username, &staff.password, 9).is_some());
    }
}
