//! `ferry metadata evaluate|migrate`: templates, indices and aliases from a snapshot or a live cluster, transformed
//! for the target; `evaluate` prints the plan and changes nothing, `migrate` applies it.

use anyhow::{bail, Context as _};
use clap::Subcommand;
use ferry_client::Client;
use ferry_metadata::{
    apply, mark_existing, Action, Allowlist, ApplyReport, Options, Plan, SourceMetadata, Target, TypeRule,
};

use crate::cluster::TargetArgs;
use crate::repo::{Source, SourceArgs};

/// The metadata commands.
#[derive(Subcommand)]
pub enum Command {
    /// Print the plan, every transformation and every problem; changes nothing on the target.
    Evaluate(Args),
    /// Create the planned templates, indices and aliases on the target; existing ones are reported, not replaced.
    Migrate {
        #[command(flatten)]
        args: Args,
        /// Replace templates and aliases that exist on the target, and delete and recreate existing indices
        /// (their documents are lost).
        #[arg(long)]
        overwrite: bool,
    },
}

/// Where the metadata comes from and goes to, and what to include.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    from: SourceArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Indices to include (repeatable): an exact name or a regular expression matching the whole name.
    /// Default: every index except dot (system) indices, which are only included when named.
    #[arg(long = "index", value_name = "NAME|REGEX")]
    indices: Vec<String>,
    /// Templates to include (repeatable), as for --index. Default: every template except system ones.
    #[arg(long = "template", value_name = "NAME|REGEX")]
    templates: Vec<String>,
    /// How multi-type (ES 5.x/6.x) indices become typeless ones: merge, split or split:<pattern> (`{index}` and
    /// `{type}` are replaced; default pattern `{index}_{type}`). Backfill must use the same rule.
    #[arg(long, default_value = "merge")]
    type_rule: TypeRule,
    /// Print the plan (and, for migrate, the results) as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a metadata command.
pub fn run(command: Command) -> anyhow::Result<()> {
    let (args, apply_plan, overwrite) = match command {
        Command::Evaluate(args) => (args, false, false),
        Command::Migrate { args, overwrite } => (args, true, overwrite),
    };
    let options = Options {
        type_rule: args.type_rule.clone(),
        indices: Allowlist::new(args.indices.iter().cloned())?,
        templates: Allowlist::new(args.templates.iter().cloned())?,
        overwrite,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let target = Client::new(args.target.config()?).context("the --target cluster")?;
    let (source, described) = match args.from.resolve()? {
        Source::Snapshot { repo, snapshot } => {
            let repository = repo.open().with_context(|| format!("repository {}", repo.display()))?;
            let source = SourceMetadata::from_snapshot(&repository, snapshot)
                .with_context(|| format!("snapshot {snapshot} in {}", repo.display()))?;
            (source, format!("snapshot {snapshot}"))
        }
        Source::Cluster { config } => {
            let url = config.url.clone();
            let client = Client::new(config).context("the --source cluster")?;
            let source =
                runtime.block_on(SourceMetadata::from_cluster(&client)).context("reading the --source cluster")?;
            (source, format!("cluster {url}"))
        }
    };
    let info = runtime.block_on(target.info()).context("the --target cluster")?;
    let mut plan = Plan::build(&source, Target::from_info(&info), &options)?;
    runtime.block_on(mark_existing(&mut plan, &target, overwrite)).context("checking the target")?;

    if !apply_plan {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print_plan(&plan, &described);
        }
        return Ok(());
    }
    let report = runtime.block_on(apply(&plan, &target)).context("applying the plan")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "plan": plan, "applied": report }))?);
    } else {
        print_plan(&plan, &described);
        print_report(&report);
    }
    let failures = report.failures();
    if failures > 0 {
        bail!("{failures} of {} items failed on the target", report.items.len());
    }
    Ok(())
}

fn print_plan(plan: &Plan, source: &str) {
    let version = plan.source_version.as_deref().unwrap_or("unknown version");
    println!("source: {source} ({version})    target: {}", plan.target);
    println!();
    println!("{:<20} {:<40} ACTION", "KIND", "NAME");
    for item in &plan.items {
        let name = match &item.source {
            Some(source) => format!("{} (from {source})", item.name),
            None => item.name.clone(),
        };
        println!("{:<20} {:<40} {}", item.kind.to_string(), name, item.action);
        for note in &item.log.notes {
            println!("    note:    {note}");
        }
        for problem in &item.log.problems {
            println!("    PROBLEM: {problem}");
        }
    }
    let count = |wanted: fn(&Action) -> bool| plan.items.iter().filter(|item| wanted(&item.action)).count();
    println!();
    println!(
        "{} items: {} to create, {} exist, {} to overwrite, {} skipped; {} with problems",
        plan.items.len(),
        count(|a| *a == Action::Create),
        count(|a| *a == Action::Exists),
        count(|a| *a == Action::Overwrite),
        count(|a| matches!(a, Action::Skip(_))),
        plan.problem_count(),
    );
}

fn print_report(report: &ApplyReport) {
    println!();
    for item in report.items.iter().filter(|item| item.outcome != "skipped") {
        match &item.error {
            Some(error) => println!("{:<20} {:<40} FAILED: {error}", item.kind.to_string(), item.name),
            None => println!("{:<20} {:<40} {}", item.kind.to_string(), item.name, item.outcome),
        }
    }
    println!(
        "applied: {} created, {} overwritten, {} already existed, {} failed",
        report.count("created"),
        report.count("overwritten"),
        report.count("exists"),
        report.failures()
    );
}
