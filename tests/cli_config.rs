//! `llm-config` end to end: presets, keys, models, listing, export/import, locking, errors.

use std::os::unix::fs::PermissionsExt;

use crate::common::TestEnv;

const KEY: &str = "sk-planted-7d1c0ffee0ddba11f00d";

fn masked() -> &'static str {
    "sk-…f00d"
}

#[test]
fn preset_without_key_or_terminal_says_which_flag_or_variable() {
    let env = TestEnv::new();
    let run = env
        .run("llm-config", &["preset", "--name", "openai"])
        .expect(2);
    assert!(run.stderr.contains("--api-key"), "{}", run.stderr);
    assert!(run.stderr.contains("OPENAI_API_KEY"), "{}", run.stderr);
    assert_eq!(env.read_config(), "", "nothing may be written on failure");
}

#[test]
fn preset_uses_the_key_from_its_variable_without_storing_it() {
    let env = TestEnv::new();
    let run = env
        .run_env(
            "llm-config",
            &["preset", "--name", "deepseek"],
            &[("DEEPSEEK_API_KEY", KEY)],
        )
        .expect(0);
    assert!(
        run.stdout.contains(masked()) && !run.stdout.contains(KEY),
        "{}",
        run.stdout
    );
    assert!(!env.config_dir().join("credentials.toml").exists());
    let list = env
        .run_env(
            "llm-config",
            &["list", "--json"],
            &[("DEEPSEEK_API_KEY", KEY)],
        )
        .expect(0)
        .json();
    let p = &list["providers"][0];
    assert_eq!(p["key"]["source"], "env:DEEPSEEK_API_KEY");
    assert_eq!(p["key"]["masked"], masked());
}

#[test]
fn unknown_preset_lists_the_presets() {
    let env = TestEnv::new();
    let run = env
        .run("llm-config", &["preset", "--name", "nope"])
        .expect(2);
    for name in [
        "openai",
        "anthropic",
        "deepseek",
        "openrouter",
        "dashscope",
        "aigcbest",
        "ollama",
        "vllm",
        "local",
    ] {
        assert!(
            run.stderr.contains(name),
            "{name} missing from: {}",
            run.stderr
        );
    }
}

#[test]
fn preset_list_shows_every_preset() {
    let env = TestEnv::new();
    let json = env
        .run("llm-config", &["preset", "--list", "--json"])
        .expect(0)
        .json();
    assert_eq!(json.as_array().unwrap().len(), 9);
    let table = env.run("llm-config", &["preset", "--list"]).expect(0);
    assert!(table.stdout.contains("dashscope") && table.stdout.contains("qwen-max"));
}

#[test]
fn a_planted_key_never_appears_in_any_output() {
    let env = TestEnv::new();
    let mut outputs = Vec::new();
    let mut run = |args: &[&str]| {
        let r = env.run("llm-config", args);
        outputs.push(format!("{}\n{}", r.stdout, r.stderr));
        r
    };
    run(&["preset", "--name", "openai", "--api-key", KEY]).expect(0);
    run(&["preset", "--name", "anthropic", "--api-key", KEY]).expect(0);
    run(&[
        "global",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api-key",
        KEY,
    ])
    .expect(0);
    run(&["list"]).expect(0);
    run(&["list", "--format", "json"]).expect(0);
    run(&["show"]).expect(0);
    run(&["show", "--json"]).expect(0);
    run(&["export", "-"]).expect(0);
    run(&["set-key", "--provider", "openai", "--key", KEY]).expect(0);
    run(&[
        "add-model",
        "--name",
        "x",
        "--path",
        "x",
        "--provider",
        "nowhere",
    ])
    .expect(2);
    run(&["remove-model", "--name", "nothing"]).expect(2);
    // A failing request to a closed port, with logs at the most verbose level.
    run(&["-vvv", "test", "--model", "x-not-there"]).expect(2);
    let joined = outputs.join("\n");
    assert!(!joined.contains(KEY), "the key leaked:\n{joined}");
    assert!(
        joined.contains(masked()),
        "keys are shown masked:\n{joined}"
    );
    // The query CLI, failing against an unreachable upstream at trace level, must not print it either.
    env.run("llm-config", &["add-model", "--name", "g", "--path", "g"])
        .expect(0);
    let q = env.run_env(
        "llm-cooperation",
        &["-vvv", "query", "--model", "g", "hi"],
        &[("LLM_COOP_LOG", "trace")],
    );
    assert_eq!(q.code, 1, "{}", q.stderr);
    assert!(
        !q.stdout.contains(KEY) && !q.stderr.contains(KEY),
        "the key leaked:\n{}",
        q.stderr
    );
}

