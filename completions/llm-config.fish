# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_llm_config_global_optspecs
    string join \n config= v/verbose color= h/help V/version
end

function __fish_llm_config_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_llm_config_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_llm_config_using_subcommand
    set -l cmd (__fish_llm_config_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c llm-config -n "__fish_llm_config_needs_command" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_needs_command" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_needs_command" -s V -l version -d 'Print version'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "preset" -d 'Add a provider and its models from a built-in preset'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "global" -d 'Set the `global` OpenAI-compatible provider used by models added without `--provider`'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "add-model" -d 'Add a model (a deployment of it, with `--replica`)'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "remove-model" -d 'Remove a model (all its deployments, or those on `--provider`)'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "list" -d 'List providers and models'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "show" -d 'Print the effective configuration (all layers merged; keys masked)'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "test" -d 'Send a short real request to each model and report latency and result'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "export" -d 'Write the configuration to a file (without keys unless `--include-secrets`)'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "import" -d 'Merge providers, models and keys from a file written by `export`'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "set-key" -d 'Store the API key of a provider in the credentials file'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "default" -d 'Show, set or `--unset` the default model: the one commands use when they name none'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "alias" -d 'List, show, add or `--remove` model aliases: other names for configured models, accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`, then `llm-cooperation query -m fast "…"`)'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "path" -d 'Print where the configuration files are'
complete -c llm-config -n "__fish_llm_config_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -s n -l name -d 'Preset name' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -s k -l api-key -d 'API key to store (else asked on a terminal, or read from the preset\'s variable)' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -l base-url -d 'Use a different base URL (e.g. a proxy) for this provider' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -l list -d 'List the presets and their models instead'
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -l json -d 'Machine-readable output'
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand preset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand global" -l base-url -d 'Base URL of an OpenAI-compatible API, including the version path (`…/v1`)' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand global" -s k -l api-key -d 'API key for it (stored in the credentials file)' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand global" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand global" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand global" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand global" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -s n -l name -d 'The name requests use' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -s p -l path -d 'The model id sent upstream' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l provider -d 'Provider (default: `global`)' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l tasks -d 'What the model is good at: space- or comma-separated, or repeated (`--tasks reasoning math`, `--tasks reasoning,math`)' -r -f -a "chat\t''
code\t''
math\t''
reasoning\t''
translation\t''
summarization\t''
extraction\t''
creative\t''
vision\t''
long-context\t''
embedding\t'An embedding model: it serves `/v1/embeddings` (and `embed`), never chat'"
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l tier -d 'Quality tier, 1 (weakest) to 5 (strongest)' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l max-tokens -d 'Default most tokens to generate' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l temperature -d 'Default temperature, 0.0 to 2.0' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l context-window -d 'Context window in tokens' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l price-in -d 'USD per million input tokens' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l price-out -d 'USD per million output tokens' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l concurrency -d 'Most requests in flight at once' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l weight -d 'Share of traffic among replicas' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -l replica -d 'Add another deployment of an existing name instead of replacing it'
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand add-model" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand remove-model" -s n -l name -d 'Model name' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand remove-model" -l provider -d 'Only the deployment on this provider' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand remove-model" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand remove-model" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand remove-model" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand remove-model" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand list" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand list" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand list" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand list" -l json -d 'Same as `--format json`'
complete -c llm-config -n "__fish_llm_config_using_subcommand list" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand show" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand show" -l json -d 'Print JSON instead of TOML'
complete -c llm-config -n "__fish_llm_config_using_subcommand show" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -s m -l model -d 'Only this model' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -l prompt -d 'The prompt sent' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -l json -d 'Machine-readable output'
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand export" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand export" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand export" -l include-secrets -d 'Also write the API keys (the file is then created with mode 0600)'
complete -c llm-config -n "__fish_llm_config_using_subcommand export" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand import" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand import" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand import" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -s p -l provider -d 'Provider name' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -s k -l key -d 'The key (else asked on a terminal, or read from standard input when piped)' -r
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -l remove -d 'Remove the stored key instead'
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand set-key" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand default" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand default" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand default" -l unset -d 'Remove the default, so that requests without `--model` are routed'
complete -c llm-config -n "__fish_llm_config_using_subcommand default" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand default" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand alias" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand alias" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand alias" -l remove -d 'Remove the alias NAME'
complete -c llm-config -n "__fish_llm_config_using_subcommand alias" -l json -d 'Machine-readable output'
complete -c llm-config -n "__fish_llm_config_using_subcommand alias" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand alias" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand path" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-config -n "__fish_llm_config_using_subcommand path" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-config -n "__fish_llm_config_using_subcommand path" -l json -d 'Machine-readable output'
complete -c llm-config -n "__fish_llm_config_using_subcommand path" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-config -n "__fish_llm_config_using_subcommand path" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "preset" -d 'Add a provider and its models from a built-in preset'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "global" -d 'Set the `global` OpenAI-compatible provider used by models added without `--provider`'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "add-model" -d 'Add a model (a deployment of it, with `--replica`)'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "remove-model" -d 'Remove a model (all its deployments, or those on `--provider`)'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "list" -d 'List providers and models'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "show" -d 'Print the effective configuration (all layers merged; keys masked)'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "test" -d 'Send a short real request to each model and report latency and result'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "export" -d 'Write the configuration to a file (without keys unless `--include-secrets`)'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "import" -d 'Merge providers, models and keys from a file written by `export`'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "set-key" -d 'Store the API key of a provider in the credentials file'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "default" -d 'Show, set or `--unset` the default model: the one commands use when they name none'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "alias" -d 'List, show, add or `--remove` model aliases: other names for configured models, accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`, then `llm-cooperation query -m fast "…"`)'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "path" -d 'Print where the configuration files are'
complete -c llm-config -n "__fish_llm_config_using_subcommand help; and not __fish_seen_subcommand_from preset global add-model remove-model list show test export import set-key default alias path help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
