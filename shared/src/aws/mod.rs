//! Adapters on AWS: the request store on DynamoDB (one table), the queues on SQS, e-mail on SES, SMS on SNS.

pub mod dynamo;
pub mod messages;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use messages::{SesMailer, SnsSms};
pub use sqs::SqsQueues;
