//! What `processor local` says while it works: per-line reports capped (as replay caps its
//! own), and on a terminal a progress bar with events and events/s.

use super::*;

#[test]
fn quarantined_lines_are_reported_one_by_one_up_to_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..130).map(|i| format!("{{\"bad\": {i}")).collect();
    lines.push(connected("a", "s1", 1, 1_000));
    let input = write_input(tmp.path(), &lines.join("\n"));
    let run = run_on(tmp.path(), &input, &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let err = run.stderr();
    let shown = err
        .lines()
        .filter(|l| l.contains(": quarantined: "))
        .count();
    assert_eq!(shown, 100, "{err}");
    assert!(
        err.contains("\n30 more quarantined lines were not shown one by one\n"),
        "{err}"
    );
    assert!(err.contains("130 quarantined"), "{err}");
}

#[test]
fn a_terminal_sees_a_progress_bar_with_events_per_second() {
    let tmp = tempfile::tempdir().unwrap();
    // Enough events that the bar, redrawn at most 20 times a second, is drawn while folding.
    let lines: Vec<String> = (0..150_000u64)
        .map(|i| connected(&format!("c{}", i % 5_000), &format!("s{i}"), i, 1_000 + i))
        .collect();
    let input = write_input(tmp.path(), &lines.join("\n"));
    let store = tmp.path().join("data");
    // `script` gives the process a terminal; its deliveries go to /dev/null, its stderr to the
    // terminal, which `script` copies to its stdout.
    let command = format!(
        "'{BIN}' local --input '{}' --store '{}' > /dev/null",
        input.display(),
        store.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) gives the process a terminal");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains(" events/s"), "no progress bar: {screen}");
    assert!(screen.contains("150000 events in"), "no summary: {screen}");
}
