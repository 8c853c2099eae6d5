//! The history of runs: every kind of run is recorded with its receipt, `logs` lists, filters,
//! shows and deletes, chats resume, and history problems never fail an answer.

use serde_json::Value;

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, DEFAULT_TEXT, FakeUpstream, Reply};

fn setup() -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    env.write_config(&format!(
        r#"[defaults]
model = "m1"
max_retries = 0
connect_timeout_secs = 1.0
total_timeout_secs = 10.0

[providers.fake]
kind = "openai"
base_url = "{url}"
needs_key = false

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"
price_in = 1.0
price_out = 2.0

[[models]]
name = "m2"
provider = "fake"
upstream = "fake-model-large"
"#,
        url = up.base_url()
    ));
    (env, up)
}

fn logs(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["logs", "--json"];
    all.extend_from_slice(args);
    env.run("llm-cooperation", &all)
        .expect(0)
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// A run whose answer called tools (and reasoned) keeps those blocks: `logs show` prints
/// the reasoning and each call with its arguments, and `--json` has them in the receipt.
#[test]
fn logs_show_prints_the_tool_calls_and_reasoning_of_an_answer() {
    let (env, up) = setup();
    up.push([Behavior::Reply(
        Reply::new()
            .with_thinking("The user wants the weather.", "sig-1")
            .with_text("Checking.")
            .with_tool_call("call_w1", "get_weather", r#"{"city": "Paris"}"#)
            .with_finish("tool_calls"),
    )]);
    env.run("llm-cooperation", &["query", "weather in Paris?"])
        .expect(0);
    let id = logs(&env, &[])[0]["id"].as_i64().unwrap().to_string();
    let text = env
        .run("llm-cooperation", &["logs", "show", &id])
        .expect(0)
        .stdout;
    assert!(
        text.contains("reasoning:\nThe user wants the weather."),
        "{text}"
    );
    assert!(
        text.contains("tool calls:\n  get_weather({\"city\":\"Paris\"})  [call_w1]"),
        "{text}"
    );
    let shown = env
        .run("llm-cooperation", &["logs", "show", &id, "--json"])
        .expect(0)
        .json();
    let content = &shown["receipt"]["content"];
    assert!(
        content
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["type"] == "tool_use" && p["input"]["city"] == "Paris"),
        "{shown}"
    );
}

#[test]
fn queries_are_recorded_with_receipts_and_logs_filter_show_and_remove() {
    let (env, up) = setup();
    env.run("llm-cooperation", &["query", "what is rust"])
        .expect(0);
    env.run(
        "llm-cooperation",
        &["query", "-m", "m2", "tell me about 100% cotton"],
    )
    .expect(0);
    up.push([Behavior::status(500)]);
    env.run("llm-cooperation", &["query", "this one fails"])
        .expect(1);
    env.run("llm-cooperation", &["--no-log", "query", "not recorded"])
        .expect(0);
    // After the command too, where the commands that record runs offer it.
    env.run(
        "llm-cooperation",
        &["query", "--no-log", "not recorded either"],
    )
    .expect(0);

    let all = logs(&env, &[]);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all[0]["status"], "failed");
    assert!(all[0]["error"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(all[1]["model"], "m2");
    let first = &all[2];
    assert_eq!(first["kind"], "query");
    assert_eq!(first["prompt"], "what is rust");
    assert_eq!(first["response"], DEFAULT_TEXT);
    assert!(first["input_tokens"].as_u64().unwrap() > 0);
    assert!(first["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(first["receipt"]["attempts"][0]["provider"], "fake");
    assert_eq!(first["receipt"]["decision"]["strategy"], "explicit");

    assert_eq!(logs(&env, &["--model", "m2"]).len(), 1);
    assert_eq!(logs(&env, &["-q", "100%"]).len(), 1);
    assert_eq!(logs(&env, &["-n", "1"]).len(), 1);
    let id = first["id"].as_i64().unwrap().to_string();
    let shown = env
        .run("llm-cooperation", &["logs", "show", &id, "--json"])
        .expect(0)
        .json();
    assert_eq!(shown["prompt"], "what is rust");
    let text = env
        .run("llm-cooperation", &["logs", "show", &id])
        .expect(0)
        .stdout;
    assert!(
        text.contains("what is rust") && text.contains("receipt:"),
        "{text}"
    );
    let table = env.run("llm-cooperation", &["logs"]).expect(0).stdout;
    assert!(
        table.contains("what is rust") && table.contains("failed"),
        "{table}"
    );
    env.run("llm-cooperation", &["logs", "rm", &id]).expect(0);
    assert_eq!(logs(&env, &[]).len(), 2);
    let run = env.run("llm-cooperation", &["logs", "show", &id]).expect(2);
    assert!(
        run.stderr.contains(&format!("No run {id}")),
        "{}",
        run.stderr
    );
    env.run("llm-cooperation", &["logs", "rm", "--all"])
        .expect(0);
    assert!(logs(&env, &[]).is_empty());
}

#[test]
fn a_chat_is_recorded_per_turn_and_resumes() {
    let (env, up) = setup();
    up.push([Behavior::ok("Hi Ada."), Behavior::ok("You are Ada.")]);
    let run = env
        .run_stdin(
            "llm-cooperation",
            &["chat"],
            "I am Ada.\n/model m2\nWho am I?\n",
        )
        .expect(0);
    assert_eq!(run.stdout, "Hi Ada.\nYou are Ada.\n");
    assert_eq!(
        up.last().body["model"],
        "fake-model-large",
        "/model switched"
    );
    assert_eq!(up.last().body["messages"].as_array().unwrap().len(), 3);

    let turns = logs(&env, &["--kind", "chat"]);
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0]["session"], turns[1]["session"]);
    // --continue resumes the last session: the model sees both earlier turns.
    env.run_stdin("llm-cooperation", &["chat", "--continue"], "And again?\n")
        .expect(0);
    let sent: Vec<String> = up.last().body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        [
            "I am Ada.",
            "Hi Ada.",
            "Who am I?",
            "You are Ada.",
            "And again?"
        ]
    );
    // A named session, a multi-line block, continuation lines and /clear.
    env.run_stdin(
        "llm-cooperation",
        &["chat", "--session", "work"],
        "\"\"\"\nline one\nline two\n\"\"\"\nfirst \\\nsecond\n/clear\nfresh\n",
    )
    .expect(0);
    let work = logs(&env, &["--kind", "chat", "-n", "10"]);
    let prompts: Vec<&str> = work
        .iter()
        .take(3)
        .map(|r| r["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, ["fresh", "first \nsecond", "line one\nline two"]);
    assert_eq!(work[1]["session"], "work");
    assert_ne!(work[0]["session"], "work", "/clear starts a new session");
    assert_eq!(up.last().body["messages"].as_array().unwrap().len(), 1);
    // Unknown commands and models are warnings in a chat, not the end of it.
    let run = env
        .run_stdin("llm-cooperation", &["chat"], "/model nope\n/frob\nhi\n")
        .expect(0);
    assert!(
        run.stderr.contains("Unknown model `nope`") && run.stderr.contains("/frob"),
        "{}",
        run.stderr
    );
}

#[test]
fn cooperation_and_service_runs_are_recorded() {
    let (env, up) = setup();
    up.set_default(Behavior::ok("The answer is 4."));
    env.run(
        "llm-cooperation",
        &["cooperate", "--mode", "voting", "--models", "m1,m2", "2+2?"],
    )
    .expect(0);
    env.run_stdin(
        "llm-cooperation",
        &["service", "document-analysis", "--type", "summary"],
        "Rust is a language.",
    )
    .expect(0);
    let coop = logs(&env, &["--kind", "cooperate"]);
    assert_eq!(coop.len(), 1);
    assert_eq!(coop[0]["mode"], "voting");
    assert_eq!(coop[0]["model"], "m1,m2");
    assert!(coop[0]["receipt"]["steps"].as_array().unwrap().len() >= 2);
    assert_eq!(logs(&env, &["--mode", "voting"]).len(), 1);
    let service = logs(&env, &["--kind", "service"]);
    assert_eq!(service.len(), 1);
    assert_eq!(service[0]["mode"], "document-analysis/summary");
    assert!(
        service[0]["receipt"]["facts"].is_object(),
        "{}",
        service[0]["receipt"]
    );
}

#[test]
fn history_problems_are_warnings_and_the_switch_turns_it_off() {
    let (env, _up) = setup();
    let mut text = std::fs::read_to_string(env.config_dir().join("config.toml")).unwrap();
    text.push_str("\n[history]\npath = \"/dev/null/cannot/history.db\"\n");
    env.write_config(&text);
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(0);
    assert_eq!(run.stdout, format!("{DEFAULT_TEXT}\n"));
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("not recorded"),
        "{}",
        run.stderr
    );
    let text = text.replace("path = \"/dev/null/cannot/history.db\"", "enabled = false");
    env.write_config(&text);
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(0);
    assert_eq!(run.stderr, "");
    let text = text.replace("enabled = false", "");
    env.write_config(&text);
    assert!(logs(&env, &[]).is_empty());
}

/// `LLM_COOP_NO_LOG=1`, as the README documents it, failed every command with `invalid
/// value '1' for '--no-log'`: boolean variables take 1/0, true/false, yes/no, on/off, empty.
#[test]
fn no_log_variable_takes_the_usual_boolean_spellings() {
    let (env, _up) = setup();
    for value in ["1", "true", "yes", "ON"] {
        env.run_env(
            "llm-cooperation",
            &["query", "not recorded"],
            &[("LLM_COOP_NO_LOG", value)],
        )
        .expect(0);
    }
    assert!(
        logs(&env, &[]).is_empty(),
        "LLM_COOP_NO_LOG=1 records nothing"
    );
    for value in ["0", "false", "no", "off", ""] {
        env.run_env(
            "llm-cooperation",
            &["query", &format!("recorded with `{value}`")],
            &[("LLM_COOP_NO_LOG", value)],
        )
        .expect(0);
    }
    assert_eq!(logs(&env, &[]).len(), 5);
    let run = env
        .run_env(
            "llm-cooperation",
            &["query", "hi"],
            &[("LLM_COOP_NO_LOG", "maybe")],
        )
        .expect(2);
    assert!(
        run.stderr.contains("`maybe` is not a boolean") && run.stderr.contains("yes/no"),
        "{}",
        run.stderr
    );
}

/// `/mode bogus a,b` said only "Cannot build the cooperation plan": the reason is shown now,
/// and `/mode voting` without models says what is missing.
#[test]
fn chat_mode_errors_say_why() {
    let (env, up) = setup();
    let run = env
        .run_stdin(
            "llm-cooperation",
            &["chat"],
            "/mode bogus m1,m2\n/mode voting\n/mode voting m1,ghost\n",
        )
        .expect(0);
    assert!(
        run.stderr.contains("Unknown mode `bogus`") && run.stderr.contains("voting"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`/mode voting` needs the models too"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`ghost`"), "{}", run.stderr);
    assert_eq!(up.request_count(), 0);
}

/// `logs --mode decision-support` found nothing (runs were stored as
/// `decision-support/default`, the default type as `default`); `logs --kind bogus` silently
/// listed nothing.
#[test]
fn logs_filter_services_by_name_and_type_and_reject_unknown_kinds() {
    let (env, _up) = setup();
    for (service, kind) in [
        ("decision-support", None),
        ("data-insight", Some("anomalies")),
    ] {
        let mut args = vec!["service", service];
        args.extend(kind.map(|k| ["--type", k]).iter().flatten());
        env.run_stdin("llm-cooperation", &args, "A or B? sales: 1, 2, 3, 40")
            .expect(0);
    }
    let decisions = logs(&env, &["--mode", "decision-support"]);
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        decisions[0]["mode"], "decision-support/recommendation",
        "the default type that ran is recorded"
    );
    assert_eq!(
        logs(&env, &["--mode", "decision-support/recommendation"]).len(),
        1
    );
    assert_eq!(logs(&env, &["--mode", "data-insight/anomalies"]).len(), 1);
    assert_eq!(logs(&env, &["--mode", "data"]).len(), 0, "whole names only");
    let run = env
        .run("llm-cooperation", &["logs", "--kind", "bogus"])
        .expect(2);
    assert!(
        run.stderr.contains("bogus") && run.stderr.contains("query, chat, cooperate, service"),
        "{}",
        run.stderr
    );
}

/// `logs rm --all` deleted every run on a terminal without asking. It asks now (answering
/// no keeps them); `--yes` and scripts do not ask. The terminal is `script`'s pseudo-terminal.
#[test]
fn logs_rm_all_asks_on_a_terminal() {
    let (env, _up) = setup();
    env.run("llm-cooperation", &["query", "keep me"]).expect(0);
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped the terminal part: `script` is not installed");
    } else {
        let bin = crate::common::bin("llm-cooperation");
        // `script` runs the binary on a pseudo-terminal, in the test's clean environment.
        let template = env.cmd("llm-cooperation");
        let mut child = std::process::Command::new("script");
        child
            .env_clear()
            .envs(template.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .current_dir(env.cwd.path())
            .args([
                "-qec",
                &format!("{} logs rm --all", bin.display()),
                "/dev/null",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = child.spawn().unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"n\n").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains("Delete every run in the history") && shown.contains("Nothing deleted"),
            "{shown}"
        );
        assert_eq!(logs(&env, &[]).len(), 1, "answering no keeps the runs");
    }
    let run = env
        .run("llm-cooperation", &["logs", "rm", "--all", "--yes"])
        .expect(0);
    assert_eq!(run.stdout, "Removed 1 run\n");
    assert!(logs(&env, &[]).is_empty());
}

/// `--continue` and `--session` used to resume the turns but answer with the default model
/// and no system prompt.
#[test]
fn a_resumed_chat_keeps_its_model_and_system_prompt() {
    let (env, up) = setup();
    let system_of = |body: &Value| -> Option<String> {
        let first = &body["messages"][0];
        (first["role"] == "system").then(|| first["content"].as_str().unwrap().to_owned())
    };
    env.run_stdin(
        "llm-cooperation",
        &["chat", "-m", "m2", "-s", "Be brief."],
        "hi\n",
    )
    .expect(0);
    env.run_stdin("llm-cooperation", &["chat", "--continue"], "again\n")
        .expect(0);
    let body = up.last().body;
    assert_eq!(body["model"], "fake-model-large", "the session's model");
    assert_eq!(system_of(&body).as_deref(), Some("Be brief."));

    // The command line wins over what the session kept; what it does not name is kept.
    env.run_stdin("llm-cooperation", &["chat", "-c", "-m", "m1"], "more\n")
        .expect(0);
    let body = up.last().body;
    assert_eq!(body["model"], "fake-model");
    assert_eq!(system_of(&body).as_deref(), Some("Be brief."));
    // ...and the next resume keeps the new model.
    env.run_stdin("llm-cooperation", &["chat", "-c"], "more\n")
        .expect(0);
    assert_eq!(up.last().body["model"], "fake-model");

    env.run_stdin(
        "llm-cooperation",
        &["chat", "--session", "work", "-s", "Answer in French."],
        "bonjour\n",
    )
    .expect(0);
    env.run_stdin(
        "llm-cooperation",
        &["chat", "--session", "work"],
        "encore\n",
    )
    .expect(0);
    let body = up.last().body;
    assert_eq!(system_of(&body).as_deref(), Some("Answer in French."));
    assert_eq!(
        body["model"], "fake-model",
        "the default model, as in that session"
    );
    assert_eq!(body["messages"].as_array().unwrap().len(), 4);
}

/// `--no-log` used to be offered by every command, `models` and `status` included, which
/// never record anything.
#[test]
fn no_log_is_offered_only_by_commands_that_record_runs() {
    let env = TestEnv::new();
    for (command, offered) in [
        ("query", true),
        ("chat", true),
        ("cooperate", true),
        ("service", true),
        ("models", false),
        ("status", false),
        ("logs", false),
        ("test", false),
    ] {
        let help = env
            .run("llm-cooperation", &[command, "--help"])
            .expect(0)
            .stdout;
        assert_eq!(help.contains("--no-log"), offered, "{command}:\n{help}");
    }
    // A variable that is not a boolean no longer breaks the commands that do not record.
    env.run_env(
        "llm-cooperation",
        &["models", "--json"],
        &[("LLM_COOP_NO_LOG", "maybe")],
    )
    .expect(0);
}

/// The contents of the messages the upstream last received, in order.
fn sent(up: &FakeUpstream) -> Vec<String> {
    up.last().body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn query_continue_sends_the_earlier_exchange_and_joins_it() {
    let (env, up) = setup();
    let nothing = env.run("llm-cooperation", &["query", "-c", "hi"]).expect(2);
    assert!(
        nothing.stderr.contains("No conversation to continue"),
        "{}",
        nothing.stderr
    );
    up.push([
        Behavior::ok("Hi Ada."),
        Behavior::ok("You are Ada."),
        Behavior::ok("Still Ada."),
    ]);
    env.run(
        "llm-cooperation",
        &["query", "-m", "m2", "-s", "Be brief.", "I am Ada."],
    )
    .expect(0);
    env.run("llm-cooperation", &["query", "--continue", "Who am I?"])
        .expect(0);
    let body = up.last().body;
    assert_eq!(
        sent(&up),
        ["Be brief.", "I am Ada.", "Hi Ada.", "Who am I?"],
        "the first exchange, with its system prompt, goes before the new prompt"
    );
    assert_eq!(body["model"], "fake-model-large", "the model it used");
    // The third continues all of it: the first query joined the session.
    env.run("llm-cooperation", &["query", "-c", "Sure?"])
        .expect(0);
    assert_eq!(
        sent(&up),
        [
            "Be brief.",
            "I am Ada.",
            "Hi Ada.",
            "Who am I?",
            "You are Ada.",
            "Sure?"
        ]
    );
    let runs = logs(&env, &["--kind", "query"]);
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["session"] == runs[0]["session"]));
    let session = runs[0]["session"].as_str().unwrap().to_owned();

    // `--session` picks a conversation, a chat's too.
    env.run_stdin("llm-cooperation", &["chat", "--session", "work"], "hello\n")
        .expect(0);
    env.run("llm-cooperation", &["query", "--session", "work", "and?"])
        .expect(0);
    assert_eq!(sent(&up), ["hello", DEFAULT_TEXT, "and?"]);
    env.run("llm-cooperation", &["query", "--session", &session, "last"])
        .expect(0);
    assert_eq!(sent(&up).len(), 8);
    let unknown = env
        .run("llm-cooperation", &["query", "--session", "nope", "x"])
        .expect(2);
    assert!(unknown.stderr.contains("`nope`"), "{}", unknown.stderr);
}