#[test]
fn credentials_are_private_and_a_loose_file_is_refused() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["preset", "--name", "openai", "--api-key", KEY],
    )
    .expect(0);
    let path = env.config_dir().join("credentials.toml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = env.run("llm-config", &["list"]).expect(2);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
}

#[test]
fn global_add_and_remove_models() {
    let env = TestEnv::new();
    let run = env
        .run("llm-config", &["add-model", "--name", "m", "--path", "up"])
        .expect(2);
    assert!(
        run.stderr.contains("llm-config global --base-url"),
        "{}",
        run.stderr
    );
    env.run(
        "llm-config",
        &["global", "--base-url", "http://127.0.0.1:9/v1"],
    )
    .expect(0);
    env.run(
        "llm-config",
        &[
            "add-model",
            "--name",
            "m",
            "--path",
            "up-id",
            "--tasks",
            "code,math",
            "--tier",
            "4",
            "--max-tokens",
            "100",
            "--temperature",
            "0.3",
            "--context-window",
            "32000",
            "--price-in",
            "1.5",
            "--price-out",
            "2",
        ],
    )
    .expect(0);
    let list = env
        .run("llm-config", &["list", "--format", "json"])
        .expect(0)
        .json();
    let m = &list["models"][0];
    assert_eq!(m["name"], "m");
    assert_eq!(m["provider"], "global");
    assert_eq!(m["upstream"], "up-id");
    assert_eq!(m["tasks"], serde_json::json!(["code", "math"]));
    assert_eq!(m["tier"], 4);
    assert_eq!(m["max_tokens"], 100);
    assert_eq!(m["price_in"], 1.5);
    // Adding a model does not make it the default: without one, requests are routed.
    assert!(list["default_model"].is_null(), "{list}");

    // Same name on another provider needs --replica.
    env.run("llm-config", &["preset", "--name", "ollama"])
        .expect(0);
    let run = env
        .run(
            "llm-config",
            &[
                "add-model",
                "--name",
                "m",
                "--path",
                "other",
                "--provider",
                "ollama",
            ],
        )
        .expect(2);
    assert!(run.stderr.contains("--replica"), "{}", run.stderr);
    env.run(
        "llm-config",
        &[
            "add-model",
            "--name",
            "m",
            "--path",
            "other",
            "--provider",
            "ollama",
            "--replica",
        ],
    )
    .expect(0);
    let list = env.run("llm-config", &["list", "--json"]).expect(0).json();
    let replicas = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "m")
        .count();
    assert_eq!(replicas, 2);

    env.run(
        "llm-config",
        &["remove-model", "--name", "m", "--provider", "ollama"],
    )
    .expect(0);
    env.run("llm-config", &["remove-model", "--name", "m"])
        .expect(0);
    let run = env
        .run("llm-config", &["remove-model", "--name", "m"])
        .expect(2);
    assert!(run.stderr.contains("Unknown model `m`"), "{}", run.stderr);
}

#[test]
fn bad_values_are_usage_errors() {
    let env = TestEnv::new();
    for args in [
        vec!["add-model", "--name", "m", "--path", "p", "--tier", "9"],
        vec![
            "add-model",
            "--name",
            "m",
            "--path",
            "p",
            "--temperature",
            "3",
        ],
        vec![
            "add-model",
            "--name",
            "m",
            "--path",
            "p",
            "--tasks",
            "dancing",
        ],
        vec![
            "add-model",
            "--name",
            "m",
            "--path",
            "p",
            "--price-in",
            "-1",
        ],
        vec!["global"],
        vec!["frobnicate"],
    ] {
        let run = env.run("llm-config", &args).expect(2);
        assert!(!run.stderr.is_empty(), "{args:?} printed no error");
    }
    env.run("llm-config", &["--help"]).expect(0);
}

