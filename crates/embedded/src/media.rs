//! Media on local files, in place of S3: the same signed upload forms and expiring links, served by
//! the local runner under `/local-media/`.
//!
//! A form carries the key, the exact content type, the size limit and the expiry, signed with a
//! secret (HMAC-SHA256) so a browser cannot change any of them; a link carries the key and expiry,
//! signed the same way. A post is read as S3 reads one: the signed fields first, checked before any
//! of the file is read, then the file, written to disk as it arrives up to the form's size. A form
//! stores one file, once.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::file_error;
use cityfix_app::ports::{MediaStore, PortError, PortResult, StoredFile, UploadForm};

/// Largest body the local upload route reads (the largest accepted video, plus the form). The file
/// itself is cut off at its form's size.
const MAX_UPLOAD_BODY: usize = 101 * 1024 * 1024;

/// Most fields a form has before its file, and the longest each may be.
const MAX_FIELDS: usize = 16;
const MAX_FIELD_BYTES: usize = 4 * 1024;

/// The folder, under the media root, of the marks of forms used.
const USED_FORMS: &str = ".used-forms";

/// What a form's signature vouches for.
struct SignedForm {
    key: String,
    content_type: String,
    max_bytes: u64,
}

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
            && relative.components().all(|c| {
                matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.'))
            });
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

    /// The key, type and size limit of a form's signed fields, if the form is intact and current.
    fn signed_form(&self, fields: &[(String, String)]) -> Result<SignedForm, Refused> {
        let need = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    refused(
                        StatusCode::BAD_REQUEST,
                        format!("the form has no `{name}` field before its `file`"),
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
        Ok(SignedForm {
            key,
            content_type,
            max_bytes: max_bytes.parse().unwrap_or(0),
        })
    }

    /// The mark that the form for `key` was used: a form stores one file, once, even after the
    /// media function has taken that file away.
    fn used_mark(&self, key: &str) -> PathBuf {
        self.root
            .join(USED_FORMS)
            .join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// Marks the form for `key` used; `409 Conflict` if it was.
    async fn mark_used(&self, key: &str) -> Result<PathBuf, Refused> {
        let mark = self.used_mark(key);
        let failed = |e: std::io::Error| refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        tokio::fs::create_dir_all(self.root.join(USED_FORMS))
            .await
            .map_err(failed)?;
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&mark)
            .await
        {
            Ok(_) => Ok(mark),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(refused(
                StatusCode::CONFLICT,
                "this form was used already; ask for a new form for another file",
            )),
            Err(e) => Err(failed(e)),
        }
    }

    /// Takes a form posted as a browser posts an S3 form: the signed fields, then the file last.
    /// The fields are checked before a byte of the file is read, the file is written to disk as it
    /// arrives and refused as soon as it passes the form's size, and nothing of a refused file is
    /// left behind. Gives the key stored.
    pub async fn receive_upload(
        &self,
        form: &mut multer::Multipart<'_>,
    ) -> Result<String, Refused> {
        let mut fields = Vec::<(String, String)>::new();
        let file = loop {
            let Some(field) = form.next_field().await.map_err(unreadable)? else {
                return Err(refused(StatusCode::BAD_REQUEST, "the form has no `file`"));
            };
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                break field;
            }
            if fields.len() == MAX_FIELDS {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    format!("a form has at most {MAX_FIELDS} fields before its `file`"),
                ));
            }
            let value = short_text(field, &name).await?;
            fields.push((name, value));
        };
        let form = self.signed_form(&fields)?;
        let path = self
            .path(&form.key)
            .map_err(|e| refused(StatusCode::BAD_REQUEST, e.to_string()))?;
        let mark = self.mark_used(&form.key).await?;
        let kept = self.keep_streamed(&form, &path, file).await;
        if kept.is_err() {
            // Nothing was kept: the form may be used again for the file it was for.
            let _ = tokio::fs::remove_file(&mark).await;
        }
        kept.map(|()| form.key)
    }

    /// Writes the file part beside `path` as it arrives, up to the form's size, and keeps it at
    /// `path` if no file is there. The partial file is gone whatever happens.
    async fn keep_streamed(
        &self,
        form: &SignedForm,
        path: &Path,
        mut file: multer::Field<'_>,
    ) -> Result<(), Refused> {
        use tokio::io::AsyncWriteExt;
        let failed = |e: PortError| refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        let partial = self.partial_beside(path).await.map_err(failed)?;
        let written = async {
            let mut out = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| failed(file_error(e)))?;
            let mut size: u64 = 0;
            while let Some(chunk) = file.chunk().await.map_err(unreadable)? {
                size += chunk.len() as u64;
                if size > form.max_bytes {
                    return Err(refused(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the file has more than {} bytes, the most this form takes",
                            form.max_bytes
                        ),
                    ));
                }
                out.write_all(&chunk)
                    .await
                    .map_err(|e| failed(file_error(e)))?;
            }
            if size == 0 {
                return Err(refused(StatusCode::BAD_REQUEST, "the file is empty"));
            }
            out.flush().await.map_err(|e| failed(file_error(e)))
        }
        .await;
        if let Err(refusal) = written {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(refusal);
        }
        self.keep_new(&form.key, &partial, path, &form.content_type)
            .await
            .map_err(|e| match e {
                PortError::AlreadyExists(_) => refused(
                    StatusCode::CONFLICT,
                    "a file is stored with this form already",
                ),
                other => failed(other),
            })
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

