//! The crash and fault proofs: reports posted from many clients while the `cityfix serve` process
//! is killed (`kill -9`, as a power cut) and started again on the same data folder, or while it
//! fails a share of its store, queue and outbox calls on purpose (`--inject-faults`: refused,
//! timed out, or a write done with its answer lost); then every report followed in the store and
//! the outbox: none lost, each routed once, each reporter acknowledged by exactly one e-mail.
//!
//! The CI run keeps short versions (400 reports, 32 clients; two kills, or 5 % of calls failing).
//! The proofs in README are the same tests at 10,000 reports from 64 clients:
//!
//!   CITYFIX_CRASH_REPORTS=10000 CITYFIX_CRASH_CLIENTS=64 \
//!     cargo test -p cityfix-local --test crash -- --nocapture killed
//!   CITYFIX_FAULT_REPORTS=10000 CITYFIX_FAULT_CLIENTS=64 CITYFIX_FAULT_RATE=0.05 \
//!     cargo test -p cityfix-local --test crash -- --nocapture faults
//!
//! A client whose post fails (the process died under it, is starting again, or answered 503) sends
//! the same report again with the same Idempotency-Key until an answer comes, as a phone app
//! would; an answer with a tracking number is a report the city accepted and must not lose.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod common;
use common::Server;

/// Services posted, with the attribute each requires.
const SERVICES: [(&str, Option<(&str, &str)>); 4] = [
    ("pothole", Some(("pothole_size", "small"))),
    ("streetlight_out", None),
    ("sidewalk_damage", None),
    ("rodents", None),
];

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The report of client `n`: a point in a square kilometre of downtown, dense enough that the
/// router links some reports to earlier ones (and chains of them), and an address of its own.
fn report(n: usize, rng: &mut StdRng) -> Value {
    let (code, attribute) = SERVICES[rng.gen_range(0..SERVICES.len())];
    let mut body = json!({
        "service_code": code,
        "lat": rng.gen_range(41.760..41.769),
        "long": rng.gen_range(-72.684..-72.672),
        "description": "crash proof report",
        "email": format!("crash{n}@example.org"),
    });
    if let Some((name, value)) = attribute {
        body["attributes"] = json!({ name: value });
    }
    body
}

/// The runner of the moment: a kill replaces it, and clients read its URL afresh on each try.
struct Runner {
    data: PathBuf,
    /// Arguments to `cityfix serve` beyond the folder and the port.
    args: Vec<String>,
    restarts: AtomicUsize,
    server: Mutex<Option<Server>>,
    url: RwLock<String>,
}

impl Runner {
    fn start(data: &Path, args: Vec<String>) -> Runner {
        let log = data.join("serve.log");
        let server = Server::start_with(data, Some(&log), &as_strs(&args));
        Runner {
            data: data.to_path_buf(),
            args,
            url: RwLock::new(server.url.clone()),
            server: Mutex::new(Some(server)),
            restarts: AtomicUsize::new(0),
        }
    }

    /// Kills the process at once and starts another on the same folder.
    fn kill_and_restart(&self) -> Duration {
        let started = Instant::now();
        if let Some(server) = self.server.lock().unwrap().take() {
            server.kill();
        }
        let restarts = self.restarts.fetch_add(1, Ordering::SeqCst) + 1;
        let log = self.data.join(format!("serve-{restarts}.log"));
        let server = Server::start_with(&self.data, Some(&log), &as_strs(&self.args));
        *self.url.write().unwrap() = server.url.clone();
        *self.server.lock().unwrap() = Some(server);
        started.elapsed()
    }

