//! Adapters on AWS: the request store on DynamoDB (one table), the queues on SQS, media on S3, e-mail on SES, SMS, mobile push and topics on SNS; and the setup that builds them from a function's environment.

pub mod dynamo;
pub mod lambda;
pub mod messages;
pub mod metrics;
pub mod s3;
pub mod setup;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use lambda::Failure;
pub use messages::{SesMailer, SnsDevices, SnsPush, SnsSms, SnsTopics};
pub use s3::S3Media;
pub use setup::{sdk_defaults, AwsSetup, SetupError};
pub use sqs::SqsQueues;