async fn upload(State((media, uploaded)): RouteState, request: Request) -> Response {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let Some(boundary) = boundary else {
        return answer(refused(
            StatusCode::BAD_REQUEST,
            "send the form as multipart/form-data",
        ));
    };
    let body = ChunkByChunk {
        inner: request.into_body().into_data_stream(),
        handed: false,
    };
    let limits = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MAX_UPLOAD_BODY as u64));
    let mut form = multer::Multipart::with_constraints(body, boundary, limits);
    match media.receive_upload(&mut form).await {
        Ok(key) => {
            uploaded(key);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(refusal) => answer(refusal),
    }
}

/// A body handed on one chunk per poll. multer takes all a body has ready into memory before it
/// gives any of it out; yielding after each chunk holds what it reads ahead to about a chunk per
/// poll (a couple per field before the file), and the file to the pace it is written at.
struct ChunkByChunk<S> {
    inner: S,
    handed: bool,
}

impl<S: futures_util::Stream + Unpin> futures_util::Stream for ChunkByChunk<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        use std::task::Poll;
        if self.handed {
            self.handed = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = std::pin::Pin::new(&mut self.inner).poll_next(cx);
        self.handed = matches!(next, Poll::Ready(Some(_)));
        next
    }
}

/// A field before the file, read whole only while it is short.
async fn short_text(mut field: multer::Field<'_>, name: &str) -> Result<String, Refused> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(refused(
                StatusCode::BAD_REQUEST,
                format!(
                    "the field `{}` is longer than {MAX_FIELD_BYTES} bytes",
                    name.chars().take(40).collect::<String>()
                ),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        refused(
            StatusCode::BAD_REQUEST,
            "the form's fields before `file` must be text",
        )
    })
}