#[test]
fn logs_list_sessions_and_filter_runs_by_session() {
    let (env, _up) = setup();
    let none = env.run("llm-cooperation", &["logs", "sessions"]).expect(0);
    assert!(none.stdout.contains("No conversations"), "{}", none.stdout);
    env.run_stdin(
        "llm-cooperation",
        &["chat", "--session", "work"],
        "one\ntwo\n",
    )
    .expect(0);
    env.run("llm-cooperation", &["query", "lone"]).expect(0);
    env.run_stdin("llm-cooperation", &["chat", "--session", "play"], "three\n")
        .expect(0);

    let sessions = env
        .run("llm-cooperation", &["logs", "sessions", "--json"])
        .expect(0)
        .json();
    let sessions = sessions.as_array().unwrap();
    let names: Vec<&str> = sessions
        .iter()
        .map(|s| s["session"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["play", "work"],
        "most recent first; a lone query is none"
    );
    assert_eq!(sessions[1]["runs"], 2);
    assert_eq!(sessions[1]["first_prompt"], "one");
    assert_eq!(sessions[1]["model"], "m1");
    let table = env.run("llm-cooperation", &["logs", "sessions"]).expect(0);
    assert!(table.stdout.contains("work") && table.stdout.contains("play"));

    let work = logs(&env, &["--session", "work"]);
    let prompts: Vec<&str> = work.iter().map(|r| r["prompt"].as_str().unwrap()).collect();
    assert_eq!(prompts, ["two", "one"]);
}

#[test]
fn chat_attachments_go_with_the_first_message() {
    let (env, up) = setup();
    let notes = env.config_dir().join("notes.txt");
    std::fs::write(&notes, "the notes").unwrap();
    let gif = env.config_dir().join("x.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00").unwrap();
    env.run_stdin(
        "llm-cooperation",
        &[
            "chat",
            "-a",
            notes.to_str().unwrap(),
            "--attach",
            gif.to_str().unwrap(),
        ],
        "Read this\nAnd?\n",
    )
    .expect(0);
    let requests = up.requests();
    let first = &requests[requests.len() - 2].body["messages"][0]["content"];
    let text = first[0]["text"].as_str().unwrap();
    assert!(
        text.contains("the notes") && text.ends_with("Read this"),
        "{text}"
    );
    assert!(
        first[1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/gif;base64,")
    );
    // The second turn is sent as written: the files went with the first.
    assert_eq!(up.last().body["messages"][2]["content"], "And?");
    let stdin = env.run("llm-cooperation", &["chat", "-a", "-"]).expect(2);
    assert!(
        stdin.stderr.contains("attach files by their path"),
        "{}",
        stdin.stderr
    );
}
