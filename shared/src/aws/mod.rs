//! Adapters on AWS: the request store on DynamoDB (one table) and the queues on SQS.

pub mod dynamo;
pub mod sqs;

pub use dynamo::DynamoStore;
pub use sqs::SqsQueues;
