# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_llm_cooperation_global_optspecs
    string join \n config= v/verbose color= no-log h/help V/version
end

function __fish_llm_cooperation_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_llm_cooperation_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_llm_cooperation_using_subcommand
    set -l cmd (__fish_llm_cooperation_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -l no-log -d 'Do not record this run in the history (`llm-cooperation logs`); also accepted after the commands that record runs (query, chat, cooperate, service)'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -s V -l version -d 'Print version'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "query" -d 'Ask one model a question'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "ask" -d 'Ask one model a question'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "chat" -d 'Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`; end a line with `\\` to continue it, or wrap a block in `"""`'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "logs" -d 'List, search, show and delete the history of runs'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "models" -d 'List the configured models: tasks, tier, price, context window and readiness'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "status" -d 'Check that each provider answers (and how fast), and show a running server\'s stats'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "test" -d 'Send a short real request to each model and report latency and result'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "cooperate" -d 'Make several models work on one task: sequential, parallel, voting, pipeline, ensemble (mixture-of-agents) or cascade'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "service" -d 'Analyse a document, find insight in data, or support a decision'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "embed" -d 'Turn text into vectors with an embedding model (a model with the task `embedding`)'
complete -c llm-cooperation -n "__fish_llm_cooperation_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s q -l query -d 'The prompt, as an option' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s a -l attach -d 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l template -d 'Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard input, then the prompt arguments); without the placeholder the input follows it' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l session -d 'Continue the conversation with this session id (`llm-cooperation logs sessions` lists them)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s m -l model -d 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l strategy -d 'How the router picks a model when none is named' -r -f -a "auto\t'Fit the task, then balance quality against price and latency by `quality_priority`'
fastest\t'Lowest observed latency (time to first token when streaming)'
cheapest\t'Lowest price for the estimated tokens'
quality\t'Highest quality tier'"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l quality-priority -d 'For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s s -l system -d 'A system prompt' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l max-tokens -d 'Most tokens to generate' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s t -l temperature -d 'Sampling temperature, 0.0 to 2.0' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l top-p -d 'Nucleus sampling, 0.0 to 1.0' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l seed -d 'Seed for reproducible sampling (where the upstream supports it)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l stop -d 'Stop generating at this text (repeatable)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s c -l continue -d 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l explain -d 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l allow-cooperation -d 'Let the router hand a complex request (complexity above 0.6) to several models: voting among the top three for math, otherwise parallel answers merged by the best'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l stream -d 'Stream the answer even when stdout is not a terminal'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l no-stream -d 'Wait for the whole answer instead of streaming it'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l no-log -d 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -l json -d 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand query" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s q -l query -d 'The prompt, as an option' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s a -l attach -d 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l template -d 'Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard input, then the prompt arguments); without the placeholder the input follows it' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l session -d 'Continue the conversation with this session id (`llm-cooperation logs sessions` lists them)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s m -l model -d 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l strategy -d 'How the router picks a model when none is named' -r -f -a "auto\t'Fit the task, then balance quality against price and latency by `quality_priority`'
fastest\t'Lowest observed latency (time to first token when streaming)'
cheapest\t'Lowest price for the estimated tokens'
quality\t'Highest quality tier'"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l quality-priority -d 'For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s s -l system -d 'A system prompt' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l max-tokens -d 'Most tokens to generate' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s t -l temperature -d 'Sampling temperature, 0.0 to 2.0' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l top-p -d 'Nucleus sampling, 0.0 to 1.0' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l seed -d 'Seed for reproducible sampling (where the upstream supports it)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l stop -d 'Stop generating at this text (repeatable)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s c -l continue -d 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l explain -d 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l allow-cooperation -d 'Let the router hand a complex request (complexity above 0.6) to several models: voting among the top three for math, otherwise parallel answers merged by the best'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l stream -d 'Stream the answer even when stdout is not a terminal'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l no-stream -d 'Wait for the whole answer instead of streaming it'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l no-log -d 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -l json -d 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand ask" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s m -l model -d 'Model name, or `auto` for the router (default: `[defaults] model`, else `auto`)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s s -l system -d 'A system prompt for the session' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s a -l attach -d 'Attach a file to the first message (repeatable): a text file is put in it under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -l session -d 'Resume the session with this name, or start one under it' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -l max-tokens -d 'Most tokens per answer' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s t -l temperature -d 'Sampling temperature, 0.0 to 2.0' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s c -l continue -d 'Resume the most recent chat session'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -l no-log -d 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand chat" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -s n -l count -d 'How many runs to list, newest first' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -s m -l model -d 'Only runs answered by this model' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -l mode -d 'Only runs of this cooperation mode, or of this service (`decision-support`) or service type (`decision-support/comparison`)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -l kind -d 'Only runs of this kind' -r -f -a "query\t''
chat\t''
cooperate\t''
service\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -s q -l search -d 'Only runs whose prompt or answer contains this text' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -l session -d 'Only the runs of this conversation (`logs sessions` lists them)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -l json -d 'Machine-readable output'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -f -a "show" -d 'Everything recorded about one run, its receipt included'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -f -a "sessions" -d 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -f -a "rm" -d 'Delete runs by id, or all of them'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and not __fish_seen_subcommand_from show sessions rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from show" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable output'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from sessions" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from sessions" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from sessions" -l json -d 'Machine-readable output'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from sessions" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from sessions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -l all -d 'Delete the whole history (on a terminal, after asking)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Do not ask before `--all` deletes the history'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -l json -d 'Machine-readable output'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "show" -d 'Everything recorded about one run, its receipt included'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "sessions" -d 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Delete runs by id, or all of them'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand models" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand models" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand models" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand models" -l json -d 'Same as `--format json`'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand models" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand models" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand status" -l timeout -d 'Seconds to wait for each provider' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand status" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand status" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand status" -l json -d 'Machine-readable output'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand status" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -s m -l model -d 'Only this model' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -l prompt -d 'The prompt sent' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -l json -d 'Machine-readable output'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -s q -l query -d 'The task, as an option' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l mode -d 'How the models cooperate (default: `pipeline` with `--workflow`, else `parallel`)' -r -f -a "sequential\t'Each model improves the previous answer'
parallel\t'All at once, then integrated (concat, synthesize or best)'
voting\t'Each model answers; the normalised final answers are tallied'
pipeline\t'Named stages (draft → critique → revise) or a workflow file'
ensemble\t'Mixture-of-agents: layers of proposers, then an aggregator'
cascade\t'Cheap models first; the strong one only when they disagree or are rejected'"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l models -d 'The models, comma-separated or repeated; `auto` lets the router pick, and a model may repeat (`--models m,m,m` votes three samples of one model: each copy gets its own seed, and a model at temperature 0 samples at 0.7, as the receipt notes). For `cascade`, the highest tier is the strong model and the others are tried first' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l integration -d 'How `parallel` answers become one (default `synthesize`); `sequential` with `synthesize` adds an integrator that reads every version' -r -f -a "concat\t'Every answer, one after another, headed by its model'
synthesize\t'An aggregator model merges the answers into one (`ensemble` in the original system)'
best\t'A judge model picks the best answer and says why'"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l judge -d 'The judge or aggregator: it merges (`synthesize`, `ensemble`), picks the best (`best`), breaks voting ties, integrates `sequential` answers, or verifies a `cascade`\'s cheap answer. Default: the highest-tier model, where one is needed' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l rounds -d 'Voting rounds: after the first, models see the tally and vote again while they disagree' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l layers -d 'Ensemble layers of proposers, each seeing the previous layer\'s answers' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l workflow -d 'A workflow file (TOML) of named steps with models, prompt templates and `depends_on`, for `pipeline`' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l concurrency -d 'Most model calls in flight at once' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l timeout -d 'Seconds each model call may take' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l quorum -d 'Answers each tally or integration needs (default: at least half of its models)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l max-tokens -d 'Most tokens each model call may generate' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -s t -l temperature -d 'Sampling temperature of every model call, 0.0 to 2.0' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l fail-fast -d 'Stop at the first failed step (default: keep going while a quorum of answers remains)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l plan -d 'Print the plan (steps, models, dependencies, conditions) and exit without calling a model'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l no-log -d 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -l json -d 'Print the answer with its receipt as JSON; a failed or interrupted run prints `{text: null, error: {kind, message}, receipt}` with the partial receipt'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand cooperate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l type -d 'What to produce. document-analysis: comprehensive (default), summary, key-points, sentiment; data-insight: trends (default), anomalies, statistics; decision-support: recommendation (default), comparison, risk' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -s m -l models -d 'Models to ask in parallel, their answers merged (default: one model the router picks)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l judge -d 'The model that merges several `--models` answers (default: the highest tier)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l max-tokens -d 'Most tokens each model call may generate' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l timeout -d 'Seconds each model call may take' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l no-log -d 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -l json -d 'Print the structured result (facts, analysis, findings, receipt) as JSON'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand service" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -s m -l model -d 'The embedding model (default: the first model with the task `embedding`)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -l dimensions -d 'Fewer dimensions than the model\'s own (models that support it)' -r
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -l json -d 'Print `{model, usage, vectors}` as one JSON object'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand embed" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "query" -d 'Ask one model a question'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "chat" -d 'Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`; end a line with `\\` to continue it, or wrap a block in `"""`'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "logs" -d 'List, search, show and delete the history of runs'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "models" -d 'List the configured models: tasks, tier, price, context window and readiness'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "status" -d 'Check that each provider answers (and how fast), and show a running server\'s stats'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "test" -d 'Send a short real request to each model and report latency and result'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "cooperate" -d 'Make several models work on one task: sequential, parallel, voting, pipeline, ensemble (mixture-of-agents) or cascade'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "service" -d 'Analyse a document, find insight in data, or support a decision'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "embed" -d 'Turn text into vectors with an embedding model (a model with the task `embedding`)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and not __fish_seen_subcommand_from query chat logs models status test cooperate service embed help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and __fish_seen_subcommand_from logs" -f -a "show" -d 'Everything recorded about one run, its receipt included'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and __fish_seen_subcommand_from logs" -f -a "sessions" -d 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids'
complete -c llm-cooperation -n "__fish_llm_cooperation_using_subcommand help; and __fish_seen_subcommand_from logs" -f -a "rm" -d 'Delete runs by id, or all of them'
