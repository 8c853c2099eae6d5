//! `llm-cooperation query` end to end: the real binary, a temporary configuration, and the
//! fake upstream behind both an OpenAI and an Anthropic provider.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::TestEnv;
use crate::common::upstream::{
    Behavior, DEFAULT_TEXT, FakeUpstream, INPUT_TOKENS, pieces, refused_url,
};

/// Small timeouts and one retry keep failure paths fast. A default model keeps the router
/// from ranking the models (and failing over between them): these tests are about one model.
const DEFAULTS: &str = "[defaults]
model = \"m1\"
max_retries = 1
connect_timeout_secs = 1.0
first_byte_timeout_secs = 2.0
total_timeout_secs = 10.0
";

/// `m1` on the OpenAI-kind provider `fake`, `c1` on the Anthropic-kind provider `claude`,
/// both served by `up`, neither needing a key.
fn write_config(env: &TestEnv, up: &FakeUpstream) {
    let url = up.base_url();
    env.write_config(&format!(
        r#"{DEFAULTS}
[providers.fake]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.claude]
kind = "anthropic"
base_url = "{url}"
needs_key = false

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"

[[models]]
name = "c1"
provider = "claude"
upstream = "claude-fake"
"#
    ));
}

fn setup() -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    write_config(&env, &up);
    (env, up)
}

