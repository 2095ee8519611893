//! Unit tests of the journal: the file and memory backends (the ConfigMap backend is tested
//! against the practice cluster in `tests/all/journal.rs`).

use std::path::Path;

use super::*;

const RUN: &str = "20250102-030405-a1b2";

fn record(run_id: &str) -> RunRecord {
    let mut r = RunRecord::new(
        run_id.to_owned(),
        "recycle",
        RunbookRef {
            name: "bundled".into(),
            sha256: "ab".repeat(32),
            path: None,
        },
        "tester@host pid 1".into(),
    );
    r.nodes = vec!["10.0.0.1".into(), "10.0.0.2".into()];
    r.settings = serde_json::json!({"drainTimeout": "10m"});
    r
}

fn file_backend(dir: &Path) -> JournalBackend {
    JournalBackend::File {
        dir: dir.to_owned(),
    }
}

fn journal_path(dir: &Path, run_id: &str) -> std::path::PathBuf {
    dir.join("runs").join(run_id).join("journal.json")
}

fn write_document(dir: &Path, run_id: &str, text: &str) {
    let path = journal_path(dir, run_id);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[tokio::test]
async fn file_round_trip_survives_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    let mut j = Journal::create(&backend, record(RUN))
        .await
        .expect("create");
    j.put("node/10.0.0.1/instance", "ins-1").await.expect("put");
    j.put("node/10.0.0.1/phase", "removed").await.expect("put");
    j.set_status(RunStatus::Stopped {
        reason: "operator".into(),
    })
    .await
    .expect("status");
    j.set_holder("other@host pid 2").await.expect("holder");

    let again = Journal::open(&backend, RUN).await.expect("open");
    assert_eq!(again.get("node/10.0.0.1/instance"), Some("ins-1"));
    assert_eq!(again.get("node/10.0.0.1/phase"), Some("removed"));
    assert_eq!(again.get("absent"), None);
    assert_eq!(again.entries(), j.entries());
    assert_eq!(again.run(), j.run());
    assert_eq!(
        again.run().status,
        RunStatus::Stopped {
            reason: "operator".into()
        }
    );
    assert_eq!(again.run().holder, "other@host pid 2");
    assert_eq!(again.run().nodes, ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(
        again.location(),
        journal_path(tmp.path(), RUN).display().to_string()
    );
}

#[tokio::test]
async fn journal_writes_counts_every_durable_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    let before = failpoint::journal_writes();
    let mut j = Journal::create(&backend, record(RUN))
        .await
        .expect("create");
    assert_eq!(j.run().journal_writes, 1);
    j.put("a", "1").await.expect("put");
    j.set_status(RunStatus::Done).await.expect("status");
    j.remove("a").await.expect("remove");
    assert_eq!(j.run().journal_writes, 4);
    assert_eq!(
        Journal::open(&backend, RUN)
            .await
            .expect("open")
            .run()
            .journal_writes,
        4
    );
    // The process-wide counter saw them too (other tests may add to it concurrently).
    assert!(failpoint::journal_writes() >= before + 4);
}

#[tokio::test]
async fn document_has_the_documented_shape() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::create(&file_backend(tmp.path()), record(RUN))
        .await
        .expect("create");
    j.put("k", "v").await.expect("put");
    j.set_status(RunStatus::Failed {
        reason: "boom".into(),
    })
    .await
    .expect("status");
    let text = std::fs::read_to_string(journal_path(tmp.path(), RUN)).expect("read");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["format"], 1);
    assert_eq!(v["entries"]["k"], "v");
    assert_eq!(v["run"]["run_id"], RUN);
    assert_eq!(v["run"]["mode"], "recycle");
    assert_eq!(
        v["run"]["status"],
        serde_json::json!({"state": "failed", "reason": "boom"})
    );
    assert_eq!(v["run"]["runbook"]["name"], "bundled");
    assert_eq!(v["run"]["journal_writes"], 3);
    assert!(
        v["run"]["updated_at"]
            .as_str()
            .expect("updated_at")
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
}

#[tokio::test]
async fn atomic_write_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::create(&file_backend(tmp.path()), record(RUN))
        .await
        .expect("create");
    for i in 0..5 {
        j.put(&format!("k{i}"), "v").await.expect("put");
    }
    let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("runs").join(RUN))
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["journal.json"]);
}

#[tokio::test]
async fn failed_write_leaves_the_journal_as_stored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = Journal::create(&file_backend(tmp.path()), record(RUN))
        .await
        .expect("create");
    j.put("kept", "1").await.expect("put");
    // The run directory vanishes: the next write cannot create its temporary file.
    std::fs::remove_dir_all(tmp.path().join("runs").join(RUN)).expect("rm");
    let e = j.put("lost", "2").await.expect_err("write must fail");
    assert!(matches!(e, JournalError::Write { .. }), "{e:?}");
    assert!(e.to_string().contains(&j.location()), "{e}");
    assert_eq!(j.get("lost"), None);
    assert_eq!(j.get("kept"), Some("1"));
    assert_eq!(j.run().journal_writes, 2);
}