#[test]
fn unknown_keys_and_bad_values_in_the_file_name_file_and_key() {
    let env = TestEnv::new();
    env.write_config("[defaults]\nmodle = \"x\"\n");
    let run = env.run("llm-config", &["list"]).expect(2);
    assert!(run.stderr.contains("config.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("modle"), "{}", run.stderr);

    env.write_config(
        "[providers.p]\nkind = \"openai\"\nbase_url = \"http://x/v1\"\n\n[[models]]\nname = \"m\"\nprovider = \"p\"\nupstream = \"u\"\ntier = 9\n",
    );
    let run = env.run("llm-config", &["list"]).expect(2);
    assert!(run.stderr.contains("models[0].tier"), "{}", run.stderr);
    assert!(run.stderr.contains("1 (weakest) to 5"), "{}", run.stderr);

    env.write_config("[providers.p]\nkind = \"grpc\"\nbase_url = \"http://x/v1\"\n");
    let run = env.run("llm-config", &["list"]).expect(2);
    assert!(
        run.stderr.contains("grpc") && run.stderr.contains("openai"),
        "{}",
        run.stderr
    );
}

#[test]
fn export_and_import_round_trip_with_and_without_secrets() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["preset", "--name", "openai", "--api-key", KEY],
    )
    .expect(0);
    env.run("llm-config", &["preset", "--name", "local"])
        .expect(0);
    let plain = env.cwd.path().join("plain.toml");
    let secret = env.cwd.path().join("secret.toml");
    env.run("llm-config", &["export", plain.to_str().unwrap()])
        .expect(0);
    env.run(
        "llm-config",
        &["export", secret.to_str().unwrap(), "--include-secrets"],
    )
    .expect(0);
    assert!(!std::fs::read_to_string(&plain).unwrap().contains(KEY));
    assert!(std::fs::read_to_string(&secret).unwrap().contains(KEY));
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let other = TestEnv::new();
    other
        .run("llm-config", &["import", plain.to_str().unwrap()])
        .expect(0);
    let a = env.run("llm-config", &["list", "--json"]).expect(0).json();
    let b = other
        .run("llm-config", &["list", "--json"])
        .expect(0)
        .json();
    assert_eq!(a["models"], b["models"]);
    assert!(
        b["providers"][1]["key"].is_null(),
        "no key without --include-secrets"
    );
    other
        .run("llm-config", &["import", secret.to_str().unwrap()])
        .expect(0);
    let b = other
        .run("llm-config", &["list", "--json"])
        .expect(0)
        .json();
    assert_eq!(b["providers"][1]["key"]["masked"], masked());

    std::fs::write(&plain, "[nonsense]\n").unwrap();
    let run = other
        .run("llm-config", &["import", plain.to_str().unwrap()])
        .expect(2);
    assert!(run.stderr.contains("nonsense"), "{}", run.stderr);
}

#[test]
fn set_key_from_stdin_and_remove() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &[
            "preset",
            "--name",
            "openai",
            "--api-key",
            "sk-old-key-000000000",
        ],
    )
    .expect(0);
    let run = env
        .run_stdin(
            "llm-config",
            &["set-key", "--provider", "openai"],
            &format!("{KEY}\n"),
        )
        .expect(0);
    assert!(run.stdout.contains(masked()), "{}", run.stdout);
    let creds = std::fs::read_to_string(env.config_dir().join("credentials.toml")).unwrap();
    assert!(creds.contains(KEY));
    env.run(
        "llm-config",
        &["set-key", "--provider", "openai", "--remove"],
    )
    .expect(0);
    let run = env
        .run(
            "llm-config",
            &["set-key", "--provider", "nope", "--key", "k"],
        )
        .expect(2);
    assert!(
        run.stderr.contains("Unknown provider `nope`"),
        "{}",
        run.stderr
    );
}

#[test]
fn path_reports_the_override_directory() {
    let env = TestEnv::new();
    let json = env.run("llm-config", &["path", "--json"]).expect(0).json();
    assert_eq!(json["dir"], env.config_dir().to_str().unwrap());
    assert!(
        json["credentials"]
            .as_str()
            .unwrap()
            .ends_with("credentials.toml")
    );
}

