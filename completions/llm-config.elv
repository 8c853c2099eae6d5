
use builtin;
use str;

set edit:completion:arg-completer[llm-config] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'llm-config'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'llm-config'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand preset 'Add a provider and its models from a built-in preset'
            cand global 'Set the `global` OpenAI-compatible provider used by models added without `--provider`'
            cand add-model 'Add a model (a deployment of it, with `--replica`)'
            cand remove-model 'Remove a model (all its deployments, or those on `--provider`)'
            cand list 'List providers and models'
            cand show 'Print the effective configuration (all layers merged; keys masked)'
            cand test 'Send a short real request to each model and report latency and result'
            cand export 'Write the configuration to a file (without keys unless `--include-secrets`)'
            cand import 'Merge providers, models and keys from a file written by `export`'
            cand set-key 'Store the API key of a provider in the credentials file'
            cand default 'Show, set or `--unset` the default model: the one commands use when they name none'
            cand alias 'List, show, add or `--remove` model aliases: other names for configured models, accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`, then `llm-cooperation query -m fast "…"`)'
            cand path 'Print where the configuration files are'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-config;preset'= {
            cand -n 'Preset name'
            cand --name 'Preset name'
            cand -k 'API key to store (else asked on a terminal, or read from the preset''s variable)'
            cand --api-key 'API key to store (else asked on a terminal, or read from the preset''s variable)'
            cand --base-url 'Use a different base URL (e.g. a proxy) for this provider'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --list 'List the presets and their models instead'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;global'= {
            cand --base-url 'Base URL of an OpenAI-compatible API, including the version path (`…/v1`)'
            cand -k 'API key for it (stored in the credentials file)'
            cand --api-key 'API key for it (stored in the credentials file)'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;add-model'= {
            cand -n 'The name requests use'
            cand --name 'The name requests use'
            cand -p 'The model id sent upstream'
            cand --path 'The model id sent upstream'
            cand --provider 'Provider (default: `global`)'
            cand --tasks 'What the model is good at: space- or comma-separated, or repeated (`--tasks reasoning math`, `--tasks reasoning,math`)'
            cand --tier 'Quality tier, 1 (weakest) to 5 (strongest)'
            cand --max-tokens 'Default most tokens to generate'
            cand --temperature 'Default temperature, 0.0 to 2.0'
            cand --context-window 'Context window in tokens'
            cand --price-in 'USD per million input tokens'
            cand --price-out 'USD per million output tokens'
            cand --concurrency 'Most requests in flight at once'
            cand --weight 'Share of traffic among replicas'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --replica 'Add another deployment of an existing name instead of replacing it'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;remove-model'= {
            cand -n 'Model name'
            cand --name 'Model name'
            cand --provider 'Only the deployment on this provider'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;list'= {
            cand --format 'Output format'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Same as `--format json`'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;show'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Print JSON instead of TOML'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;test'= {
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
        &'llm-config;export'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --include-secrets 'Also write the API keys (the file is then created with mode 0600)'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;import'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;set-key'= {
            cand -p 'Provider name'
            cand --provider 'Provider name'
            cand -k 'The key (else asked on a terminal, or read from standard input when piped)'
            cand --key 'The key (else asked on a terminal, or read from standard input when piped)'
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --remove 'Remove the stored key instead'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;default'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --unset 'Remove the default, so that requests without `--model` are routed'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;alias'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --remove 'Remove the alias NAME'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;path'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --json 'Machine-readable output'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'llm-config;help'= {
            cand preset 'Add a provider and its models from a built-in preset'
            cand global 'Set the `global` OpenAI-compatible provider used by models added without `--provider`'
            cand add-model 'Add a model (a deployment of it, with `--replica`)'
            cand remove-model 'Remove a model (all its deployments, or those on `--provider`)'
            cand list 'List providers and models'
            cand show 'Print the effective configuration (all layers merged; keys masked)'
            cand test 'Send a short real request to each model and report latency and result'
            cand export 'Write the configuration to a file (without keys unless `--include-secrets`)'
            cand import 'Merge providers, models and keys from a file written by `export`'
            cand set-key 'Store the API key of a provider in the credentials file'
            cand default 'Show, set or `--unset` the default model: the one commands use when they name none'
            cand alias 'List, show, add or `--remove` model aliases: other names for configured models, accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`, then `llm-cooperation query -m fast "…"`)'
            cand path 'Print where the configuration files are'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'llm-config;help;preset'= {
        }
        &'llm-config;help;global'= {
        }
        &'llm-config;help;add-model'= {
        }
        &'llm-config;help;remove-model'= {
        }
        &'llm-config;help;list'= {
        }
        &'llm-config;help;show'= {
        }
        &'llm-config;help;test'= {
        }
        &'llm-config;help;export'= {
        }
        &'llm-config;help;import'= {
        }
        &'llm-config;help;set-key'= {
        }
        &'llm-config;help;default'= {
        }
        &'llm-config;help;alias'= {
        }
        &'llm-config;help;path'= {
        }
        &'llm-config;help;help'= {
        }
    ]
    $completions[$command]
}
