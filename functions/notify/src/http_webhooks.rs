//! The network side of webhooks: one HTTPS client, no redirects followed, a time limit per post.

use std::time::Duration;

use cityfix_app::webhooks::{WebhookAnswer, WebhookSender};

/// How long one post may take, connection included.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts over reqwest with rustls. A redirect is an answer (3xx counts as failed), never followed:
/// a webhook's URL is the one the city wrote.
pub struct HttpWebhooks {
    client: reqwest::Client,
}

impl HttpWebhooks {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .connect_timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpWebhooks { client })
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpWebhooks {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> WebhookAnswer {
        let mut post = self.client.post(url).body(body.to_string());
        for (name, value) in headers {
            post = post.header(*name, value);
        }
        match post.send().await {
            Ok(answer) => WebhookAnswer::from_status(answer.status().as_u16()),
            Err(error) if error.is_timeout() => {
                WebhookAnswer::Failed(format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs()))
            }
            Err(error) => WebhookAnswer::Failed(format!("could not post: {error}")),
        }
    }
}