/// Two writers at once must both land: the lock serialises read-modify-write.
#[test]
fn concurrent_writers_never_lose_a_change() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["global", "--base-url", "http://127.0.0.1:9/v1"],
    )
    .expect(0);
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.cmd("llm-config")
                .args(["add-model", "--name", &format!("m{i}"), "--path", "p"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let list = env.run("llm-config", &["list", "--json"]).expect(0).json();
    assert_eq!(list["models"].as_array().unwrap().len(), 8);
    let leftovers: Vec<_> = std::fs::read_dir(env.config_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn list_table_snapshot() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["preset", "--name", "deepseek", "--api-key", KEY],
    )
    .expect(0);
    env.run("llm-config", &["preset", "--name", "local"])
        .expect(0);
    let run = env.run("llm-config", &["list"]).expect(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["preset", "--name", "openai", "--api-key", KEY],
    )
    .expect(0);
    let mut child = env
        .cmd("llm-config")
        .args(["preset", "--list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `add-model` accepted names that requests cannot use: `auto` (the router), `coop/…`
/// (virtual cooperation models), names with commas (model lists) or spaces.
#[test]
fn add_model_refuses_names_requests_cannot_use() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["global", "--base-url", "http://127.0.0.1:9/v1"],
    )
    .expect(0);
    for (name, says) in [
        ("auto", "`auto` asks the router"),
        ("AUTO", "is reserved"),
        ("coop/voting:a,b", "starts with `coop/`"),
        ("a,b", "contains a comma"),
        ("my model", "contains whitespace"),
    ] {
        let run = env
            .run("llm-config", &["add-model", "--name", name, "--path", "x"])
            .expect(2);
        assert!(
            run.stderr.contains(&format!("The model name `{name}`")) && run.stderr.contains(says),
            "{name}: {}",
            run.stderr
        );
    }
    let run = env
        .run(
            "llm-config",
            &["add-model", "--name", "my model", "--path", "x"],
        )
        .expect(2);
    assert!(run.stderr.contains("e.g. `my-model`"), "{}", run.stderr);
    assert!(
        !env.read_config().contains("[[models]]"),
        "{}",
        env.read_config()
    );
    // A hand-edited file with such a name is an error naming the key.
    let mut text = env.read_config();
    text.push_str("\n[[models]]\nname = \"a,b\"\nprovider = \"global\"\nupstream = \"x\"\n");
    env.write_config(&text);
    let run = env.run("llm-config", &["list"]).expect(2);
    assert!(
        run.stderr.contains("models[0].name") && run.stderr.contains("contains a comma"),
        "{}",
        run.stderr
    );
}

/// `remove-model --name m --provider other` suggested adding a model named
/// "m (on `other`)"; it now says which providers `m` is on.
#[test]
fn remove_model_from_a_provider_it_is_not_on_says_where_it_is() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["global", "--base-url", "http://127.0.0.1:9/v1"],
    )
    .expect(0);
    env.run("llm-config", &["add-model", "--name", "m", "--path", "x"])
        .expect(0);
    let run = env
        .run(
            "llm-config",
            &["remove-model", "--name", "m", "--provider", "elsewhere"],
        )
        .expect(2);
    assert!(
        run.stderr
            .contains("Model `m` has no deployment on provider `elsewhere`; it is on: global"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("(on `"), "{}", run.stderr);
    let run = env
        .run(
            "llm-config",
            &["remove-model", "--name", "ghost", "--provider", "global"],
        )
        .expect(2);
    assert!(
        run.stderr.contains("Unknown model `ghost`")
            && run.stderr.contains("add-model --name ghost --path"),
        "{}",
        run.stderr
    );
}

/// "Default model" means `[defaults] model` and nothing else: `list` and `models` used to mark
/// the first model as the default while a query without `--model` was routed.
#[test]
fn the_default_model_is_shown_truthfully_and_set_with_llm_config_default() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["global", "--base-url", "http://127.0.0.1:9/v1"],
    )
    .expect(0);
    for name in ["m", "n"] {
        env.run("llm-config", &["add-model", "--name", name, "--path", "p"])
            .expect(0);
    }
    let defaults = |env: &TestEnv| -> Vec<String> {
        let models = env
            .run("llm-cooperation", &["models", "--json"])
            .expect(0)
            .json();
        models
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["default"] == true)
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // None marked while requests are routed.
    assert!(defaults(&env).is_empty());
    let list = env.run("llm-config", &["list"]).expect(0);
    assert!(!list.stdout.contains(" *"), "{}", list.stdout);
    assert!(list.stdout.contains("No default model"), "{}", list.stdout);
    let models = env.run("llm-cooperation", &["models"]).expect(0);
    assert!(!models.stdout.contains(" *"), "{}", models.stdout);
    assert!(
        models.stdout.contains("No default model"),
        "{}",
        models.stdout
    );

    let set = env.run("llm-config", &["default", "n"]).expect(0);
    assert!(set.stdout.contains("`n`"), "{}", set.stdout);
    assert_eq!(defaults(&env), ["n"]);
    let list = env.run("llm-config", &["list", "--json"]).expect(0).json();
    assert_eq!(list["default_model"], "n");
    assert!(
        env.run("llm-config", &["list"])
            .expect(0)
            .stdout
            .contains("n *")
    );
    assert_eq!(env.run("llm-config", &["default"]).expect(0).stdout, "n\n");

    // An unknown name is refused with the names that exist; the default stays.
    let bad = env.run("llm-config", &["default", "nope"]).expect(2);
    assert!(
        bad.stderr.contains("Unknown model `nope`") && bad.stderr.contains("m, n"),
        "{}",
        bad.stderr
    );
    env.run("llm-config", &["default", "auto"]).expect(2);
    assert_eq!(defaults(&env), ["n"]);

    env.run("llm-config", &["default", "--unset"]).expect(0);
    assert!(defaults(&env).is_empty());
    assert!(
        env.run("llm-config", &["default"])
            .expect(0)
            .stdout
            .contains("No default model")
    );
}

