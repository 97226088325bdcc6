//! What a function on AWS reads from its environment at start, and the adapters it builds from it.
//!
//! Lambda mains and `cityfix serve --backend aws` share this: the city folder (`CITY_CONFIG`), the
//! public address (`PUBLIC_URL`), the table (`TABLE_NAME`), queue URLs (`ROUTING_QUEUE_URL`, …), the
//! media bucket (`MEDIA_BUCKET`) and the sender (`FROM_ADDRESS`, `SES_CONFIGURATION_SET`). Endpoints,
//! region and credentials come from the standard AWS environment (`AWS_ENDPOINT_URL`, …). Building
//! a setup reads files and makes clients; it calls no AWS API.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::{DynamoStore, S3Media, SesMailer, SnsDevices, SnsPush, SnsSms, SqsQueues};
use cityfix_app::links::LinkSigner;
use cityfix_app::mail_intake::{MailIntakeDeps, ServiceChooser};
use cityfix_app::media::MediaDeps;
use cityfix_app::notify::{NotifyDeps, NotifySettings};
use cityfix_app::ports::{QueueName, RandomIds, SystemClock};
use cityfix_app::preferences::TextReplies;
use cityfix_app::route::RouterDeps;
use cityfix_app::submit::IntakeDeps;
use cityfix_app::sweep::SchedulerDeps;
use cityfix_app::transition::StatusDeps;
use cityfix_app::webhooks::{WebhookDeps, WebhookSender};
use cityfix_config::load_city_with_repairs;
use cityfix_domain::{AddressBook, City};

/// The SDK's configuration loader, with the one HTTP client every cityfix AWS client uses:
/// hyper 1 with rustls on ring (the SDK's own default would build aws-lc from C). It speaks plain
/// HTTP too, for moto.
pub fn sdk_defaults() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http)
}

/// Why a function cannot start: a missing or unusable setting, named.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    #[error("the city configuration in {dir} is not valid: {reason}")]
    City { dir: String, reason: String },
    #[error("the environment variable {name} {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The value of a required environment variable.
pub fn required(name: &'static str) -> Result<String, SetupError> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or(SetupError::Missing(name))
}

/// The environment variable of a queue's URL.
pub fn queue_url_variable(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Routing => "ROUTING_QUEUE_URL",
        QueueName::Status => "STATUS_QUEUE_URL",
        QueueName::Notify => "NOTIFY_QUEUE_URL",
        QueueName::Media => "MEDIA_QUEUE_URL",
        QueueName::Webhooks => "WEBHOOKS_QUEUE_URL",
    }
}

/// The queues named by their `<NAME>_QUEUE_URL` variables alone, on the AWS configuration of
/// the environment: the operator's `cityfix dlq --backend aws`, which needs no city folder. Each
/// dead-letter queue is found from its queue's redrive policy.
pub async fn queues_from_env(queues: &[QueueName]) -> Result<crate::SqsQueues, SetupError> {
    let urls = queues
        .iter()
        .map(|&queue| {
            Ok((
                queue.as_str().to_string(),
                required(queue_url_variable(queue))?,
            ))
        })
        .collect::<Result<_, SetupError>>()?;
    let sdk = sdk_defaults().load().await;
    Ok(crate::SqsQueues::new(aws_sdk_sqs::Client::new(&sdk), urls))
}

/// Push when the city has no mobile app: nothing is sent.
struct NoPush;

#[async_trait::async_trait]
impl cityfix_app::ports::PushSender for NoPush {
    async fn push(
        &self,
        _device_token: &str,
        message: &cityfix_app::ports::PushMessage,
    ) -> cityfix_app::ports::PortResult<()> {
        tracing::info!(dedupe_key = %message.dedupe_key, "push is off (no PUSH_PLATFORM_APPLICATION_ARN); not sent");
        Ok(())
    }
}

/// AWS API calls made through the clients of a setup, by service and operation; and, when made
/// with [`ApiCalls::keeping_dynamodb_bodies`], each DynamoDB call's JSON as sent and answered.
#[derive(Debug, Clone, Default)]
pub struct ApiCalls {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
    /// `Some` when DynamoDB bodies are kept.
    dynamodb: Option<Arc<Mutex<Vec<DynamoCall>>>>,
}

/// One DynamoDB attempt: its operation, the request's JSON body and the response's (empty when
/// no answer came), so a test can size the capacity units it consumed.
#[derive(Debug, Clone)]
pub struct DynamoCall {
    pub operation: String,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
}