#[tokio::test]
async fn create_refuses_an_existing_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    Journal::create(&backend, record(RUN))
        .await
        .expect("create");
    let e = Journal::create(&backend, record(RUN))
        .await
        .expect_err("second create");
    assert!(matches!(e, JournalError::AlreadyExists { .. }), "{e:?}");
    assert!(e.to_string().contains(RUN), "{e}");
}

#[tokio::test]
async fn create_reuses_an_empty_run_directory() {
    // A crash between mkdir and the first write leaves an empty directory behind.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("runs").join(RUN)).expect("mkdir");
    Journal::create(&file_backend(tmp.path()), record(RUN))
        .await
        .expect("create over an empty directory");
}

#[tokio::test]
async fn missing_journal_is_not_found_naming_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = Journal::open(&file_backend(tmp.path()), RUN)
        .await
        .expect_err("absent");
    assert!(matches!(e, JournalError::NotFound { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(RUN), "{text}");
    assert!(
        text.contains(&journal_path(tmp.path(), RUN).display().to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn newer_format_is_refused_with_upgrade_advice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_document(
        tmp.path(),
        RUN,
        &format!(r#"{{"format": 2, "run": {{"run_id": "{RUN}", "shape": "new"}}, "things": []}}"#),
    );
    let e = Journal::open(&file_backend(tmp.path()), RUN)
        .await
        .expect_err("newer");
    assert!(
        matches!(
            e,
            JournalError::NewerFormat {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "journal of run {RUN} has format 2, this tke-recycle understands up to 1; use a newer tke-recycle to resume it"
        )
    );
}

#[tokio::test]
async fn corrupt_documents_are_refused_naming_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    let location = journal_path(tmp.path(), RUN).display().to_string();
    let other = "20250102-030405-ffff";
    let cases = [
        ("{\"format\": 1, \"run\": ", "not valid JSON"),
        ("[1, 2]", "no \"format\""),
        ("{\"format\": 0}", "format 0"),
        ("{\"format\": 1, \"run\": {}}", "not a valid format 1"),
        (
            &*serde_json::to_string(&Document {
                format: 1,
                run: record(other),
                entries: BTreeMap::new(),
            })
            .expect("json"),
            "belongs to run 20250102-030405-ffff",
        ),
    ];
    for (text, expected) in cases {
        write_document(tmp.path(), RUN, text);
        let e = Journal::open(&backend, RUN).await.expect_err(text);
        assert!(matches!(e, JournalError::Corrupt { .. }), "{text}: {e:?}");
        let message = e.to_string();
        assert!(message.contains(&location), "{message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[tokio::test]
async fn limits_on_key_value_and_document() {
    let mut j = Journal::create(&JournalBackend::Memory, record(RUN))
        .await
        .expect("create");
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    let e = j.put(&long_key, "v").await.expect_err("long key");
    assert!(
        matches!(
            e,
            JournalError::TooLarge {
                what: "the key",
                limit: MAX_KEY_BYTES,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("256"), "{e}");
    j.put(&"k".repeat(MAX_KEY_BYTES), "v")
        .await
        .expect("key at the limit");

    let big = "v".repeat(MAX_VALUE_BYTES + 1);
    let e = j.put("big", &big).await.expect_err("big value");
    let message = e.to_string();
    assert!(message.contains("key big"), "{message}");
    assert!(message.contains(&MAX_VALUE_BYTES.to_string()), "{message}");
    j.put("at-limit", &"v".repeat(MAX_VALUE_BYTES))
        .await
        .expect("value at the limit");

    // Values at the limit until the document is full.
    let value = "x".repeat(MAX_VALUE_BYTES);
    let mut refused = None;
    for i in 0..20 {
        if let Err(e) = j.put(&format!("fill/{i:02}"), &value).await {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("the document limit is reached within 20 values");
    assert!(
        matches!(
            e,
            JournalError::TooLarge {
                what: "the whole document",
                limit: MAX_DOCUMENT_BYTES,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(&format!("key fill/{i:02}")), "{e}");
    assert!(e.to_string().contains("921600"), "{e}");
    assert_eq!(
        j.get(&format!("fill/{i:02}")),
        None,
        "a refused put is not kept"
    );
}

#[tokio::test]
async fn keys_by_prefix_are_sorted() {
    let mut j = Journal::create(&JournalBackend::Memory, record(RUN))
        .await
        .expect("create");
    for key in [
        "node/b", "node/a", "nodes", "node/c/x", "nod", "pdb/a", "node/",
    ] {
        j.put(key, "1").await.expect("put");
    }
    assert_eq!(j.keys("node/"), ["node/", "node/a", "node/b", "node/c/x"]);
    assert_eq!(
        j.keys("node"),
        ["node/", "node/a", "node/b", "node/c/x", "nodes"]
    );
    assert_eq!(j.keys("zzz"), Vec::<String>::new());
    assert_eq!(j.keys("").len(), 7);
}

#[tokio::test]
async fn removing_an_absent_key_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    let mut j = Journal::create(&backend, record(RUN))
        .await
        .expect("create");
    j.put("a", "1").await.expect("put");
    let writes = j.run().journal_writes;
    let modified = std::fs::metadata(journal_path(tmp.path(), RUN))
        .expect("stat")
        .modified()
        .expect("mtime");
    j.remove("absent").await.expect("remove absent");
    assert_eq!(j.run().journal_writes, writes);
    assert_eq!(
        std::fs::metadata(journal_path(tmp.path(), RUN))
            .expect("stat")
            .modified()
            .expect("mtime"),
        modified
    );
    j.remove("a").await.expect("remove");
    assert_eq!(j.run().journal_writes, writes + 1);
    assert_eq!(
        Journal::open(&backend, RUN).await.expect("open").get("a"),
        None
    );
}

#[tokio::test]
async fn step_sequence_continues_after_reopen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    let mut j = Journal::create(&backend, record(RUN))
        .await
        .expect("create");
    assert_eq!(
        j.record_step("cordon", "node/10.0.0.1", StepPhase::Begin)
            .await
            .expect("step"),
        1
    );
    assert_eq!(
        j.record_step(
            "cordon",
            "node/10.0.0.1",
            StepPhase::End {
                outcome: "ok".into()
            }
        )
        .await
        .expect("step"),
        2
    );
    assert_eq!(
        j.keys(STEP_PREFIX),
        ["host/step/000001", "host/step/000002"]
    );

    let mut again = Journal::open(&backend, RUN).await.expect("open");
    assert_eq!(
        again
            .record_step("remove-instance", "ins-1", StepPhase::Begin)
            .await
            .expect("step"),
        3
    );
    let steps = again.host_steps();
    let summary: Vec<(u64, &str, &str, &StepPhase)> = steps
        .iter()
        .map(|s| (s.seq, s.op.as_str(), s.subject.as_str(), &s.phase))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "cordon", "node/10.0.0.1", &StepPhase::Begin),
            (
                2,
                "cordon",
                "node/10.0.0.1",
                &StepPhase::End {
                    outcome: "ok".into()
                }
            ),
            (3, "remove-instance", "ins-1", &StepPhase::Begin),
        ]
    );
    assert!(
        steps
            .iter()
            .all(|s| s.at.parse::<jiff::Timestamp>().is_ok())
    );
    let stored: serde_json::Value =
        serde_json::from_str(again.get("host/step/000002").expect("end record")).expect("json");
    assert_eq!(stored["op"], "cordon");
    assert_eq!(stored["phase"], "end");
    assert_eq!(stored["outcome"], "ok");
}

#[tokio::test]
async fn unreadable_step_records_are_skipped() {
    let mut j = Journal::create(&JournalBackend::Memory, record(RUN))
        .await
        .expect("create");
    j.record_step("cordon", "n1", StepPhase::Begin)
        .await
        .expect("step");
    j.put("host/step/000002", "garbage").await.expect("put");
    j.put("host/step/notanumber", "{}").await.expect("put");
    assert_eq!(j.host_steps().len(), 1);
    // Numbering continues after the highest number present, parsable or not.
    assert_eq!(
        j.record_step("cordon", "n1", StepPhase::Begin)
            .await
            .expect("step"),
        3
    );
}

#[test]
fn run_ids_are_generated_and_validated() {
    let at: jiff::Timestamp = "2025-01-02T03:04:05.678Z".parse().expect("timestamp");
    let id = new_run_id(at);
    assert!(id.starts_with("20250102-030405-"), "{id}");
    validate_run_id(&id).expect("generated ids are valid");
    // A ConfigMap name is a DNS subdomain: lowercase alphanumerics and '-', at most 253.
    let name = configmap_name(&id);
    assert!(
        name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "{name}"
    );
    let ids: std::collections::BTreeSet<String> = (0..50).map(|_| new_run_id(at)).collect();
    assert!(ids.len() > 1, "the suffix is random");

    validate_run_id("20250102-030405-a1b2").expect("valid");
    for bad in [
        "",
        "../x",
        "20250102-030405-A1B2",
        "20250102-030405-a1b",
        "20250102-030405-a1b2c",
        "20250102_030405-a1b2",
        "2025010-0304055-a1b2",
        "20250102-030405-g1b2",
        "20250102-030405-a1b2/..",
        "x0250102-030405-a1b2",
    ] {
        let e = validate_run_id(bad).expect_err(bad);
        assert!(
            e.to_string().contains("expected YYYYMMDD-HHMMSS-xxxx"),
            "{bad}: {e}"
        );
    }
}

#[tokio::test]
async fn invalid_run_ids_never_reach_the_filesystem() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    let e = Journal::open(&backend, "../x").await.expect_err("open");
    assert!(matches!(e, JournalError::InvalidRunId { .. }), "{e:?}");
    let e = Journal::create(&backend, record("../../etc"))
        .await
        .expect_err("create");
    assert!(matches!(e, JournalError::InvalidRunId { .. }), "{e:?}");
    assert_eq!(std::fs::read_dir(tmp.path()).expect("read_dir").count(), 0);
}

#[tokio::test]
async fn list_is_sorted_and_skips_garbage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let backend = file_backend(tmp.path());
    assert!(
        Journal::list(&backend)
            .await
            .expect("no runs dir")
            .is_empty(),
        "a missing runs directory is no runs"
    );
    let (old, mid, new) = (
        "20250101-000000-0001",
        "20250102-000000-0002",
        "20250103-000000-0003",
    );
    for (id, at) in [
        (new, "2025-01-03T00:00:00Z"),
        (old, "2025-01-01T00:00:00Z"),
        // Fractional seconds must not upset the order (string order would).
        (mid, "2025-01-02T00:00:00.5Z"),
    ] {
        let mut r = record(id);
        r.created_at = at.into();
        Journal::create(&backend, r).await.expect("create");
    }
    let runs = tmp.path().join("runs");
    // Garbage: a corrupt journal, a directory without one, a stray file, a bad name, a newer
    // format.
    std::fs::create_dir_all(runs.join("20250104-000000-0004")).expect("mkdir");
    std::fs::write(runs.join("20250104-000000-0004/journal.json"), "{").expect("write");
    std::fs::create_dir_all(runs.join("20250105-000000-0005")).expect("mkdir");
    std::fs::write(runs.join("notes.txt"), "hello").expect("write");
    std::fs::create_dir_all(runs.join("not-a-run")).expect("mkdir");
    std::fs::write(runs.join("not-a-run/journal.json"), "{}").expect("write");
    write_document(
        tmp.path(),
        "20250106-000000-0006",
        r#"{"format": 9, "run": {}}"#,
    );

    let listed: Vec<String> = Journal::list(&backend)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(listed, [old, mid, new]);

    let latest = Journal::latest(&backend, |r| r.run_id != new)
        .await
        .expect("latest")
        .expect("one");
    assert_eq!(latest.run_id, mid);
}

#[tokio::test]
async fn memory_backend_keeps_nothing() {
    let mut j = Journal::create(&JournalBackend::Memory, record(RUN))
        .await
        .expect("create");
    j.put("a", "1").await.expect("put");
    assert_eq!(j.get("a"), Some("1"));
    assert_eq!(j.run().journal_writes, 2);
    assert!(j.location().contains("memory"), "{}", j.location());
    assert!(
        Journal::list(&JournalBackend::Memory)
            .await
            .expect("list")
            .is_empty()
    );
    let e = Journal::open(&JournalBackend::Memory, RUN)
        .await
        .expect_err("nothing to open");
    assert!(matches!(e, JournalError::NotFound { .. }), "{e:?}");
}

#[test]
fn state_dir_precedence() {
    let flag = Path::new("/flag");
    let env = Some(std::path::PathBuf::from("/env"));
    let platform = Some(std::path::PathBuf::from("/home/u/.local/state"));
    let home = Some(std::path::PathBuf::from("/home/u"));
    assert_eq!(
        choose_state_dir(Some(flag), env.clone(), platform.clone(), home.clone()),
        Some("/flag".into())
    );
    assert_eq!(
        choose_state_dir(None, env, platform.clone(), home.clone()),
        Some("/env".into())
    );
    assert_eq!(
        choose_state_dir(None, Some("".into()), platform.clone(), home.clone()),
        Some("/home/u/.local/state/tke-recycle".into()),
        "an empty variable is unset"
    );
    assert_eq!(
        choose_state_dir(None, None, None, home),
        Some("/home/u/.local/state/tke-recycle".into())
    );
    assert_eq!(choose_state_dir(None, None, None, None), None);
}

#[test]
fn status_reads_as_text() {
    assert_eq!(RunStatus::Running.to_string(), "running");
    assert_eq!(
        RunStatus::Stopped {
            reason: "signal".into()
        }
        .to_string(),
        "stopped: signal"
    );
    assert_eq!(RunStatus::Done.to_string(), "done");
}