/// Each line's width on screen, escape codes left out.
fn widths(text: &str) -> Vec<usize> {
    text.lines()
        .map(|l| console::measure_text_width(&console::strip_ansi_codes(l)))
        .collect()
}

/// A coloured cell (`ready`, `missing`) used to count its escape codes as width, pushing its
/// row's borders right of the others.
#[test]
fn coloured_cells_keep_the_columns_aligned() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["preset", "--name", "deepseek", "--api-key", KEY],
    )
    .expect(0);
    // A provider without its key: `missing` (red) in `list`, a red health in `models`.
    env.run(
        "llm-config",
        &["global", "--base-url", "http://127.0.0.1:9/v1"],
    )
    .expect(0);
    env.run("llm-config", &["add-model", "--name", "g", "--path", "p"])
        .expect(0);
    for (bin, args) in [
        ("llm-cooperation", ["--color", "always", "models"]),
        ("llm-config", ["--color", "always", "list"]),
    ] {
        let run = env.run(bin, &args).expect(0);
        assert!(run.stdout.contains("\x1b["), "colour was asked for");
        // Every line of a table (they start with a border) is as wide as its first.
        let mut table: Vec<usize> = Vec::new();
        for (line, width) in run.stdout.lines().zip(widths(&run.stdout)) {
            if line.starts_with('┌') {
                table = vec![width];
            } else if line.starts_with(['│', '╞', '└', '├']) {
                assert_eq!(width, table[0], "{bin}: misaligned:\n{}", run.stdout);
            }
        }
    }
}

/// On a terminal 100 columns wide, `models` used to cut names and tasks mid-word.
#[test]
fn models_on_a_100_column_terminal_wraps_between_words() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &["preset", "--name", "deepseek", "--api-key", KEY],
    )
    .expect(0);
    env.run("llm-config", &["preset", "--name", "ollama"])
        .expect(0);
    let models = env.cmd("llm-cooperation");
    let out = std::process::Command::new("script")
        .env_clear()
        .envs(models.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .current_dir(env.cwd.path())
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "stty cols 100 rows 50; exec {} models",
            models.get_program().to_string_lossy()
        ))
        .arg("/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(
        widths(&screen).iter().all(|&w| w <= 100),
        "wider than the terminal:\n{screen}"
    );
    let list = env
        .run("llm-cooperation", &["models", "--json"])
        .expect(0)
        .json();
    for m in list.as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        assert!(
            screen.lines().any(|l| l.contains(name)),
            "`{name}` is not whole on any line:\n{screen}"
        );
    }
    for task in ["summarization", "long-context", "translation"] {
        assert!(screen.contains(task), "`{task}` was cut:\n{screen}");
    }
}

/// Small wording and validation: "Wrote 1 providers"; `global --base-url http://host` without
/// `/v1` accepted without a word.
#[test]
fn export_counts_in_the_singular_and_a_base_url_without_a_path_is_warned() {
    let env = TestEnv::new();
    let run = env
        .run(
            "llm-config",
            &["global", "--base-url", "http://127.0.0.1:9"],
        )
        .expect(0);
    assert!(
        run.stderr.contains("warning:")
            && run
                .stderr
                .contains("llm-config global --base-url http://127.0.0.1:9/v1"),
        "{}",
        run.stderr
    );
    let run = env
        .run(
            "llm-config",
            &["global", "--base-url", "http://127.0.0.1:9/v1"],
        )
        .expect(0);
    assert_eq!(run.stderr, "");
    env.run("llm-config", &["global", "--base-url", "127.0.0.1:9/v1"])
        .expect(2);
    env.run("llm-config", &["add-model", "--name", "g", "--path", "p"])
        .expect(0);
    let file = env.cwd.path().join("out.toml");
    let run = env
        .run("llm-config", &["export", file.to_str().unwrap()])
        .expect(0);
    assert!(
        run.stdout
            .starts_with("Wrote 1 provider and 1 model (no keys)"),
        "{}",
        run.stdout
    );
}
