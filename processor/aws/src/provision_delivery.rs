//! The delivery side of `processor provision`: the quarantine bucket and the push topic, named
//! after the table, created idempotently, with the settings the processor then needs.

use anyhow::{bail, Result};

/// What was created, and the settings to export for the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryResources {
    /// One line per resource, for the summary.
    pub done: Vec<String>,
    /// `QUARANTINE_URL`: `s3://{bucket}/quarantine`.
    pub quarantine_url: String,
    /// `PUSH_TOPIC_ARN`.
    pub push_topic_arn: String,
}

/// An S3 bucket name from a table name: lowercase letters, digits and hyphens, 3 to 63 long.
pub fn bucket_name(table: &str) -> String {
    let mut name: String = table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(63 - "-quarantine".len());
    let name = format!("{}-quarantine", name.trim_matches('-'));
    name.trim_start_matches('-').to_owned()
}

/// Creates (or finds) the quarantine bucket and the push topic for `table`.
///
/// # Errors
/// An AWS failure other than "already exists".
pub async fn provision_delivery(
    s3: &aws_sdk_s3::Client,
    sns: &aws_sdk_sns::Client,
    table: &str,
) -> Result<DeliveryResources> {
    let mut done = Vec::new();
    let bucket = bucket_name(table);
    let mut create = s3.create_bucket().bucket(&bucket);
    // Outside us-east-1, S3 refuses a bucket without a location constraint naming the region.
    if let Some(region) = s3
        .config()
        .region()
        .map(|r| r.as_ref())
        .filter(|r| *r != "us-east-1")
    {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => done.push(format!("bucket {bucket}: created")),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) =>
        {
            done.push(format!("bucket {bucket}: exists"))
        }
        Err(e) => bail!(
            "creating bucket {bucket}: {}",
            aws_sdk_s3::error::DisplayErrorContext(e)
        ),
    }
    // CreateTopic is idempotent: it returns the existing topic's ARN.
    let topic = format!(
        "{}-push",
        table.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "-"
        )
    );
    let created = sns.create_topic().name(&topic).send().await.map_err(|e| {
        anyhow::anyhow!(
            "creating topic {topic}: {}",
            aws_sdk_sns::error::DisplayErrorContext(e)
        )
    })?;
    let Some(push_topic_arn) = created.topic_arn else {
        bail!("creating topic {topic}: the response has no TopicArn");
    };
    done.push(format!("push topic {push_topic_arn}: ready"));
    Ok(DeliveryResources {
        done,
        quarantine_url: format!("s3://{bucket}/quarantine"),
        push_topic_arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert_eq!(
            bucket_name("Presence_Table.v2"),
            "presence-table-v2-quarantine"
        );
        let long = bucket_name(&"x".repeat(200));
        assert!(long.len() <= 63 && long.ends_with("-quarantine"));
        assert_eq!(bucket_name("__t"), "t-quarantine");
    }
}
