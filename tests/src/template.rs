//! The data resources of template.yaml as the tests need them: the table's keys and indexes, and
//! each queue's visibility timeout and dead-letter queue. moto resources are created from these,
//! so the AWS tests run on what `sam deploy` makes.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// An index or the table itself: hash and range attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub hash: String,
    pub range: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub key: KeySpec,
    /// Attribute name → type (`S`, `N`, `B`).
    pub attributes: BTreeMap<String, String>,
    /// Index name → (keys, projection type).
    pub indexes: BTreeMap<String, (KeySpec, String)>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The name the code uses: `routing`, `status`, `notify`.
    pub name: String,
    pub visibility_timeout_s: u32,
    pub max_receive_count: u32,
    /// The logical id of its dead-letter queue.
    pub dead_letter_queue: String,
}

/// template.yaml, parsed; CloudFormation's short tags (`!Ref`, `!GetAtt`, …) are kept as tags.
pub fn read() -> Value {
    let path = crate::city::repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("template.yaml is readable");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    let resource = &template["Resources"][id];
    assert!(!resource.is_null(), "template.yaml has no resource {id}");
    &resource["Properties"]
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn keys(schema: &Value) -> KeySpec {
    let mut key = KeySpec {
        hash: String::new(),
        range: None,
    };
    for element in schema.as_sequence().expect("a KeySchema list") {
        let name = text(&element["AttributeName"]);
        match text(&element["KeyType"]).as_str() {
            "HASH" => key.hash = name,
            "RANGE" => key.range = Some(name),
            other => panic!("unknown KeyType {other}"),
        }
    }
    key
}

/// The table resource `Table`.
pub fn table(template: &Value) -> TableSpec {
    let table = resource(template, "Table");
    let attributes = table["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let indexes = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .map(|indexes| {
            indexes
                .iter()
                .map(|index| {
                    (
                        text(&index["IndexName"]),
                        (
                            keys(&index["KeySchema"]),
                            text(&index["Projection"]["ProjectionType"]),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    TableSpec {
        key: keys(&table["KeySchema"]),
        attributes,
        indexes,
        ttl_attribute: table["TimeToLiveSpecification"]["AttributeName"]
            .as_str()
            .map(str::to_string),
    }
}

/// The queues of template.yaml, `<Name>Queue` for each of [`crate::moto::QUEUES`].
pub fn queues(template: &Value) -> Vec<QueueSpec> {
    crate::moto::QUEUES
        .into_iter()
        .map(|name| {
            let id = format!("{}{}Queue", name[..1].to_uppercase(), &name[1..]);
            let queue = resource(template, &id);
            let redrive = &queue["RedrivePolicy"];
            let target = match &redrive["deadLetterTargetArn"] {
                Value::Tagged(tagged) if tagged.tag == "!GetAtt" => {
                    text(&tagged.value).trim_end_matches(".Arn").to_string()
                }
                other => panic!("{id}: deadLetterTargetArn is not a !GetAtt: {other:?}"),
            };
            QueueSpec {
                name: name.to_string(),
                visibility_timeout_s: text(&queue["VisibilityTimeout"]).parse().unwrap(),
                max_receive_count: text(&redrive["maxReceiveCount"]).parse().unwrap(),
                dead_letter_queue: target,
            }
        })
        .collect()
}