    fn url(&self) -> String {
        self.url.read().unwrap().clone()
    }
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Posts `body` until the runner answers with a tracking number; the number and the tries.
async fn post_until_accepted(runner: &Runner, body: &Value, key: &str) -> (String, usize) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries < 2_000, "report {key} was never accepted");
        let sent = client
            .post(format!("{}/api/v1/requests", runner.url()))
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        if let Ok(answer) = sent {
            let status = answer.status();
            if status.is_success() {
                let answer: Value = answer.json().await.unwrap();
                let id = answer["service_request_id"].as_str().unwrap().to_string();
                return (id, tries);
            }
            // Only the runner failing is worth another try; a refusal of the report is a bug here.
            assert!(
                status.is_server_error(),
                "report {key} refused with {status}: {}",
                answer.text().await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the store and the outbox say of the accepted reports.
#[derive(Debug, Default)]
struct Outcome {
    missing: Vec<String>,
    still_submitted: Vec<String>,
    /// Reports routed (routed, referred or linked as a duplicate) other than exactly once.
    routed_not_once: Vec<(String, i64)>,
    /// Reporters with other than exactly one acknowledgement e-mail in the outbox.
    mailed_not_once: Vec<(String, usize)>,
    duplicates: usize,
}

fn outcome(data: &Path, accepted: &[(String, String)]) -> Outcome {
    let db = rusqlite::Connection::open_with_flags(
        data.join("cityfix.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut status = db
        .prepare("SELECT status FROM requests WHERE id = ?1")
        .unwrap();
    let mut routed = db
        .prepare(
            "SELECT json_extract(doc, '$.kind') FROM timeline WHERE request_id = ?1
             AND json_extract(doc, '$.kind') IN ('routed', 'referred', 'duplicate')",
        )
        .unwrap();
    let outbox = rusqlite::Connection::open_with_flags(
        data.join("outbox/messages.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut mails: HashMap<String, usize> = HashMap::new();
    let mut messages = outbox
        .prepare("SELECT bytes FROM messages WHERE channel = 'email'")
        .unwrap();
    for bytes in messages
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .unwrap()
    {
        let text = String::from_utf8_lossy(&bytes.unwrap()).into_owned();
        for line in text.lines().take_while(|l| !l.is_empty()) {
            if let Some(to) = line.strip_prefix("To: ") {
                *mails.entry(to.trim().to_string()).or_default() += 1;
            }
        }
    }
    let mut result = Outcome::default();
    for (id, email) in accepted {
        let found: Option<String> = status.query_row([id], |row| row.get(0)).ok();
        match found.as_deref() {
            None => result.missing.push(id.clone()),
            Some("submitted") => result.still_submitted.push(id.clone()),
            Some(_) => {}
        }
        let kinds: Vec<String> = routed
            .query_map([id], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if kinds.len() != 1 {
            result
                .routed_not_once
                .push((id.clone(), kinds.len() as i64));
        }
        if kinds.iter().any(|k| k == "duplicate") {
            result.duplicates += 1;
        }
        let sent = mails.get(email).copied().unwrap_or(0);
        if sent != 1 {
            result.mailed_not_once.push((email.clone(), sent));
        }
    }
    result
}

impl Outcome {
    fn settled(&self) -> bool {
        self.missing.is_empty()
            && self.still_submitted.is_empty()
            && self.routed_not_once.iter().all(|(_, n)| *n > 0)
            && self.mailed_not_once.iter().all(|(_, n)| *n > 0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_reports_survive_the_runner_killed_twice_mid_load() {
    prove(Load {
        reports: setting("CITYFIX_CRASH_REPORTS", 400),
        clients: setting("CITYFIX_CRASH_CLIENTS", 32),
        kills: setting("CITYFIX_CRASH_KILLS", 2),
        faults: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_reports_survive_faults_in_the_store_the_queues_and_the_mail() {
    prove(Load {
        reports: setting("CITYFIX_FAULT_REPORTS", 400),
        clients: setting("CITYFIX_FAULT_CLIENTS", 32),
        kills: 0,
        faults: Some(std::env::var("CITYFIX_FAULT_RATE").unwrap_or_else(|_| "0.05".into())),
    })
    .await;
}

/// What a proof runs: reports from clients, kills of the runner at even steps of the load, and
/// the share of the runner's calls to its store, queues and outbox that fail.
struct Load {
    reports: usize,
    clients: usize,
    kills: usize,
    faults: Option<String>,
}

async fn prove(load: Load) {
    let Load {
        reports,
        clients,
        kills,
        faults,
    } = load;
    let mut args = vec!["--rate-limit".to_string(), "off".to_string()];
    if let Some(rate) = &faults {
        args.extend(["--inject-faults".to_string(), rate.clone()]);
    }
    let mut data = tempfile::tempdir().unwrap();
    if std::env::var_os("CITYFIX_CRASH_KEEP").is_some() {
        // For a look at the store and the logs afterwards.
        data.disable_cleanup(true);
        eprintln!("data folder kept: {}", data.path().display());
    }
    let runner = Arc::new(Runner::start(data.path(), args));
    // under faults, a poison message on each of the chain's queues, which no retry can mend
    let poison: Vec<(String, String)> = if faults.is_some() {
        let queues = cityfix_embedded::EmbeddedQueue::open_in(data.path()).unwrap();
        let mut sent = Vec::new();
        for queue in ["routing", "status", "notify"] {
            let body = format!("poison for {queue}: not a message");
            queues.send_to(queue, &body).await.unwrap();
            sent.push((queue.to_string(), body));
        }
        sent.sort();
        sent
    } else {
        Vec::new()
    };
    let started = Instant::now();

    // given clients posting reports, while the runner is killed at even steps of the load
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::with_capacity(reports)));
    let retried = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (runner, next, accepted, retried) = (
            runner.clone(),
            next.clone(),
            accepted.clone(),
            retried.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(client as u64);
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= reports {
                    break;
                }
                let body = report(n, &mut rng);
                let (id, tries) = post_until_accepted(&runner, &body, &format!("crash-{n}")).await;
                retried.fetch_add(tries - 1, Ordering::SeqCst);
                let email = body["email"].as_str().unwrap().to_string();
                accepted.lock().unwrap().push((id, email));
            }
        }));
    }
    let mut restarts = Vec::new();
    for kill in 1..=kills {
        let at = reports * kill / (kills + 1);
        while next.load(Ordering::SeqCst) < at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let runner = runner.clone();
        restarts.push(
            tokio::task::spawn_blocking(move || runner.kill_and_restart())
                .await
                .unwrap(),
        );
    }
    for task in tasks {
        task.await.unwrap();
    }
    let posted_in = started.elapsed();
    let accepted = accepted.lock().unwrap().clone();

    // when the chain has had time to finish (the last kill's messages come back after their
    // visibility timeout, 2 s in these runners)
    // (a report whose routing job could not be queued waits for the sweep: a minute's grace, a
    // tick every 30 s)
    let patience = Duration::from_secs(100 + reports as u64 / 20);
    let waited = Instant::now();
    let mut found = outcome(data.path(), &accepted);
    let mut said = Instant::now();
    while !found.settled() && waited.elapsed() < patience {
        tokio::time::sleep(Duration::from_millis(500)).await;
        found = outcome(data.path(), &accepted);
        if said.elapsed() > Duration::from_secs(10) {
            said = Instant::now();
            eprintln!(
                "after {:.0} s: {} left submitted, {} not routed, {} not acknowledged",
                waited.elapsed().as_secs_f64(),
                found.still_submitted.len(),
                found
                    .routed_not_once
                    .iter()
                    .filter(|(_, n)| *n == 0)
                    .count(),
                found
                    .mailed_not_once
                    .iter()
                    .filter(|(_, n)| *n == 0)
                    .count(),
            );
        }
    }
    // a second look after settling, so that a late second e-mail or route is seen too
    tokio::time::sleep(Duration::from_secs(3)).await;
    let found = outcome(data.path(), &accepted);
    // and the poison has gone to the dead-letter queues after its receives, alone
    let dead = dead_letters_after(data.path(), poison.len()).await;

    let mut ids: Vec<&String> = accepted.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    println!(
        "proof: {reports} reports from {clients} clients, {kills} kills (restarts took {:?}), faults {}; \
         {} accepted ({} distinct numbers), {} posts sent again; posted in {:.1} s, settled {:.1} s after; \
         {} linked as duplicates; lost {}, left submitted {}, routed other than once {}, \
         acknowledged other than once {}",
        restarts,
        faults.as_deref().unwrap_or("none"),
        accepted.len(),
        ids.len(),
        retried.load(Ordering::SeqCst),
        posted_in.as_secs_f64(),
        waited.elapsed().as_secs_f64(),
        found.duplicates,
        found.missing.len(),
        found.still_submitted.len(),
        found.routed_not_once.len(),
        found.mailed_not_once.len(),
    );

    // then every accepted report is there, routed once, its reporter mailed once
    println!(
        "proof: dead letters {} (poison messages sent {})",
        dead.len(),
        poison.len()
    );
    assert_eq!(
        dead, poison,
        "exactly the poison messages reach the dead-letter queues, each from its own queue"
    );
    assert_eq!(accepted.len(), reports);
    assert_eq!(ids.len(), reports, "each report has its own number");
    assert!(found.missing.is_empty(), "lost: {:?}", found.missing);
    assert!(
        found.still_submitted.is_empty(),
        "never routed: {:?}",
        found.still_submitted
    );
    assert!(
        found.routed_not_once.is_empty(),
        "routed other than once: {:?}",
        found.routed_not_once
    );
    assert!(
        found.mailed_not_once.is_empty(),
        "acknowledged other than once: {:?}",
        &found.mailed_not_once[..found.mailed_not_once.len().min(10)]
    );
    assert!(
        found.duplicates > 0,
        "the load is dense enough to make duplicates"
    );
}

/// The dead letters of the runner's queues as `(queue, body)`, sorted by queue, once `expected`
/// have arrived (each after its four receives) or a minute has passed.
async fn dead_letters_after(data: &Path, expected: usize) -> Vec<(String, String)> {
    use cityfix_app::ports::{DeadLetters, QueueName};
    let queues = cityfix_embedded::EmbeddedQueue::open_in(data).unwrap();
    let waited = Instant::now();
    loop {
        let mut dead: Vec<(String, String)> = queues
            .dead_letters(&QueueName::ALL, 1_000)
            .await
            .unwrap()
            .into_iter()
            .map(|letter| (letter.queue, letter.body))
            .collect();
        dead.sort();
        if dead.len() >= expected || waited.elapsed() > Duration::from_secs(60) {
            return dead;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A data folder on a small disk of its own: a tmpfs mounted in a mount namespace of the runner's
/// (`unshare`, as root or in a user namespace), so the test can fill it and free it without
/// touching the machine's disks. The test reaches the folder through `/proc/<pid>/root`.
///
/// (A read-only folder is not staged here: Linux refuses to remount a file system read-only
/// while files on it are open for writing, and the runner always has its databases open. Its
/// writes fail with SQLite's read-only error, which `cityfix-embedded` tests give the same
/// treatment as a full disk's.)
struct SmallDisk {
    server: Server,
    /// The data folder as the runner sees it.
    inside: PathBuf,
    log: PathBuf,
}

const SMALL_DISK: &str = "48m";

impl SmallDisk {
    fn start(scratch: &Path) -> SmallDisk {
        let inside = scratch.join("data");
        std::fs::create_dir_all(&inside).unwrap();
        let mount =
            "mount -t tmpfs -o size=\"$1\" cityfix-small-disk \"$2\" && shift 2 && exec \"$@\"";
        let namespace = ["--user", "--map-root-user", "--mount", "--"];
        let tried = std::process::Command::new("unshare")
            .args(namespace)
            .args(["sh", "-c", mount, "sh", SMALL_DISK])
            .arg(&inside)
            .arg("true")
            .output()
            .expect("unshare (util-linux) runs");
        assert!(
            tried.status.success(),
            "the disk-full proof needs a small disk of its own: `unshare --user --map-root-user \
             --mount` and a tmpfs mount (as root, or with unprivileged user namespaces): {}",
            String::from_utf8_lossy(&tried.stderr)
        );
        let mut wrapper = std::process::Command::new("unshare");
        wrapper
            .args(namespace)
            .args(["sh", "-c", mount, "sh", SMALL_DISK])
            .arg(&inside)
            .arg(env!("CARGO_BIN_EXE_cityfix"));
        let log = scratch.join("serve.log");
        let server = Server::spawn(
            common::serve_command(wrapper, &inside, &["--rate-limit", "off"]),
            Some(&log),
        );
        SmallDisk {
            server,
            inside,
            log,
        }
    }

    /// The data folder as this test reaches it (for plain files; SQLite resolves the magic link
    /// of `/proc/<pid>/root` to this namespace's `/`, so the databases are read from a
    /// [`SmallDisk::snapshot`]).
    fn folder(&self) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.server.pid()))
            .join(self.inside.strip_prefix("/").unwrap())
    }

    /// A consistent copy of the runner's databases (SQLite's online backup, run inside its mount
    /// namespace) in a folder of this test's, laid out as the data folder is.
    fn snapshot(&self) -> PathBuf {
        let copy = self.inside.with_file_name("snapshot");
        std::fs::create_dir_all(copy.join("outbox")).unwrap();
        let backup = "import sqlite3, sys\n\
            for name in ('cityfix.sqlite', 'queues.sqlite', 'outbox/messages.sqlite'):\n\
            \x20   source = sqlite3.connect(sys.argv[1] + '/' + name)\n\
            \x20   target = sqlite3.connect(sys.argv[2] + '/' + name)\n\
            \x20   source.backup(target)\n\
            \x20   target.close(); source.close()\n";
        let done = std::process::Command::new("nsenter")
            .args(["--target", &self.server.pid().to_string()])
            .args(["--user", "--mount", "--preserve-credentials", "--"])
            .args(["python3", "-c", backup])
            .arg(&self.inside)
            .arg(&copy)
            .output()
            .expect("nsenter (util-linux) runs");
        assert!(
            done.status.success(),
            "the snapshot of the data folder: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        copy
    }

    /// Fills the disk up to its last byte with a file of its own.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.folder().join("filler")).unwrap();
        for chunk in [1 << 20, 4 << 10, 512] {
            let bytes = vec![7u8; chunk];
            while filler.write_all(&bytes).is_ok() {}
        }
        let _ = filler.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.folder().join("filler")).unwrap();
    }
}

/// One post of a report: its tracking number if taken, else the status, `Retry-After` and body.
async fn post_once(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    key: &str,
) -> Result<String, (u16, Option<String>, Value)> {
    let answer = client
        .post(format!("{url}/api/v1/requests"))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let retry = answer
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let json: Value = answer.json().await.unwrap_or(Value::Null);
    match json["service_request_id"].as_str() {
        Some(id) if status < 300 => Ok(id.to_string()),
        _ => Err((status, retry, json)),
    }
}

/// Posts new reports until one is refused because the disk takes no writes (those taken before
/// join `accepted`); the refusal's body.
async fn post_until_refused(
    client: &reqwest::Client,
    url: &str,
    next: &mut usize,
    rng: &mut StdRng,
    accepted: &mut Vec<(String, String)>,
) -> Value {
    for _ in 0..500 {
        let body = report(*next, rng);
        *next += 1;
        match post_once(client, url, &body, &format!("disk-{next}")).await {
            Ok(id) => accepted.push((id, body["email"].as_str().unwrap().to_string())),
            Err((503, retry, refusal)) => {
                assert_eq!(retry.as_deref(), Some("60"), "{refusal}");
                return refusal;
            }
            Err(other) => panic!("a report was refused otherwise: {other:?}"),
        }
    }
    panic!("500 reports were taken on a disk that takes no writes")
}

/// Posts one report until it is taken, within `patience`; the time it took.
async fn post_until_taken(
    client: &reqwest::Client,
    url: &str,
    next: &mut usize,
    rng: &mut StdRng,
    accepted: &mut Vec<(String, String)>,
    patience: Duration,
) -> Duration {
    let started = Instant::now();
    let body = report(*next, rng);
    *next += 1;
    let key = format!("disk-{next}");
    loop {
        match post_once(client, url, &body, &key).await {
            Ok(id) => {
                accepted.push((id, body["email"].as_str().unwrap().to_string()));
                return started.elapsed();
            }
            Err((503, _, _)) if started.elapsed() < patience => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(other) => panic!("the report was not taken in {patience:?}: {other:?}"),
        }
    }
}

fn dead_letters(data: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(
        data.join("queues.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
    .query_row(
        "SELECT count(*) FROM queue_messages WHERE queue LIKE '%-dlq'",
        [],
        |row| row.get(0),
    )
    .unwrap()
}

/// The disk-full proof: reports posted while the chain works, then the data folder's disk filled
/// to the last byte and held full for longer than the messages' receives would last (four
/// receives, 2 s apart), then freed. While it takes no writes every new report is refused with a 503 that says why and asks the
/// client to wait; afterwards the runner takes reports again by itself, every report it took is
/// routed once and acknowledged once, and no message went to a dead-letter queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_new_reports_and_loses_none_it_took() {
    let mut scratch = tempfile::tempdir().unwrap();
    if std::env::var_os("CITYFIX_CRASH_KEEP").is_some() {
        scratch.disable_cleanup(true);
        eprintln!("log and snapshot kept: {}", scratch.path().display());
    }
    let disk = SmallDisk::start(scratch.path());
    let url = disk.server.url.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // given clients posting reports, and the disk filled under them while the chain still
    // works on the reports taken
    let storm = Arc::new(Mutex::new(Vec::new()));
    let numbers = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|n| {
            let (client, url, storm, numbers) =
                (client.clone(), url.clone(), storm.clone(), numbers.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(n);
                loop {
                    let n = numbers.fetch_add(1, Ordering::SeqCst);
                    let body = report(n, &mut rng);
                    match post_once(&client, &url, &body, &format!("disk-{n}")).await {
                        Ok(id) => storm
                            .lock()
                            .unwrap()
                            .push((id, body["email"].as_str().unwrap().to_string())),
                        Err((503, retry, refusal)) => {
                            assert_eq!(retry.as_deref(), Some("60"), "{refusal}");
                            return refusal;
                        }
                        Err(other) => panic!("a report was refused otherwise: {other:?}"),
                    }
                }
            })
        })
        .collect();
    while storm.lock().unwrap().len() < 150 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let taken_before_full = storm.lock().unwrap().len();
    disk.fill();
    let mut refusals = Vec::new();
    for client in clients {
        refusals.push(client.await.unwrap());
    }
    let mut accepted = storm.lock().unwrap().clone();
    let mut next = numbers.load(Ordering::SeqCst);
    let mut rng = StdRng::seed_from_u64(99);

    // then new reports are refused with the reason, and what was taken can still be read
    let refusal = &refusals[0];
    assert!(
        refusals
            .iter()
            .all(|r| r["error"]["code"] == "storage_full"),
        "{refusals:?}"
    );
    let said = refusal["error"]["message"].as_str().unwrap();
    assert!(
        said.contains("nothing was saved") && said.contains("full"),
        "{said}"
    );
    let read = client
        .get(format!("{url}/api/v1/requests/{}", accepted[0].0))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "reads go on while the disk is full");
    let taken_while_full = accepted.len() - taken_before_full;
    tokio::time::sleep(Duration::from_secs(12)).await;
    post_until_refused(&client, &url, &mut next, &mut rng, &mut accepted).await;

    // when the disk has room again, reports are taken by themselves
    disk.free();
    let resumed_in = post_until_taken(
        &client,
        &url,
        &mut next,
        &mut rng,
        &mut accepted,
        Duration::from_secs(10),
    )
    .await;

    for _ in 0..10 {
        post_until_taken(
            &client,
            &url,
            &mut next,
            &mut rng,
            &mut accepted,
            Duration::ZERO,
        )
        .await;
    }

    // then every report taken is routed once and acknowledged once, none dead-lettered
    let waited = Instant::now();
    let mut found = outcome(&disk.snapshot(), &accepted);
    while !found.settled() && waited.elapsed() < Duration::from_secs(100) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        found = outcome(&disk.snapshot(), &accepted);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let found = outcome(&disk.snapshot(), &accepted);
    let dead = dead_letters(&disk.snapshot());
    let log = std::fs::read_to_string(&disk.log).unwrap_or_default();
    println!(
        "disk proof: {} reports taken ({taken_while_full} of them after the disk was filled, \
         before the first refusal), {} refused; taken again {resumed_in:?} after the disk was \
         freed; settled {:.1} s after; lost {}, left \
         submitted {}, routed other than once {}, acknowledged other than once {}, dead letters {dead}",
        accepted.len(),
        next - accepted.len(),
        waited.elapsed().as_secs_f64(),
        found.missing.len(),
        found.still_submitted.len(),
        found.routed_not_once.len(),
        found.mailed_not_once.len(),
    );
    println!(
        "disk proof: the runner's log has {} lines",
        log.lines().count()
    );
    assert!(found.missing.is_empty(), "lost: {:?}", found.missing);
    assert!(
        found.still_submitted.is_empty(),
        "never routed: {:?}",
        found.still_submitted
    );
    assert!(
        found.routed_not_once.is_empty(),
        "routed other than once: {:?}",
        found.routed_not_once
    );
    assert!(
        found.mailed_not_once.is_empty(),
        "acknowledged other than once: {:?}",
        found.mailed_not_once
    );
    assert_eq!(
        dead, 0,
        "no message spent its receives while the disk was full"
    );
    assert!(
        log.contains("the data folder takes no writes") && log.contains("takes writes again"),
        "the operator's log says when writes stopped and when they came back"
    );
}
