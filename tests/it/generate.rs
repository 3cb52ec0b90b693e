//! `tnet` without a subcommand and without `--generate-only`: the flags
//! generate a task file, which is submitted like `tnet run`.

use tnet_proto::task::parse_task;
use tnet_tests::Host;

#[test]
fn flags_generate_a_task_and_submit_it() {
    let host = Host::start("gen");
    let dir = tempfile::tempdir().expect("client dir");
    let data = dir.path().join("data.txt");
    std::fs::write(&data, "sent along").expect("write");
    let file = dir.path().join("habittask.toml");
    let file_arg = file.to_str().expect("utf8");
    let data_arg = data.to_str().expect("utf8");

    // Submitting as is needs what a placeholder would stand for: nothing is written or sent.
    let out = host.tnet(&[
        "--type=habit",
        "--name=generated",
        "--run=cat data.txt",
        "-o",
        file_arg,
    ]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("--every"), "{out:?}");
    assert!(!file.exists());

    let out = host
        .tnet(&[
            "--type=habit",
            "--name=generated",
            "--run=cat data.txt",
            "--every=1s",
            "--files",
            data_arg,
            "-o",
            file_arg,
        ])
        .ok();
    assert!(out.stdout.contains("gen/generated"), "{out:?}");
    let text = std::fs::read_to_string(&file).expect("the file was written");
    let spec = parse_task("habittask.toml", &text).expect("valid");
    assert_eq!(spec.necessary_files, [data_arg]);
    let task = host
        .tasks()
        .into_iter()
        .find(|t| t["name"] == "generated")
        .expect("the host has the task");
    assert_eq!(task["type"], "habit");
}
