
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
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand query 'Ask one model a question'
            cand ask 'Ask one model a question'
            cand models 'List the configured models: tasks, tier, price, context window and readiness'
            cand status 'Check that each provider answers (and how fast), and show a running server''s stats'
            cand test 'Send a short real request to each model and report latency and result'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-cooperation;query'= {
            cand -q 'The prompt, as an option'
            cand --query 'The prompt, as an option'
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
            cand --explain 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`'
            cand --stream 'Stream the answer even when stdout is not a terminal'
            cand --no-stream 'Wait for the whole answer instead of streaming it'
            cand --json 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-cooperation;ask'= {
            cand -q 'The prompt, as an option'
            cand --query 'The prompt, as an option'
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
            cand --explain 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`'
            cand --stream 'Stream the answer even when stdout is not a terminal'
            cand --no-stream 'Wait for the whole answer instead of streaming it'
            cand --json 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
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
        &'llm-cooperation;help'= {
            cand query 'Ask one model a question'
            cand models 'List the configured models: tasks, tier, price, context window and readiness'
            cand status 'Check that each provider answers (and how fast), and show a running server''s stats'
            cand test 'Send a short real request to each model and report latency and result'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-cooperation;help;query'= {
        }
        &'llm-cooperation;help;models'= {
        }
        &'llm-cooperation;help;status'= {
        }
        &'llm-cooperation;help;test'= {
        }
        &'llm-cooperation;help;help'= {
        }
    ]
    $completions[$command]
}
