//! `fingertip retention`: what the lake keeps, and until when (the server deletes the rest).

use anyhow::Result;
use fingertip_store::retention;

use crate::DataArgs;
use crate::config::Config;
use crate::query::Format;

#[derive(clap::Args, Debug)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub fn run(args: RetentionArgs) -> Result<i32> {
    let config = Config::load(&args.data.data, args.data.config.as_deref())?;
    let now = chrono::Utc::now().timestamp_millis();
    let status = retention::status(&args.data.data, &config.retention, now)?;
    let log = retention::audit_log(&args.data.data)?;
    if args.format == Format::Json {
        let doc = serde_json::json!({ "status": status, "deletions": log });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    match &status.oldest_kept {
        Some(date) => println!(
            "events are kept {} days: partitions dated before {date} are deleted by the server",
            status.keep_days
        ),
        None => println!("retention is off ([retention] keep_days = 0): events are kept"),
    }
    println!("{:<12} {:>7} {:>12}  deleted on", "date", "files", "bytes");
    for p in &status.partitions {
        let when = match (&p.delete_on, p.expired) {
            (_, true) => "at the next sweep".to_string(),
            (Some(d), false) => d.clone(),
            (None, false) => "never".to_string(),
        };
        println!("{:<12} {:>7} {:>12}  {when}", p.date, p.files, p.bytes);
    }
    let deleted = log.iter().filter(|e| e.action == "deleted").count();
    println!("{deleted} partition(s) deleted so far (audit log: <data>/retention/audit.jsonl)");
    Ok(0)
}
