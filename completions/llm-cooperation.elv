
use builtin;
use str;

set edit:completion:arg-completer[llm-cooperation] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'llm-cooperation'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'llm-cooperation'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --no-log 'Do not record this run in the history (`llm-cooperation logs`); also accepted after the commands that record runs (query, chat, cooperate, service)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand query 'Ask one model a question'
            cand ask 'Ask one model a question'
            cand chat 'Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`; end a line with `\` to continue it, or wrap a block in `"""`'
            cand logs 'List, search, show and delete the history of runs'
            cand models 'List the configured models: tasks, tier, price, context window and readiness'
            cand status 'Check that each provider answers (and how fast), and show a running server''s stats'
            cand test 'Send a short real request to each model and report latency and result'
            cand cooperate 'Make several models work on one task: sequential, parallel, voting, pipeline, ensemble (mixture-of-agents) or cascade'
            cand service 'Analyse a document, find insight in data, or support a decision'
            cand embed 'Turn text into vectors with an embedding model (a model with the task `embedding`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-cooperation;query'= {
            cand -q 'The prompt, as an option'
            cand --query 'The prompt, as an option'
            cand -a 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input'
            cand --attach 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input'
            cand --template 'Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard input, then the prompt arguments); without the placeholder the input follows it'
            cand --session 'Continue the conversation with this session id (`llm-cooperation logs sessions` lists them)'
            cand -m 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)'
            cand --model 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)'
            cand --strategy 'How the router picks a model when none is named'
            cand --quality-priority 'For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality'
            cand -s 'A system prompt'
            cand --system 'A system prompt'
            cand --max-tokens 'Most tokens to generate'
            cand -t 'Sampling temperature, 0.0 to 2.0'
            cand --temperature 'Sampling temperature, 0.0 to 2.0'
            cand --top-p 'Nucleus sampling, 0.0 to 1.0'
            cand --seed 'Seed for reproducible sampling (where the upstream supports it)'
            cand --stop 'Stop generating at this text (repeatable)'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -c 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it'
            cand --continue 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it'
            cand --explain 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`'
            cand --allow-cooperation 'Let the router hand a complex request (complexity above 0.6) to several models: voting among the top three for math, otherwise parallel answers merged by the best'
            cand --stream 'Stream the answer even when stdout is not a terminal'
            cand --no-stream 'Wait for the whole answer instead of streaming it'
            cand --no-log 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
            cand --json 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;ask'= {
            cand -q 'The prompt, as an option'
            cand --query 'The prompt, as an option'
            cand -a 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input'
            cand --attach 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input'
            cand --template 'Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard input, then the prompt arguments); without the placeholder the input follows it'
            cand --session 'Continue the conversation with this session id (`llm-cooperation logs sessions` lists them)'
            cand -m 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)'
            cand --model 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)'
            cand --strategy 'How the router picks a model when none is named'
            cand --quality-priority 'For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality'
            cand -s 'A system prompt'
            cand --system 'A system prompt'
            cand --max-tokens 'Most tokens to generate'
            cand -t 'Sampling temperature, 0.0 to 2.0'
            cand --temperature 'Sampling temperature, 0.0 to 2.0'
            cand --top-p 'Nucleus sampling, 0.0 to 1.0'
            cand --seed 'Seed for reproducible sampling (where the upstream supports it)'
            cand --stop 'Stop generating at this text (repeatable)'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -c 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it'
            cand --continue 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it'
            cand --explain 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`'
            cand --allow-cooperation 'Let the router hand a complex request (complexity above 0.6) to several models: voting among the top three for math, otherwise parallel answers merged by the best'
            cand --stream 'Stream the answer even when stdout is not a terminal'
            cand --no-stream 'Wait for the whole answer instead of streaming it'
            cand --no-log 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
            cand --json 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;chat'= {
            cand -m 'Model name, or `auto` for the router (default: `[defaults] model`, else `auto`)'
            cand --model 'Model name, or `auto` for the router (default: `[defaults] model`, else `auto`)'
            cand -s 'A system prompt for the session'
            cand --system 'A system prompt for the session'
            cand -a 'Attach a file to the first message (repeatable): a text file is put in it under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image'
            cand --attach 'Attach a file to the first message (repeatable): a text file is put in it under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image'
            cand --session 'Resume the session with this name, or start one under it'
            cand --max-tokens 'Most tokens per answer'
            cand -t 'Sampling temperature, 0.0 to 2.0'
            cand --temperature 'Sampling temperature, 0.0 to 2.0'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -c 'Resume the most recent chat session'
            cand --continue 'Resume the most recent chat session'
            cand --no-log 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;logs'= {
            cand -n 'How many runs to list, newest first'
            cand --count 'How many runs to list, newest first'
            cand -m 'Only runs answered by this model'
            cand --model 'Only runs answered by this model'
            cand --mode 'Only runs of this cooperation mode, or of this service (`decision-support`) or service type (`decision-support/comparison`)'
            cand --kind 'Only runs of this kind'
            cand -q 'Only runs whose prompt or answer contains this text'
            cand --search 'Only runs whose prompt or answer contains this text'
            cand --session 'Only the runs of this conversation (`logs sessions` lists them)'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand show 'Everything recorded about one run, its receipt included'
            cand sessions 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids'
            cand rm 'Delete runs by id, or all of them'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-cooperation;logs;show'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;logs;sessions'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;logs;rm'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --all 'Delete the whole history (on a terminal, after asking)'
            cand -y 'Do not ask before `--all` deletes the history'
            cand --yes 'Do not ask before `--all` deletes the history'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;logs;help'= {
            cand show 'Everything recorded about one run, its receipt included'
            cand sessions 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids'
            cand rm 'Delete runs by id, or all of them'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-cooperation;logs;help;show'= {
        }
        &'llm-cooperation;logs;help;sessions'= {
        }
        &'llm-cooperation;logs;help;rm'= {
        }
        &'llm-cooperation;logs;help;help'= {
        }
        &'llm-cooperation;models'= {
            cand --format 'Output format'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Same as `--format json`'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;status'= {
            cand --timeout 'Seconds to wait for each provider'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;test'= {
            cand -m 'Only this model'
            cand --model 'Only this model'
            cand --prompt 'The prompt sent'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;cooperate'= {
            cand -q 'The task, as an option'
            cand --query 'The task, as an option'
            cand --mode 'How the models cooperate (default: `pipeline` with `--workflow`, else `parallel`)'
            cand --models 'The models, comma-separated or repeated; `auto` lets the router pick, and a model may repeat (`--models m,m,m` votes three samples of one model: each copy gets its own seed, and a model at temperature 0 samples at 0.7, as the receipt notes). For `cascade`, the highest tier is the strong model and the others are tried first'
            cand --integration 'How `parallel` answers become one (default `synthesize`); `sequential` with `synthesize` adds an integrator that reads every version'
            cand --judge 'The judge or aggregator: it merges (`synthesize`, `ensemble`), picks the best (`best`), breaks voting ties, integrates `sequential` answers, or verifies a `cascade`''s cheap answer. Default: the highest-tier model, where one is needed'
            cand --rounds 'Voting rounds: after the first, models see the tally and vote again while they disagree'
            cand --layers 'Ensemble layers of proposers, each seeing the previous layer''s answers'
            cand --workflow 'A workflow file (TOML) of named steps with models, prompt templates and `depends_on`, for `pipeline`'
            cand --concurrency 'Most model calls in flight at once'
            cand --timeout 'Seconds each model call may take'
            cand --quorum 'Answers each tally or integration needs (default: at least half of its models)'
            cand --max-tokens 'Most tokens each model call may generate'
            cand -t 'Sampling temperature of every model call, 0.0 to 2.0'
            cand --temperature 'Sampling temperature of every model call, 0.0 to 2.0'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --fail-fast 'Stop at the first failed step (default: keep going while a quorum of answers remains)'
            cand --plan 'Print the plan (steps, models, dependencies, conditions) and exit without calling a model'
            cand --no-log 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
            cand --json 'Print the answer with its receipt as JSON; a failed or interrupted run prints `{text: null, error: {kind, message}, receipt}` with the partial receipt'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;service'= {
            cand --type 'What to produce. document-analysis: comprehensive (default), summary, key-points, sentiment; data-insight: trends (default), anomalies, statistics; decision-support: recommendation (default), comparison, risk'
            cand -m 'Models to ask in parallel, their answers merged (default: one model the router picks)'
            cand --models 'Models to ask in parallel, their answers merged (default: one model the router picks)'
            cand --judge 'The model that merges several `--models` answers (default: the highest tier)'
            cand --max-tokens 'Most tokens each model call may generate'
            cand --timeout 'Seconds each model call may take'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --no-log 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
            cand --json 'Print the structured result (facts, analysis, findings, receipt) as JSON'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;embed'= {
            cand -m 'The embedding model (default: the first model with the task `embedding`)'
            cand --model 'The embedding model (default: the first model with the task `embedding`)'
            cand --dimensions 'Fewer dimensions than the model''s own (models that support it)'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Print `{model, usage, vectors}` as one JSON object'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;help'= {
            cand query 'Ask one model a question'
            cand chat 'Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`; end a line with `\` to continue it, or wrap a block in `"""`'
            cand logs 'List, search, show and delete the history of runs'
            cand models 'List the configured models: tasks, tier, price, context window and readiness'
            cand status 'Check that each provider answers (and how fast), and show a running server''s stats'
            cand test 'Send a short real request to each model and report latency and result'
            cand cooperate 'Make several models work on one task: sequential, parallel, voting, pipeline, ensemble (mixture-of-agents) or cascade'
            cand service 'Analyse a document, find insight in data, or support a decision'
            cand embed 'Turn text into vectors with an embedding model (a model with the task `embedding`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-cooperation;help;query'= {
        }
        &'llm-cooperation;help;chat'= {
        }
        &'llm-cooperation;help;logs'= {
            cand show 'Everything recorded about one run, its receipt included'
            cand sessions 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids'
            cand rm 'Delete runs by id, or all of them'
        }
        &'llm-cooperation;help;logs;show'= {
        }
        &'llm-cooperation;help;logs;sessions'= {
        }
        &'llm-cooperation;help;logs;rm'= {
        }
        &'llm-cooperation;help;models'= {
        }
        &'llm-cooperation;help;status'= {
        }
        &'llm-cooperation;help;test'= {
        }
        &'llm-cooperation;help;cooperate'= {
        }
        &'llm-cooperation;help;service'= {
        }
        &'llm-cooperation;help;embed'= {
        }
        &'llm-cooperation;help;help'= {
        }
    ]
    $completions[$command]
}