/// A multipart body that cannot be read: malformed, cut short, or over the route's limit.
fn unreadable(error: multer::Error) -> Refused {
    let status = match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    refused(status, format!("the form cannot be read: {error}"))
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

    async fn keys(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let folder = self.path(prefix.trim_end_matches('/'))?;
        let mut keys = Vec::new();
        let mut stack = vec![folder];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(file_error(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(file_error)? {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || name.ends_with(".content-type") {
                    continue;
                }
                if entry.file_type().await.map_err(file_error)?.is_dir() {
                    stack.push(path);
                } else if let Ok(relative) = path.strip_prefix(&self.root) {
                    keys.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        keys.sort();
        keys.truncate(limit);
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::{Body, Bytes};
    use axum::http::Request;
    use futures_util::StreamExt;
    use tower::ServiceExt;

    use super::*;

    const BOUNDARY: &str = "cityfix-test-boundary";
    const KEY: &str = "uploads/7K3M-9QZ2/0f9a-1.jpg";
    const CHUNK: usize = 64 * 1024;

    fn media(dir: &Path) -> FileMedia {
        FileMedia::open(dir, "http://cityfix.test/local-media", b"secret").unwrap()
    }

    /// The form's fields as multipart parts, then the head of the `file` part.
    fn fields_then_file_head(fields: &[(String, String)]) -> Vec<u8> {
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        ));
        body.into_bytes()
    }

    /// A post of `fields` whose file is `chunks` chunks long (`None`: it never ends), counting
    /// in `pulled` every byte the server takes from the body.
    fn post(
        fields: &[(String, String)],
        chunks: Option<usize>,
        pulled: &Arc<AtomicUsize>,
    ) -> Request<Body> {
        let head = fields_then_file_head(fields);
        let head = futures_util::stream::once(async move { head });
        let file = futures_util::stream::repeat_with(|| vec![0xFF; CHUNK])
            .take(chunks.unwrap_or(usize::MAX));
        let tail =
            futures_util::stream::once(async { format!("\r\n--{BOUNDARY}--\r\n").into_bytes() });
        let pulled = pulled.clone();
        let body = head.chain(file).chain(tail).map(move |bytes| {
            pulled.fetch_add(bytes.len(), Ordering::SeqCst);
            Ok::<_, std::io::Error>(Bytes::from(bytes))
        });
        Request::post("/local-media/upload")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from_stream(body))
            .unwrap()
    }

    async fn send(media: &FileMedia, request: Request<Body>) -> (StatusCode, String) {
        let answer = media
            .routes(Arc::new(|_| {}))
            .oneshot(request)
            .await
            .unwrap();
        let status = answer.status();
        let body = axum::body::to_bytes(answer.into_body(), 64 * 1024)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Every file under `dir`, at any depth.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    #[tokio::test]
    async fn a_bad_signature_is_refused_before_the_file_is_read() {
        // given a form whose signature is not its fields' (the size limit raised)
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let mut form = media
            .upload_form(KEY, "image/jpeg", 1000, Duration::from_secs(60))
            .await
            .unwrap();
        for (name, value) in form.fields.iter_mut() {
            if name == "max-bytes" {
                *value = "999999999".into();
            }
        }

        // when it is posted with a file that never ends
        let pulled = Arc::new(AtomicUsize::new(0));
        let (status, reason) = send(&media, post(&form.fields, None, &pulled)).await;

        // then it is refused with 403 having read about a chunk per field, not the file
        assert_eq!(status, StatusCode::FORBIDDEN, "{reason}");
        assert!(reason.contains("signature"), "{reason}");
        let read = pulled.load(Ordering::SeqCst);
        assert!(read < 16 * CHUNK, "read {read} bytes");
        assert!(files_under(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_file_over_its_form_is_cut_off_with_413_and_leaves_nothing_behind() {
        // given a form for up to 100 kB
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let form = media
            .upload_form(KEY, "image/jpeg", 100 * 1024, Duration::from_secs(60))
            .await
            .unwrap();

        // when it is posted with a file that never ends
        let pulled = Arc::new(AtomicUsize::new(0));
        let (status, reason) = send(&media, post(&form.fields, None, &pulled)).await;

        // then it is refused with 413 as soon as it passes the size, and no file, partial or not, is left
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reason}");
        let read = pulled.load(Ordering::SeqCst);
        assert!(read < 16 * CHUNK, "read {read} bytes");
        assert_eq!(media.head(KEY).await.unwrap(), None);
        assert!(
            files_under(dir.path()).is_empty(),
            "{:?}",
            files_under(dir.path())
        );

        // and the form still takes the file it was for
        let (status, reason) = send(&media, post(&form.fields, Some(1), &pulled)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{reason}");
        assert_eq!(media.head(KEY).await.unwrap().unwrap().size, CHUNK as u64);
    }

    #[tokio::test]
    async fn a_form_stores_one_file_once() {
        // given a file stored with a form, and taken away by the media function
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let form = media
            .upload_form(KEY, "image/jpeg", 1024 * 1024, Duration::from_secs(60))
            .await
            .unwrap();
        let pulled = Arc::new(AtomicUsize::new(0));
        let (status, reason) = send(&media, post(&form.fields, Some(1), &pulled)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{reason}");

        // when the form is posted again, before and after the upload was taken away
        let (pending, _) = send(&media, post(&form.fields, Some(2), &pulled)).await;
        media.delete(KEY).await.unwrap();
        let (taken, reason) = send(&media, post(&form.fields, Some(2), &pulled)).await;

        // then both are refused, and nothing is stored again
        assert_eq!(pending, StatusCode::CONFLICT);
        assert_eq!(taken, StatusCode::CONFLICT, "{reason}");
        assert!(reason.contains("used already"), "{reason}");
        assert_eq!(media.head(KEY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_file_before_the_signed_fields_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let pulled = Arc::new(AtomicUsize::new(0));
        let (status, reason) = send(&media, post(&[], None, &pulled)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(reason.contains("before its `file`"), "{reason}");
        assert!(pulled.load(Ordering::SeqCst) < 16 * CHUNK);
    }

    #[tokio::test]
    async fn an_expired_form_is_refused_and_stores_nothing() {
        // given a form, intact but signed for a time already past
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let mut form = media
            .upload_form(KEY, "image/jpeg", 1000, Duration::from_secs(60))
            .await
            .unwrap();
        let past = (Utc::now().timestamp() - 1).to_string();
        let signature = media.sign(&[KEY, "image/jpeg", "1000", &past]);
        for (name, value) in form.fields.iter_mut() {
            match name.as_str() {
                "expires" => *value = past.clone(),
                "signature" => *value = signature.clone(),
                _ => {}
            }
        }

        // when a browser posts it
        let pulled = Arc::new(AtomicUsize::new(0));
        let (status, reason) = send(&media, post(&form.fields, Some(1), &pulled)).await;

        // then it is refused as expired, and nothing is kept
        assert_eq!(status, StatusCode::FORBIDDEN, "{reason}");
        assert!(reason.contains("expired"), "{reason}");
        assert!(files_under(dir.path()).is_empty());
    }

    #[tokio::test]
    async fn a_form_whose_key_type_or_time_was_changed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let form = media
            .upload_form(KEY, "image/jpeg", 1000, Duration::from_secs(60))
            .await
            .unwrap();
        let later = (Utc::now().timestamp() + 86_400).to_string();
        // another report's upload, another type, a longer life: each breaks the signature
        for (field, changed) in [
            ("key", "uploads/ABCD-EFGH/0f9a-1.jpg"),
            ("Content-Type", "text/html"),
            ("expires", later.as_str()),
        ] {
            let mut fields = form.fields.clone();
            for (name, value) in fields.iter_mut() {
                if name == field {
                    *value = changed.to_string();
                }
            }
            let pulled = Arc::new(AtomicUsize::new(0));
            let (status, reason) = send(&media, post(&fields, Some(1), &pulled)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{field}: {reason}");
            assert!(reason.contains("signature"), "{field}: {reason}");
        }
        assert!(files_under(dir.path()).is_empty());
    }
}