/// The text of the last user message the upstream received.
fn last_prompt(up: &FakeUpstream) -> String {
    let body = up.last().body;
    let messages = body["messages"].as_array().unwrap();
    messages.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn prompt_words_are_joined_and_the_answer_is_printed() {
    let (env, up) = setup();
    let run = env
        .run("llm-cooperation", &["query", "Say", "hello"])
        .expect(0);
    assert_eq!(run.stdout, format!("{DEFAULT_TEXT}\n"));
    assert_eq!(run.stderr, "", "a pipe gets no notes or progress");
    assert_eq!(last_prompt(&up), "Say hello");
    let body = up.last().body;
    assert_eq!(
        body["model"], "fake-model",
        "the default model's upstream id"
    );
    assert_eq!(body.get("stream"), None, "stdout is a pipe: no streaming");
}

#[test]
fn prompt_from_the_query_option() {
    let (env, up) = setup();
    env.run("llm-cooperation", &["query", "-q", "What is 2+2?"])
        .expect(0);
    assert_eq!(last_prompt(&up), "What is 2+2?");
}

#[test]
fn prompt_from_piped_stdin() {
    let (env, up) = setup();
    let run = env
        .run_stdin("llm-cooperation", &["query"], "Summarise this\nplease\n")
        .expect(0);
    assert_eq!(run.stdout, format!("{DEFAULT_TEXT}\n"));
    assert_eq!(last_prompt(&up).trim_end(), "Summarise this\nplease");
}

#[test]
fn json_output_has_every_field() {
    let (env, _up) = setup();
    for (model, provider) in [("m1", "fake"), ("c1", "claude")] {
        let run = env
            .run("llm-cooperation", &["query", "--json", "-m", model, "hi"])
            .expect(0);
        let v = run.json();
        assert_eq!(v["text"], DEFAULT_TEXT, "{v}");
        assert_eq!(v["model"], model);
        assert_eq!(v["provider"], provider);
        assert_eq!(v["finish_reason"], "stop");
        assert_eq!(v["usage"]["input_tokens"], INPUT_TOKENS);
        assert_eq!(v["usage"]["output_tokens"], pieces(DEFAULT_TEXT).len());
        assert!(v["latency_ms"].as_f64().unwrap() > 0.0, "{v}");
        assert!(
            v.as_object().unwrap().contains_key("ttft_ms"),
            "ttft_ms is always present (null when not streamed): {v}"
        );
        assert_eq!(v["attempts"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["attempts"][0]["error"], Value::Null, "{v}");
    }
}

#[test]
fn max_tokens_cut_shows_as_length() {
    let (env, up) = setup();
    let v = env
        .run(
            "llm-cooperation",
            &["query", "--json", "--max-tokens", "2", "hi"],
        )
        .expect(0)
        .json();
    assert_eq!(v["finish_reason"], "length");
    assert_eq!(v["text"], pieces(DEFAULT_TEXT)[..2].concat());
    assert_eq!(up.last().body["max_tokens"], 2);
}

#[test]
fn stream_to_a_pipe_prints_the_streamed_text() {
    let (env, up) = setup();
    let text = "Streamed: ünïcödé 世界 🌍";
    for model in ["m1", "c1"] {
        up.push([Behavior::Fragmented {
            text: text.into(),
            frame_bytes: 5,
        }]);
        let run = env
            .run("llm-cooperation", &["query", "--stream", "-m", model, "hi"])
            .expect(0);
        assert_eq!(run.stdout, format!("{text}\n"), "{model}");
        assert_eq!(up.last().body["stream"], true, "{model}");
    }
}

#[test]
fn system_prompt_reaches_the_upstream_in_each_protocol() {
    let (env, up) = setup();
    env.run(
        "llm-cooperation",
        &["query", "--system", "Be terse.", "-m", "m1", "hi"],
    )
    .expect(0);
    let body = up.last().body;
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], "Be terse.");

    env.run(
        "llm-cooperation",
        &["query", "-s", "Be terse.", "-m", "c1", "hi"],
    )
    .expect(0);
    let r = up.last();
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.body["system"], "Be terse.");
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn upstream_failures_exit_1_after_retries() {
    let (env, up) = setup();
    up.push([Behavior::status(500), Behavior::status(500)]);
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(1);
    assert!(run.stderr.contains("HTTP 500"), "{}", run.stderr);
    assert!(run.stderr.contains("`fake`"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(up.request_count(), 2, "one attempt and `max_retries = 1`");
    // The final error is said once: each failed attempt used to add a `WARN attempt failed`
    // line repeating it.
    assert_eq!(
        run.stderr.matches("HTTP 500").count(),
        1,
        "the error repeats:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("attempt failed"), "{}", run.stderr);
}

#[test]
fn a_stream_that_breaks_off_keeps_the_text_and_exits_1() {
    let (env, up) = setup();
    up.push([Behavior::DisconnectMidStream]);
    let run = env
        .run("llm-cooperation", &["query", "--stream", "hi"])
        .expect(1);
    assert!(!run.stdout.is_empty(), "the text before the break stays");
    assert!(
        DEFAULT_TEXT.starts_with(run.stdout.trim_end()),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("broke off"), "{}", run.stderr);
    assert_eq!(up.request_count(), 1, "shown text is never repeated");
}

#[test]
fn unknown_model_exits_2_and_lists_the_configured_ones() {
    let (env, up) = setup();
    let run = env
        .run("llm-cooperation", &["query", "-m", "nope", "hi"])
        .expect(2);
    assert!(run.stderr.contains("`nope`"), "{}", run.stderr);
    assert!(run.stderr.contains("m1, c1"), "{}", run.stderr);
    assert_eq!(up.request_count(), 0);
}

#[test]
fn no_prompt_exits_2() {
    let (env, up) = setup();
    let run = env.run("llm-cooperation", &["query"]).expect(2);
    assert!(run.stderr.contains("No prompt"), "{}", run.stderr);
    assert_eq!(up.request_count(), 0);
}

#[test]
fn no_configuration_exits_2_with_the_fix() {
    let env = TestEnv::new();
    // A config file without models (no file at all means the embedded local default).
    env.write_config("# nothing configured yet\n");
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(2);
    assert!(
        run.stderr.contains("No model is configured"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("llm-config preset"), "{}", run.stderr);
}

/// A provider that needs a key with the key in `credentials.toml` (`mode` applied).
fn keyed_setup(mode: u32) -> (TestEnv, FakeUpstream, &'static str) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    let key = "sk-cli-test-0123456789";
    env.write_config(&format!(
        r#"{DEFAULTS}
[providers.fake]
kind = "openai"
base_url = "{}"

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"
"#,
        up.base_url()
    ));
    let path = env.config_dir().join("credentials.toml");
    std::fs::write(&path, format!("[keys]\nfake = \"{key}\"\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    (env, up, key)
}

#[test]
fn the_key_from_the_credentials_file_is_sent_as_a_bearer_token() {
    let (env, up, key) = keyed_setup(0o600);
    env.run("llm-cooperation", &["query", "hi"]).expect(0);
    assert_eq!(
        up.last().header("authorization"),
        Some(format!("Bearer {key}").as_str())
    );
}

#[test]
fn a_credentials_file_readable_by_others_is_refused() {
    let (env, up, key) = keyed_setup(0o644);
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(2);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
    assert!(run.stderr.contains("credentials.toml"), "{}", run.stderr);
    assert!(!run.stderr.contains(key));
    assert_eq!(up.request_count(), 0);
}

#[test]
fn a_refused_deployment_fails_over_to_the_next_one() {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    env.write_config(&format!(
        r#"{DEFAULTS}
[providers.dead]
kind = "openai"
base_url = "{}"
needs_key = false

[providers.fake]
kind = "openai"
base_url = "{}"
needs_key = false

[router]
# In a fresh process round-robin starts with the first replica: the dead one.
balance = "round-robin"

[[models]]
name = "m1"
provider = "dead"
upstream = "fake-model"

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"
"#,
        refused_url(),
        up.base_url()
    ));
    let v = env
        .run("llm-cooperation", &["query", "--json", "hi"])
        .expect(0)
        .json();
    assert_eq!(v["text"], DEFAULT_TEXT);
    assert_eq!(v["provider"], "fake");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{v}");
    assert_eq!(attempts[0]["provider"], "dead");
    assert_eq!(attempts[0]["error_kind"], "connect");
    assert_eq!(attempts[1]["provider"], "fake");
    assert_eq!(attempts[1]["error"], Value::Null);
    assert_eq!(up.request_count(), 1);
}

/// The original system's `.env` (`BASE_URL`, `API_KEY`, `MODEL`) works with no config file.
#[test]
fn dotenv_in_the_working_directory_is_enough() {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    std::fs::write(
        env.cwd.path().join(".env"),
        format!(
            "BASE_URL={}\nAPI_KEY=sk-dotenv-key-42\nMODEL=fake-model\n",
            up.base_url()
        ),
    )
    .unwrap();
    let v = env
        .run("llm-cooperation", &["query", "--json", "hi"])
        .expect(0)
        .json();
    assert_eq!(v["text"], DEFAULT_TEXT);
    assert_eq!(v["model"], "fake-model");
    let r = up.last();
    assert_eq!(r.header("authorization"), Some("Bearer sk-dotenv-key-42"));
    assert_eq!(r.body["model"], "fake-model");
    // The `.env` brings its own key, so its `BASE_URL` needs no consent; stderr says so.
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(0);
    assert!(
        run.stderr.contains(".env`: BASE_URL, API_KEY, MODEL"),
        "{}",
        run.stderr
    );
}

/// A `.env` in a cloned repository used to send the stored key and the prompt to its own
/// `BASE_URL`. Now a `.env` may not point the stored key at a new host unless the user opts in
/// (`LLM_COOP_DOTENV=1` in the real environment); stderr says what `.env` did.
#[test]
fn a_dotenv_cannot_point_a_stored_key_at_another_host() {
    let env = TestEnv::new();
    let mine = FakeUpstream::start();
    let theirs = FakeUpstream::start();
    env.run(
        "llm-config",
        &[
            "global",
            "--base-url",
            &mine.base_url(),
            "--api-key",
            "sk-stored-key-1",
        ],
    )
    .expect(0);
    env.run(
        "llm-config",
        &["add-model", "--name", "g", "--path", "fake-model"],
    )
    .expect(0);
    std::fs::write(
        env.cwd.path().join(".env"),
        format!(
            "BASE_URL={}\nDATABASE_URL=postgres://elsewhere\nLOG_LEVEL=error\n",
            theirs.base_url()
        ),
    )
    .unwrap();

    let run = env
        .run("llm-cooperation", &["query", "-m", "g", "hi"])
        .expect(0);
    assert_eq!(theirs.request_count(), 0, "the `.env` host got a request");
    assert_eq!(
        mine.last().header("authorization"),
        Some("Bearer sk-stored-key-1")
    );
    assert!(
        run.stderr.contains("sets `BASE_URL`")
            && run.stderr.contains("ignored")
            && run.stderr.contains("LLM_COOP_DOTENV=1"),
        "{}",
        run.stderr
    );
    // What took effect is named; a variable that is not ours is not read at all.
    assert!(run.stderr.contains(": LOG_LEVEL\n"), "{}", run.stderr);
    assert!(!run.stderr.contains("DATABASE_URL"), "{}", run.stderr);

    // The user's consent, in the real environment, lets it through, and says so.
    let run = env
        .run_env(
            "llm-cooperation",
            &["query", "-m", "g", "hi"],
            &[("LLM_COOP_DOTENV", "1")],
        )
        .expect(0);
    assert_eq!(theirs.request_count(), 1);
    assert!(run.stderr.contains("BASE_URL, LOG_LEVEL"), "{}", run.stderr);
}

#[test]
fn a_prompt_that_is_not_utf8_is_a_usage_error() {
    use std::io::Write;
    let (env, up) = setup();
    let mut child = env
        .cmd("llm-cooperation")
        .arg("query")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"caf\xe9 au lait")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
    assert_eq!(up.request_count(), 0);
}

/// `cat notes.txt | llm-cooperation query "Summarise this"` used to send only "Summarise
/// this": piped input was dropped whenever a prompt was given. Now stdin comes first, then
/// the prompt, for `query` (arguments or `-q`) and `cooperate`.
#[test]
fn piped_stdin_and_a_prompt_both_reach_the_model() {
    let (env, up) = setup();
    let notes = "Meeting notes\nShip on Friday.\n";
    env.run_stdin("llm-cooperation", &["query", "Summarise this"], notes)
        .expect(0);
    assert_eq!(
        last_prompt(&up),
        "Meeting notes\nShip on Friday.\n\nSummarise this"
    );
    env.run_stdin("llm-cooperation", &["query", "-q", "In French"], notes)
        .expect(0);
    assert_eq!(
        last_prompt(&up),
        "Meeting notes\nShip on Friday.\n\nIn French"
    );
    // Blank piped input leaves the prompt alone.
    env.run_stdin("llm-cooperation", &["query", "Just this"], "\n  \n")
        .expect(0);
    assert_eq!(last_prompt(&up), "Just this");

    let before = up.request_count();
    env.run_stdin(
        "llm-cooperation",
        &[
            "cooperate",
            "--mode",
            "parallel",
            "--models",
            "m1,c1",
            "--integration",
            "concat",
            "Summarise this",
        ],
        notes,
    )
    .expect(0);
    let members = &up.requests()[before..];
    assert_eq!(members.len(), 2);
    for r in members {
        let sent = r.body["messages"].to_string();
        assert!(
            sent.contains("Meeting notes\\nShip on Friday.\\n\\nSummarise this"),
            "{sent}"
        );
    }
}

#[test]
fn attachments_inline_text_send_images_as_parts_and_read_stdin() {
    let (env, up) = setup();
    let dir = env.config_dir();
    std::fs::write(dir.join("notes.txt"), "the notes\n").unwrap();
    // A PNG named without an extension: known by its first bytes.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    std::fs::write(dir.join("picture"), png).unwrap();
    let notes = dir.join("notes.txt");
    let picture = dir.join("picture");
    env.run_stdin(
        "llm-cooperation",
        &[
            "query",
            "-a",
            notes.to_str().unwrap(),
            "--attach",
            picture.to_str().unwrap(),
            "-a",
            "-",
            "Describe these",
        ],
        "piped text",
    )
    .expect(0);
    let body = up.last().body;
    let parts = body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_array()
        .expect("a message with an image is sent as parts")
        .clone();
    let text = parts[0]["text"].as_str().unwrap();
    assert!(
        text.contains("notes.txt") && text.contains("the notes"),
        "{text}"
    );
    assert!(
        text.contains("standard input") && text.contains("piped text"),
        "{text}"
    );
    assert!(text.ends_with("Describe these"), "{text}");
    assert_eq!(parts[1]["type"], "image_url");
    use base64::Engine;
    let expected = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    assert_eq!(parts[1]["image_url"]["url"], expected);
}

#[test]
fn an_attachment_that_cannot_be_read_or_sent_is_a_usage_error() {
    let (env, up) = setup();
    let missing = env
        .run("llm-cooperation", &["query", "-a", "nope.txt", "hi"])
        .expect(2);
    assert!(missing.stderr.contains("`nope.txt`"), "{}", missing.stderr);
    let binary = env.config_dir().join("data.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 255]).unwrap();
    let run = env
        .run(
            "llm-cooperation",
            &["query", "-a", binary.to_str().unwrap(), "hi"],
        )
        .expect(2);
    assert!(run.stderr.contains("data.bin"), "{}", run.stderr);
    assert!(
        run.stderr.contains("PNG, JPEG, GIF or WebP"),
        "{}",
        run.stderr
    );
    assert_eq!(up.request_count(), 0, "nothing is sent");
}

#[test]
fn a_model_alias_names_its_model_on_the_command_line() {
    let (env, up) = setup();
    env.run("llm-config", &["alias", "fast", "c1"]).expect(0);
    // An alias of an alias stands for the model.
    env.run("llm-config", &["alias", "quick", "fast"]).expect(0);
    let aliases = env.run("llm-config", &["alias", "--json"]).expect(0).json();
    assert_eq!(aliases, serde_json::json!({ "fast": "c1", "quick": "c1" }));
    assert_eq!(
        env.run("llm-config", &["alias", "fast"]).expect(0).stdout,
        "c1\n"
    );

    env.run("llm-cooperation", &["query", "-m", "quick", "hi"])
        .expect(0);
    assert_eq!(up.last().body["model"], "claude-fake");
    // `llm-config default` takes an alias for its model.
    env.run("llm-config", &["default", "fast"]).expect(0);
    assert_eq!(env.run("llm-config", &["default"]).expect(0).stdout, "c1\n");

    let unknown = env.run("llm-config", &["alias", "slow", "nope"]).expect(2);
    assert!(
        unknown.stderr.contains("Unknown model `nope`"),
        "{}",
        unknown.stderr
    );
    let shadow = env.run("llm-config", &["alias", "m1", "c1"]).expect(2);
    assert!(
        shadow.stderr.contains("may not shadow"),
        "{}",
        shadow.stderr
    );

    env.run("llm-config", &["alias", "--remove", "fast"])
        .expect(0);
    env.run("llm-cooperation", &["query", "-m", "fast", "hi"])
        .expect(2);
    assert!(!env.read_config().contains("fast"));
}

#[test]
fn an_alias_in_the_file_must_name_a_model() {
    let (env, up) = setup();
    let text = env.read_config();
    env.write_config(&format!("[aliases]\nfast = \"gone\"\n\n{text}"));
    let run = env.run("llm-cooperation", &["query", "hi"]).expect(2);
    assert!(
        run.stderr.contains("aliases.fast") && run.stderr.contains("`gone`"),
        "{}",
        run.stderr
    );
    assert_eq!(up.request_count(), 0);
}

#[test]
fn a_template_wraps_the_input_and_a_missing_one_lists_the_others() {
    let (env, up) = setup();
    let templates = env.config_dir().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("summarise.txt"),
        "Summarise this:\n{{input}}\nIn one line.\n",
    )
    .unwrap();
    env.run_stdin(
        "llm-cooperation",
        &["query", "--template", "summarise", "for a child"],
        "the notes",
    )
    .expect(0);
    assert_eq!(
        last_prompt(&up),
        "Summarise this:\nthe notes\n\nfor a child\nIn one line."
    );
    let missing = env
        .run("llm-cooperation", &["query", "--template", "nope", "x"])
        .expect(2);
    assert!(
        missing.stderr.contains("`nope`") && missing.stderr.contains("summarise"),
        "{}",
        missing.stderr
    );
    let path = env.run("llm-config", &["path", "--json"]).expect(0).json();
    assert_eq!(path["templates"], templates.to_str().unwrap());
}