/// The request body of the attempt in flight, kept between transmit and its answer.
#[derive(Debug, Clone)]
struct SentBody(Vec<u8>);

impl Storable for SentBody {
    type Storer = StoreReplace<Self>;
}

impl ApiCalls {
    /// A counter that also keeps every DynamoDB call's bodies (for cost tests; memory grows
    /// with the calls, so not for long runs).
    pub fn keeping_dynamodb_bodies() -> Self {
        ApiCalls {
            counts: Default::default(),
            dynamodb: Some(Default::default()),
        }
    }

    /// The DynamoDB calls kept so far (none unless made with [`ApiCalls::keeping_dynamodb_bodies`]).
    pub fn dynamodb_calls(&self) -> Vec<DynamoCall> {
        self.dynamodb
            .as_ref()
            .and_then(|calls| calls.lock().ok().map(|c| c.clone()))
            .unwrap_or_default()
    }

    /// `(service, operation) → calls` so far.
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
        if let Some(Ok(mut calls)) = self.dynamodb.as_ref().map(|c| c.lock()) {
            calls.clear();
        }
    }
}

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "ApiCalls"
    }

    // Once per attempt, so retries count as calls, as AWS bills them.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let mut dynamodb = false;
        if let Some(metadata) = cfg.load::<Metadata>() {
            dynamodb = metadata.service().eq_ignore_ascii_case("dynamodb");
            let key = (metadata.service().to_string(), metadata.name().to_string());
            if let Ok(mut counts) = self.counts.lock() {
                *counts.entry(key).or_default() += 1;
            }
        }
        if dynamodb && self.dynamodb.is_some() {
            let body = context
                .request()
                .body()
                .bytes()
                .unwrap_or_default()
                .to_vec();
            cfg.interceptor_state().store_put(SentBody(body));
        }
        Ok(())
    }

    // After the answer is read (DynamoDB's are read whole before deserializing).
    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let Some(kept) = &self.dynamodb else {
            return Ok(());
        };
        let Some(operation) = cfg
            .load::<Metadata>()
            .filter(|m| m.service().eq_ignore_ascii_case("dynamodb"))
            .map(|m| m.name().to_string())
        else {
            return Ok(());
        };
        let request = cfg
            .load::<SentBody>()
            .map(|sent| sent.0.clone())
            .unwrap_or_default();
        let response = context
            .response()
            .and_then(|r| r.body().bytes())
            .unwrap_or_default()
            .to_vec();
        if let Ok(mut calls) = kept.lock() {
            calls.push(DynamoCall {
                operation,
                request,
                response,
            });
        }
        Ok(())
    }
}

/// The city, the AWS SDK configuration and the settings every function shares.
#[derive(Clone)]
pub struct AwsSetup {
    pub city: Arc<City>,
    pub public_url: String,
    pub sdk: SdkConfig,
    calls: Option<ApiCalls>,
    /// Settings given in code, read before the environment (tests, the local runner).
    vars: HashMap<&'static str, String>,
}

macro_rules! client {
    ($setup:expr, $sdk:ident) => {{
        let mut config = $sdk::config::Builder::from(&$setup.sdk);
        if let Some(calls) = &$setup.calls {
            config = config.interceptor(calls.clone());
        }
        $sdk::Client::from_conf(config.build())
    }};
}

impl AwsSetup {
    /// Reads `CITY_CONFIG` and `PUBLIC_URL`, and the AWS configuration from the environment.
    pub async fn from_env() -> Result<Self, SetupError> {
        let sdk = sdk_defaults().load().await;
        Self::with_sdk(sdk)
    }

