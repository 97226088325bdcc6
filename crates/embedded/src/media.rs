//! Media on local files, in place of S3: the same signed upload forms and expiring links, served by
//! the local runner under `/local-media/`.
//!
//! A form carries the key, the exact content type, the size limit and the expiry, signed with a
//! secret (HMAC-SHA256) so a browser cannot change any of them; a link carries the key and expiry,
//! signed the same way.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::file_error;
use cityfix_app::ports::{MediaStore, PortError, PortResult, StoredFile, UploadForm};

/// Largest body the local upload route reads (the largest accepted video, plus the form).
const MAX_UPLOAD_BODY: usize = 101 * 1024 * 1024;

/// A folder of media files, each with a `.content-type` file beside it.
#[derive(Clone)]
pub struct FileMedia {
    root: PathBuf,
    /// Where `/local-media` is served, e.g. `http://127.0.0.1:3000/local-media`.
    base_url: String,
    secret: Arc<Vec<u8>>,
}

/// Why a form post or a link was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub reason: String,
}

fn refused(status: StatusCode, reason: impl Into<String>) -> Refused {
    Refused {
        status,
        reason: reason.into(),
    }
}

impl FileMedia {
    pub fn open(root: &Path, base_url: &str, secret: &[u8]) -> PortResult<Self> {
        std::fs::create_dir_all(root).map_err(file_error)?;
        Ok(FileMedia {
            root: root.to_path_buf(),
            base_url: base_url.trim_end_matches('/').to_string(),
            secret: Arc::new(secret.to_vec()),
        })
    }

    /// The HMAC of `parts`, one per line.
    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes a key of any size");
        mac.update(parts.join("\n").as_bytes());
        mac
    }

    fn sign(&self, parts: &[&str]) -> String {
        hex::encode(self.mac(parts).finalize().into_bytes())
    }

    /// Whether `signature` is the signature of `parts`, compared in constant time.
    fn signed(&self, parts: &[&str], signature: &str) -> bool {
        hex::decode(signature)
            .map(|given| self.mac(parts).verify_slice(&given).is_ok())
            .unwrap_or(false)
    }

    /// The file of `key`; keys are relative paths of plain names.
    fn path(&self, key: &str) -> PortResult<PathBuf> {
        let relative = Path::new(key);
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(PortError::NotFound(format!("`{key}` is not a media key")));
        }
        Ok(self.root.join(relative))
    }

    fn type_path(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".content-type");
        PathBuf::from(name)
    }

    /// A fresh name beside `path` to write a file under before it is kept (its folder made).
    async fn partial_beside(&self, path: &Path) -> PortResult<PathBuf> {
        let parent = path.parent().unwrap_or(&self.root);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(file_error)?;
        Ok(parent.join(format!(".{}.partial", uuid::Uuid::new_v4())))
    }

    /// Puts the written `partial` in place at `path` unless a file is there: a hard link is made
    /// only where no file exists, so a reader never sees half a file and a kept file is never
    /// replaced. The partial is gone either way.
    async fn keep_new(
        &self,
        key: &str,
        partial: &Path,
        path: &Path,
        content_type: &str,
    ) -> PortResult<()> {
        let linked = tokio::fs::hard_link(partial, path).await;
        let _ = tokio::fs::remove_file(partial).await;
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(PortError::AlreadyExists(format!("media {key}")))
            }
            Err(e) => return Err(file_error(e)),
        }
        tokio::fs::write(Self::type_path(path), content_type)
            .await
            .map_err(file_error)
    }

    /// Stores a file posted with an upload form, if the form is intact and current and the file
    /// fits it; gives the key.
    pub async fn accept_upload(
        &self,
        field: impl Fn(&str) -> Option<String>,
        file: Vec<u8>,
    ) -> Result<String, Refused> {
        let need = |name: &str| {
            field(name).ok_or_else(|| {
                refused(
                    StatusCode::BAD_REQUEST,
                    format!("the form has no `{name}` field"),
                )
            })
        };
        let (key, content_type, max_bytes, expires, signature) = (
            need("key")?,
            need("Content-Type")?,
            need("max-bytes")?,
            need("expires")?,
            need("signature")?,
        );
        if !self.signed(&[&key, &content_type, &max_bytes, &expires], &signature) {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "the form's signature does not match its fields",
            ));
        }
        if expires.parse::<i64>().unwrap_or(0) < Utc::now().timestamp() {
            return Err(refused(StatusCode::FORBIDDEN, "the form has expired"));
        }
        let max = max_bytes.parse::<u64>().unwrap_or(0);
        if file.is_empty() || file.len() as u64 > max {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                format!(
                    "the file has {} bytes; this form takes 1 to {max}",
                    file.len()
                ),
            ));
        }
        self.put(&key, file, &content_type)
            .await
            .map_err(|e| refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(key)
    }

    /// The bytes and type of a file read through a signed link.
    pub async fn read_linked(
        &self,
        key: &str,
        expires: &str,
        signature: &str,
    ) -> Result<(Vec<u8>, String), Refused> {
        if !self.signed(&[key, expires], signature) {
            return Err(refused(StatusCode::FORBIDDEN, "the link is not valid"));
        }
        if expires.parse::<i64>().unwrap_or(0) < Utc::now().timestamp() {
            return Err(refused(StatusCode::FORBIDDEN, "the link has expired"));
        }
        let not_found = || refused(StatusCode::NOT_FOUND, "no such file");
        let head = self.head(key).await.map_err(|_| not_found())?;
        let bytes = self.get(key).await.map_err(|_| not_found())?;
        let content_type = head
            .and_then(|h| h.content_type)
            .unwrap_or_else(|| "application/octet-stream".into());
        Ok((bytes, content_type))
    }

    /// `POST /local-media/upload` (multipart, as a browser posts an S3 form) and
    /// `GET /local-media/files/{key}` (signed links). `uploaded` is told each stored key, as S3
    /// tells the media function.
    pub fn routes(&self, uploaded: Arc<dyn Fn(String) + Send + Sync>) -> Router {
        Router::new()
            .route("/local-media/upload", post(upload))
            .route("/local-media/files/{*key}", get(download))
            .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY))
            .with_state((self.clone(), uploaded))
    }
}

