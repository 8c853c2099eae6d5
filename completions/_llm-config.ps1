
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'llm-config' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'llm-config'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'llm-config' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('preset', 'preset', [CompletionResultType]::ParameterValue, 'Add a provider and its models from a built-in preset')
            [CompletionResult]::new('global', 'global', [CompletionResultType]::ParameterValue, 'Set the `global` OpenAI-compatible provider used by models added without `--provider`')
            [CompletionResult]::new('add-model', 'add-model', [CompletionResultType]::ParameterValue, 'Add a model (a deployment of it, with `--replica`)')
            [CompletionResult]::new('remove-model', 'remove-model', [CompletionResultType]::ParameterValue, 'Remove a model (all its deployments, or those on `--provider`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List providers and models')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective configuration (all layers merged; keys masked)')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a short real request to each model and report latency and result')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the configuration to a file (without keys unless `--include-secrets`)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Merge providers, models and keys from a file written by `export`')
            [CompletionResult]::new('set-key', 'set-key', [CompletionResultType]::ParameterValue, 'Store the API key of a provider in the credentials file')
            [CompletionResult]::new('default', 'default', [CompletionResultType]::ParameterValue, 'Show, set or `--unset` the default model: the one commands use when they name none')
            [CompletionResult]::new('alias', 'alias', [CompletionResultType]::ParameterValue, 'List, show, add or `--remove` model aliases: other names for configured models, accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`, then `llm-cooperation query -m fast "…"`)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print where the configuration files are')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llm-config;preset' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Preset name')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Preset name')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'API key to store (else asked on a terminal, or read from the preset''s variable)')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key to store (else asked on a terminal, or read from the preset''s variable)')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Use a different base URL (e.g. a proxy) for this provider')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List the presets and their models instead')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;global' {
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'Base URL of an OpenAI-compatible API, including the version path (`…/v1`)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'API key for it (stored in the credentials file)')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key for it (stored in the credentials file)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;add-model' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The name requests use')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The name requests use')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'The model id sent upstream')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'The model id sent upstream')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Provider (default: `global`)')
            [CompletionResult]::new('--tasks', '--tasks', [CompletionResultType]::ParameterName, 'What the model is good at: space- or comma-separated, or repeated (`--tasks reasoning math`, `--tasks reasoning,math`)')
            [CompletionResult]::new('--tier', '--tier', [CompletionResultType]::ParameterName, 'Quality tier, 1 (weakest) to 5 (strongest)')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Default most tokens to generate')
            [CompletionResult]::new('--temperature', '--temperature', [CompletionResultType]::ParameterName, 'Default temperature, 0.0 to 2.0')
            [CompletionResult]::new('--context-window', '--context-window', [CompletionResultType]::ParameterName, 'Context window in tokens')
            [CompletionResult]::new('--price-in', '--price-in', [CompletionResultType]::ParameterName, 'USD per million input tokens')
            [CompletionResult]::new('--price-out', '--price-out', [CompletionResultType]::ParameterName, 'USD per million output tokens')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Most requests in flight at once')
            [CompletionResult]::new('--weight', '--weight', [CompletionResultType]::ParameterName, 'Share of traffic among replicas')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--replica', '--replica', [CompletionResultType]::ParameterName, 'Add another deployment of an existing name instead of replacing it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;remove-model' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Model name')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Model name')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only the deployment on this provider')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;list' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Same as `--format json`')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of TOML')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;test' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Only this model')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Only this model')
            [CompletionResult]::new('--prompt', '--prompt', [CompletionResultType]::ParameterName, 'The prompt sent')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;export' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--include-secrets', '--include-secrets', [CompletionResultType]::ParameterName, 'Also write the API keys (the file is then created with mode 0600)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;import' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;set-key' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Provider name')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Provider name')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The key (else asked on a terminal, or read from standard input when piped)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key (else asked on a terminal, or read from standard input when piped)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--remove', '--remove', [CompletionResultType]::ParameterName, 'Remove the stored key instead')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;default' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--unset', '--unset', [CompletionResultType]::ParameterName, 'Remove the default, so that requests without `--model` are routed')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;alias' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--remove', '--remove', [CompletionResultType]::ParameterName, 'Remove the alias NAME')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;path' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-config;help' {
            [CompletionResult]::new('preset', 'preset', [CompletionResultType]::ParameterValue, 'Add a provider and its models from a built-in preset')
            [CompletionResult]::new('global', 'global', [CompletionResultType]::ParameterValue, 'Set the `global` OpenAI-compatible provider used by models added without `--provider`')
            [CompletionResult]::new('add-model', 'add-model', [CompletionResultType]::ParameterValue, 'Add a model (a deployment of it, with `--replica`)')
            [CompletionResult]::new('remove-model', 'remove-model', [CompletionResultType]::ParameterValue, 'Remove a model (all its deployments, or those on `--provider`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List providers and models')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the effective configuration (all layers merged; keys masked)')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a short real request to each model and report latency and result')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the configuration to a file (without keys unless `--include-secrets`)')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Merge providers, models and keys from a file written by `export`')
            [CompletionResult]::new('set-key', 'set-key', [CompletionResultType]::ParameterValue, 'Store the API key of a provider in the credentials file')
            [CompletionResult]::new('default', 'default', [CompletionResultType]::ParameterValue, 'Show, set or `--unset` the default model: the one commands use when they name none')
            [CompletionResult]::new('alias', 'alias', [CompletionResultType]::ParameterValue, 'List, show, add or `--remove` model aliases: other names for configured models, accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`, then `llm-cooperation query -m fast "…"`)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print where the configuration files are')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llm-config;help;preset' {
            break
        }
        'llm-config;help;global' {
            break
        }
        'llm-config;help;add-model' {
            break
        }
        'llm-config;help;remove-model' {
            break
        }
        'llm-config;help;list' {
            break
        }
        'llm-config;help;show' {
            break
        }
        'llm-config;help;test' {
            break
        }
        'llm-config;help;export' {
            break
        }
        'llm-config;help;import' {
            break
        }
        'llm-config;help;set-key' {
            break
        }
        'llm-config;help;default' {
            break
        }
        'llm-config;help;alias' {
            break
        }
        'llm-config;help;path' {
            break
        }
        'llm-config;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