    /// As [`AwsSetup::from_env`], with a given SDK configuration.
    pub fn with_sdk(sdk: SdkConfig) -> Result<Self, SetupError> {
        let dir = PathBuf::from(required("CITY_CONFIG")?);
        let loaded = load_city_with_repairs(&dir).map_err(|e| SetupError::City {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        for repair in &loaded.repairs {
            tracing::warn!(%repair, "a layer's shape was repaired");
        }
        for layer in &loaded.reprojected {
            tracing::warn!(%layer, "a layer was reprojected to WGS 84");
        }
        Ok(Self::new(
            Arc::new(loaded.city),
            &required("PUBLIC_URL")?,
            sdk,
        ))
    }

    /// A setup for a city already loaded; other settings still come from the environment.
    pub fn new(city: Arc<City>, public_url: &str, sdk: SdkConfig) -> Self {
        AwsSetup {
            city,
            public_url: public_url.trim_end_matches('/').to_string(),
            sdk,
            calls: None,
            vars: HashMap::new(),
        }
    }

    /// Sets `name` for this setup, ahead of the environment.
    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.vars.insert(name, value.into());
        self
    }

    fn required(&self, name: &'static str) -> Result<String, SetupError> {
        match self.vars.get(name) {
            Some(value) => Ok(value.clone()),
            None => required(name),
        }
    }

    fn optional(&self, name: &'static str) -> Option<String> {
        self.required(name).ok()
    }

    /// Counts every AWS API call of the clients made from now on.
    pub fn count_calls(mut self, calls: ApiCalls) -> Self {
        self.calls = Some(calls);
        self
    }

    /// The request store on the table named by `TABLE_NAME`.
    pub fn store(&self) -> Result<DynamoStore, SetupError> {
        Ok(DynamoStore::new(
            client!(self, aws_sdk_dynamodb),
            self.required("TABLE_NAME")?,
        ))
    }

    /// SQS with the URLs of `queues`, each from its `<NAME>_QUEUE_URL`.
    pub fn queues(&self, queues: &[QueueName]) -> Result<SqsQueues, SetupError> {
        let mut urls = HashMap::new();
        for queue in queues {
            urls.insert(
                queue.as_str().to_string(),
                self.required(queue_url_variable(*queue))?,
            );
        }
        Ok(SqsQueues::new(client!(self, aws_sdk_sqs), urls))
    }

    /// Photos and videos in the bucket named by `MEDIA_BUCKET`.
    pub fn media(&self) -> Result<S3Media, SetupError> {
        self.bucket("MEDIA_BUCKET")
    }

    /// Objects in the bucket named by the variable `bucket`.
    fn bucket(&self, bucket: &'static str) -> Result<S3Media, SetupError> {
        let mut config = aws_sdk_s3::config::Builder::from(&self.sdk)
            // S3-compatible endpoints (moto) take the bucket in the path, not the host name.
            .force_path_style(self.sdk.endpoint_url().is_some());
        if let Some(calls) = &self.calls {
            config = config.interceptor(calls.clone());
        }
        Ok(S3Media::new(
            aws_sdk_s3::Client::from_conf(config.build()),
            self.required(bucket)?,
            &self.sdk,
        ))
    }

    pub fn intake_deps(&self) -> Result<IntakeDeps, SetupError> {
        Ok(IntakeDeps {
            city: self.city.clone(),
            store: Arc::new(self.store()?),
            // Notify: the confirmation an ask to follow sends; media: photos to fetch.
            queue: Arc::new(self.queues(&[
                QueueName::Routing,
                QueueName::Status,
                QueueName::Notify,
                QueueName::Media,
            ])?),
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            geocoder: Arc::new(AddressBook::new(self.city.address_points.clone())),
        })
    }

    pub fn router_deps(&self) -> Result<RouterDeps, SetupError> {
        Ok(RouterDeps {
            city: self.city.clone(),
            store: Arc::new(self.store()?),
            queue: Arc::new(self.queues(&[QueueName::Status])?),
            fix_history: Default::default(),
        })
    }

    pub fn status_deps(&self) -> Result<StatusDeps, SetupError> {
        Ok(StatusDeps {
            city: self.city.clone(),
            store: Arc::new(self.store()?),
            queue: Arc::new(self.queues(&[QueueName::Notify])?),
            clock: Arc::new(SystemClock),
            media: Arc::new(self.media()?),
        })
    }

    /// The media function: media in `MEDIA_BUCKET`, checked files sent on to status.
    pub fn media_deps(&self) -> Result<MediaDeps, SetupError> {
        Ok(MediaDeps {
            media: Arc::new(self.media()?),
            queue: Arc::new(self.queues(&[QueueName::Status])?),
            public_url: self.public_url.clone(),
        })
    }

    /// The scheduler: the store, the routing queue the sweep sends lost jobs to again, and the
    /// status queue breach notices and archiving go to.
    pub fn scheduler_deps(&self) -> Result<SchedulerDeps, SetupError> {
        Ok(SchedulerDeps {
            city: self.city.clone(),
            store: Arc::new(self.store()?),
            queue: Arc::new(self.queues(&[
                QueueName::Routing,
                QueueName::Status,
                QueueName::Notify,
            ])?),
            clock: Arc::new(SystemClock),
            media: Arc::new(self.media()?),
            metrics: Arc::new(self.store()?),
        })
    }

    /// Signs and checks the links of messages (unsubscribe) with `LINK_SECRET`, at least 32
    /// characters; notify and intake must be given the same.
    pub fn link_signer(&self) -> Result<LinkSigner, SetupError> {
        let secret = self.required("LINK_SECRET")?;
        if secret.len() < 32 {
            return Err(SetupError::Invalid {
                name: "LINK_SECRET",
                reason: "must be at least 32 characters".into(),
            });
        }
        Ok(LinkSigner::new(secret.as_bytes()))
    }

    /// Registers phone apps with the SNS platform applications `PUSH_APNS_APPLICATION_ARN` and
    /// `PUSH_FCM_APPLICATION_ARN` (each optional: without it, that platform is not offered).
    pub fn devices(&self) -> SnsDevices {
        SnsDevices::new(
            client!(self, aws_sdk_sns),
            self.optional("PUSH_APNS_APPLICATION_ARN"),
            self.optional("PUSH_FCM_APPLICATION_ARN"),
        )
    }

    /// The webhooks function: deliveries from `WEBHOOKS_QUEUE_URL` (queued again there when a
    /// try fails), signed with secrets made from `LINK_SECRET`, posted by `sender`.
    pub fn webhook_deps(&self, sender: Arc<dyn WebhookSender>) -> Result<WebhookDeps, SetupError> {
        Ok(WebhookDeps {
            city: self.city.clone(),
            store: Arc::new(self.store()?),
            queue: Arc::new(self.queues(&[QueueName::Webhooks])?),
            sender,
            clock: Arc::new(SystemClock),
            links: self.link_signer()?,
            public_url: self.public_url.clone(),
        })
    }

    /// SES v2, sending in `SES_CONFIGURATION_SET` when it is set.
    fn mailer(&self) -> SesMailer {
        SesMailer::new(
            client!(self, aws_sdk_sesv2),
            self.optional("SES_CONFIGURATION_SET"),
        )
    }

    /// The mail function: messages SES wrote to `MAIL_BUCKET`, read into reports as intake
    /// takes them, photos checked into `MEDIA_BUCKET`, answers sent by SES as `FROM_ADDRESS`.
    pub fn mail_intake(
        &self,
        choose_service: ServiceChooser,
    ) -> Result<(S3Media, MailIntakeDeps), SetupError> {
        let from = self.required("FROM_ADDRESS")?;
        let deps = MailIntakeDeps {
            intake: self.intake_deps()?,
            media: MediaDeps {
                media: Arc::new(self.media()?),
                queue: Arc::new(self.queues(&[QueueName::Status])?),
                public_url: self.public_url.clone(),
            },
            mailer: Arc::new(self.mailer()),
            mail_from: format!("{} 311 <{from}>", self.city.short_name),
            public_url: self.public_url.clone(),
            choose_service,
        };
        Ok((self.bucket("MAIL_BUCKET")?, deps))
    }

    /// The text replies function: STOP and START from residents' numbers, kept in the table.
    pub fn text_replies(&self) -> Result<TextReplies, SetupError> {
        Ok(TextReplies {
            store: Arc::new(self.store()?),
            country_calling_code: self.city.country_calling_code,
        })
    }

    /// Notify sends e-mail as `FROM_ADDRESS` in `SES_CONFIGURATION_SET` (optional), texts by SNS,
    /// and push through the SNS platform application `PUSH_PLATFORM_APPLICATION_ARN` (optional:
    /// without it, push is off).
    pub fn notify_deps(&self) -> Result<NotifyDeps, SetupError> {
        let from = self.required("FROM_ADDRESS")?;
        Ok(NotifyDeps {
            city: self.city.clone(),
            store: Arc::new(self.store()?),
            metrics: Arc::new(self.store()?),
            mailer: Arc::new(self.mailer()),
            sms: Arc::new(SnsSms::new(
                client!(self, aws_sdk_sns),
                self.city.country_calling_code,
            )),
            push: match self.optional("PUSH_PLATFORM_APPLICATION_ARN") {
                Some(arn) => Arc::new(SnsPush::new(client!(self, aws_sdk_sns), arn)),
                None => Arc::new(NoPush),
            },
            queue: Arc::new(self.queues(&[QueueName::Webhooks])?),
            clock: Arc::new(SystemClock),
            settings: NotifySettings {
                public_url: self.public_url.clone(),
                mail_from: format!("{} 311 <{from}>", self.city.short_name),
                links: self.link_signer()?,
                // The template gives the notify queue 60 s: the whole lease fits in it.
                send_lease: cityfix_app::notify::SEND_LEASE,
            },
        })
    }
}