type RouteState = State<(FileMedia, Arc<dyn Fn(String) + Send + Sync>)>;

fn answer(refusal: Refused) -> Response {
    (
        refusal.status,
        axum::Json(serde_json::json!({ "error": refusal.reason })),
    )
        .into_response()
}

async fn upload(State((media, uploaded)): RouteState, mut form: Multipart) -> Response {
    let mut fields = Vec::<(String, String)>::new();
    let mut file = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    match field.bytes().await {
                        Ok(bytes) => file = Some(bytes.to_vec()),
                        Err(e) => return answer(refused(StatusCode::BAD_REQUEST, e.body_text())),
                    }
                } else {
                    match field.text().await {
                        Ok(text) => fields.push((name, text)),
                        Err(e) => return answer(refused(StatusCode::BAD_REQUEST, e.body_text())),
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return answer(refused(StatusCode::BAD_REQUEST, e.body_text())),
        }
    }
    let Some(file) = file else {
        return answer(refused(StatusCode::BAD_REQUEST, "the form has no `file`"));
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    match media.accept_upload(field, file).await {
        Ok(key) => {
            uploaded(key);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(refusal) => answer(refusal),
    }
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: String,
    signature: String,
}

async fn download(
    State((media, _)): RouteState,
    UrlPath(key): UrlPath<String>,
    Query(link): Query<LinkQuery>,
) -> Response {
    match media
        .read_linked(&key, &link.expires, &link.signature)
        .await
    {
        Ok((bytes, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(refusal) => answer(refusal),
    }
}

#[async_trait::async_trait]
impl MediaStore for FileMedia {
    async fn upload_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> PortResult<UploadForm> {
        self.path(key)?;
        let expires = (Utc::now().timestamp() + expires_in.as_secs() as i64).to_string();
        let max_bytes = max_bytes.to_string();
        let signature = self.sign(&[key, content_type, &max_bytes, &expires]);
        Ok(UploadForm {
            url: format!("{}/upload", self.base_url),
            fields: vec![
                ("key".into(), key.into()),
                ("Content-Type".into(), content_type.into()),
                ("max-bytes".into(), max_bytes),
                ("expires".into(), expires),
                ("signature".into(), signature),
            ],
        })
    }

    async fn download_url(&self, key: &str, expires_in: Duration) -> PortResult<String> {
        self.path(key)?;
        let expires = (Utc::now().timestamp() + expires_in.as_secs() as i64).to_string();
        let signature = self.sign(&[key, &expires]);
        Ok(format!(
            "{}/files/{key}?expires={expires}&signature={signature}",
            self.base_url
        ))
    }

    async fn head(&self, key: &str) -> PortResult<Option<StoredFile>> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(StoredFile {
                size: meta.len(),
                content_type: tokio::fs::read_to_string(Self::type_path(&path)).await.ok(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(e)),
        }
    }

    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(PortError::NotFound(format!("media {key}")))
            }
            Err(e) => Err(file_error(e)),
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        let path = self.path(key)?;
        let partial = self.partial_beside(&path).await?;
        tokio::fs::write(&partial, &bytes)
            .await
            .map_err(file_error)?;
        self.keep_new(key, &partial, &path, content_type).await
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        let path = self.path(key)?;
        for file in [Self::type_path(&path), path] {
            match tokio::fs::remove_file(&file).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(file_error(e)),
            }
        }
        Ok(())
    }
}
