
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'llm-cooperation' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'llm-cooperation'
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
        'llm-cooperation' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--no-log', '--no-log', [CompletionResultType]::ParameterName, 'Do not record this run in the history (`llm-cooperation logs`); also accepted after the commands that record runs (query, chat, cooperate, service)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'Ask one model a question')
            [CompletionResult]::new('ask', 'ask', [CompletionResultType]::ParameterValue, 'Ask one model a question')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`; end a line with `\` to continue it, or wrap a block in `"""`')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'List, search, show and delete the history of runs')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List the configured models: tasks, tier, price, context window and readiness')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Check that each provider answers (and how fast), and show a running server''s stats')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a short real request to each model and report latency and result')
            [CompletionResult]::new('cooperate', 'cooperate', [CompletionResultType]::ParameterValue, 'Make several models work on one task: sequential, parallel, voting, pipeline, ensemble (mixture-of-agents) or cascade')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'Analyse a document, find insight in data, or support a decision')
            [CompletionResult]::new('embed', 'embed', [CompletionResultType]::ParameterValue, 'Turn text into vectors with an embedding model (a model with the task `embedding`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llm-cooperation;query' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'The prompt, as an option')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'The prompt, as an option')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input')
            [CompletionResult]::new('--attach', '--attach', [CompletionResultType]::ParameterName, 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard input, then the prompt arguments); without the placeholder the input follows it')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Continue the conversation with this session id (`llm-cooperation logs sessions` lists them)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)')
            [CompletionResult]::new('--strategy', '--strategy', [CompletionResultType]::ParameterName, 'How the router picks a model when none is named')
            [CompletionResult]::new('--quality-priority', '--quality-priority', [CompletionResultType]::ParameterName, 'For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'A system prompt')
            [CompletionResult]::new('--system', '--system', [CompletionResultType]::ParameterName, 'A system prompt')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Most tokens to generate')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Sampling temperature, 0.0 to 2.0')
            [CompletionResult]::new('--temperature', '--temperature', [CompletionResultType]::ParameterName, 'Sampling temperature, 0.0 to 2.0')
            [CompletionResult]::new('--top-p', '--top-p', [CompletionResultType]::ParameterName, 'Nucleus sampling, 0.0 to 1.0')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed for reproducible sampling (where the upstream supports it)')
            [CompletionResult]::new('--stop', '--stop', [CompletionResultType]::ParameterName, 'Stop generating at this text (repeatable)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`')
            [CompletionResult]::new('--allow-cooperation', '--allow-cooperation', [CompletionResultType]::ParameterName, 'Let the router hand a complex request (complexity above 0.6) to several models: voting among the top three for math, otherwise parallel answers merged by the best')
            [CompletionResult]::new('--stream', '--stream', [CompletionResultType]::ParameterName, 'Stream the answer even when stdout is not a terminal')
            [CompletionResult]::new('--no-stream', '--no-stream', [CompletionResultType]::ParameterName, 'Wait for the whole answer instead of streaming it')
            [CompletionResult]::new('--no-log', '--no-log', [CompletionResultType]::ParameterName, 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;ask' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'The prompt, as an option')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'The prompt, as an option')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input')
            [CompletionResult]::new('--attach', '--attach', [CompletionResultType]::ParameterName, 'Attach a file (repeatable): a text file is put in the prompt under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard input, then the prompt arguments); without the placeholder the input follows it')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Continue the conversation with this session id (`llm-cooperation logs sessions` lists them)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model name from the configuration, or `auto` to let the router pick (the default when neither this nor `[defaults] model` is set, or when `--strategy` is given)')
            [CompletionResult]::new('--strategy', '--strategy', [CompletionResultType]::ParameterName, 'How the router picks a model when none is named')
            [CompletionResult]::new('--quality-priority', '--quality-priority', [CompletionResultType]::ParameterName, 'For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'A system prompt')
            [CompletionResult]::new('--system', '--system', [CompletionResultType]::ParameterName, 'A system prompt')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Most tokens to generate')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Sampling temperature, 0.0 to 2.0')
            [CompletionResult]::new('--temperature', '--temperature', [CompletionResultType]::ParameterName, 'Sampling temperature, 0.0 to 2.0')
            [CompletionResult]::new('--top-p', '--top-p', [CompletionResultType]::ParameterName, 'Nucleus sampling, 0.0 to 1.0')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed for reproducible sampling (where the upstream supports it)')
            [CompletionResult]::new('--stop', '--stop', [CompletionResultType]::ParameterName, 'Stop generating at this text (repeatable)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Continue the most recent conversation in the history (a query or a chat): its earlier turns, model and system prompt go with this prompt, and this exchange joins it')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Print the routing decision (task, complexity, every candidate with its score and why it won or lost) on stderr, or in the JSON output with `--json`')
            [CompletionResult]::new('--allow-cooperation', '--allow-cooperation', [CompletionResultType]::ParameterName, 'Let the router hand a complex request (complexity above 0.6) to several models: voting among the top three for math, otherwise parallel answers merged by the best')
            [CompletionResult]::new('--stream', '--stream', [CompletionResultType]::ParameterName, 'Stream the answer even when stdout is not a terminal')
            [CompletionResult]::new('--no-stream', '--no-stream', [CompletionResultType]::ParameterName, 'Wait for the whole answer instead of streaming it')
            [CompletionResult]::new('--no-log', '--no-log', [CompletionResultType]::ParameterName, 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms, ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;chat' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Model name, or `auto` for the router (default: `[defaults] model`, else `auto`)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model name, or `auto` for the router (default: `[defaults] model`, else `auto`)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'A system prompt for the session')
            [CompletionResult]::new('--system', '--system', [CompletionResultType]::ParameterName, 'A system prompt for the session')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Attach a file to the first message (repeatable): a text file is put in it under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image')
            [CompletionResult]::new('--attach', '--attach', [CompletionResultType]::ParameterName, 'Attach a file to the first message (repeatable): a text file is put in it under its name, an image (PNG, JPEG, GIF, WebP) is sent as an image')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Resume the session with this name, or start one under it')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Most tokens per answer')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Sampling temperature, 0.0 to 2.0')
            [CompletionResult]::new('--temperature', '--temperature', [CompletionResultType]::ParameterName, 'Sampling temperature, 0.0 to 2.0')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Resume the most recent chat session')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Resume the most recent chat session')
            [CompletionResult]::new('--no-log', '--no-log', [CompletionResultType]::ParameterName, 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;logs' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many runs to list, newest first')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'How many runs to list, newest first')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Only runs answered by this model')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Only runs answered by this model')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Only runs of this cooperation mode, or of this service (`decision-support`) or service type (`decision-support/comparison`)')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only runs of this kind')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only runs whose prompt or answer contains this text')
            [CompletionResult]::new('--search', '--search', [CompletionResultType]::ParameterName, 'Only runs whose prompt or answer contains this text')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Only the runs of this conversation (`logs sessions` lists them)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Everything recorded about one run, its receipt included')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete runs by id, or all of them')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llm-cooperation;logs;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;logs;sessions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;logs;rm' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Delete the whole history (on a terminal, after asking)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask before `--all` deletes the history')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask before `--all` deletes the history')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;logs;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Everything recorded about one run, its receipt included')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete runs by id, or all of them')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llm-cooperation;logs;help;show' {
            break
        }
        'llm-cooperation;logs;help;sessions' {
            break
        }
        'llm-cooperation;logs;help;rm' {
            break
        }
        'llm-cooperation;logs;help;help' {
            break
        }
        'llm-cooperation;models' {
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
        'llm-cooperation;status' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for each provider')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;test' {
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
        'llm-cooperation;cooperate' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'The task, as an option')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'The task, as an option')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How the models cooperate (default: `pipeline` with `--workflow`, else `parallel`)')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'The models, comma-separated or repeated; `auto` lets the router pick, and a model may repeat (`--models m,m,m` votes three samples of one model: each copy gets its own seed, and a model at temperature 0 samples at 0.7, as the receipt notes). For `cascade`, the highest tier is the strong model and the others are tried first')
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'How `parallel` answers become one (default `synthesize`); `sequential` with `synthesize` adds an integrator that reads every version')
            [CompletionResult]::new('--judge', '--judge', [CompletionResultType]::ParameterName, 'The judge or aggregator: it merges (`synthesize`, `ensemble`), picks the best (`best`), breaks voting ties, integrates `sequential` answers, or verifies a `cascade`''s cheap answer. Default: the highest-tier model, where one is needed')
            [CompletionResult]::new('--rounds', '--rounds', [CompletionResultType]::ParameterName, 'Voting rounds: after the first, models see the tally and vote again while they disagree')
            [CompletionResult]::new('--layers', '--layers', [CompletionResultType]::ParameterName, 'Ensemble layers of proposers, each seeing the previous layer''s answers')
            [CompletionResult]::new('--workflow', '--workflow', [CompletionResultType]::ParameterName, 'A workflow file (TOML) of named steps with models, prompt templates and `depends_on`, for `pipeline`')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Most model calls in flight at once')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds each model call may take')
            [CompletionResult]::new('--quorum', '--quorum', [CompletionResultType]::ParameterName, 'Answers each tally or integration needs (default: at least half of its models)')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Most tokens each model call may generate')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Sampling temperature of every model call, 0.0 to 2.0')
            [CompletionResult]::new('--temperature', '--temperature', [CompletionResultType]::ParameterName, 'Sampling temperature of every model call, 0.0 to 2.0')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--fail-fast', '--fail-fast', [CompletionResultType]::ParameterName, 'Stop at the first failed step (default: keep going while a quorum of answers remains)')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print the plan (steps, models, dependencies, conditions) and exit without calling a model')
            [CompletionResult]::new('--no-log', '--no-log', [CompletionResultType]::ParameterName, 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer with its receipt as JSON; a failed or interrupted run prints `{text: null, error: {kind, message}, receipt}` with the partial receipt')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;service' {
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'What to produce. document-analysis: comprehensive (default), summary, key-points, sentiment; data-insight: trends (default), anomalies, statistics; decision-support: recommendation (default), comparison, risk')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Models to ask in parallel, their answers merged (default: one model the router picks)')
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'Models to ask in parallel, their answers merged (default: one model the router picks)')
            [CompletionResult]::new('--judge', '--judge', [CompletionResultType]::ParameterName, 'The model that merges several `--models` answers (default: the highest tier)')
            [CompletionResult]::new('--max-tokens', '--max-tokens', [CompletionResultType]::ParameterName, 'Most tokens each model call may generate')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds each model call may take')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--no-log', '--no-log', [CompletionResultType]::ParameterName, 'Do not record this run in the history (`llm-cooperation logs`). The variable takes 1/0, true/false, yes/no or on/off; empty is false')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the structured result (facts, analysis, findings, receipt) as JSON')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;embed' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'The embedding model (default: the first model with the task `embedding`)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'The embedding model (default: the first model with the task `embedding`)')
            [CompletionResult]::new('--dimensions', '--dimensions', [CompletionResultType]::ParameterName, 'Fewer dimensions than the model''s own (models that support it)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print `{model, usage, vectors}` as one JSON object')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'llm-cooperation;help' {
            [CompletionResult]::new('query', 'query', [CompletionResultType]::ParameterValue, 'Ask one model a question')
            [CompletionResult]::new('chat', 'chat', [CompletionResultType]::ParameterValue, 'Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`; end a line with `\` to continue it, or wrap a block in `"""`')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'List, search, show and delete the history of runs')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List the configured models: tasks, tier, price, context window and readiness')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Check that each provider answers (and how fast), and show a running server''s stats')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Send a short real request to each model and report latency and result')
            [CompletionResult]::new('cooperate', 'cooperate', [CompletionResultType]::ParameterValue, 'Make several models work on one task: sequential, parallel, voting, pipeline, ensemble (mixture-of-agents) or cascade')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'Analyse a document, find insight in data, or support a decision')
            [CompletionResult]::new('embed', 'embed', [CompletionResultType]::ParameterValue, 'Turn text into vectors with an embedding model (a model with the task `embedding`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'llm-cooperation;help;query' {
            break
        }
        'llm-cooperation;help;chat' {
            break
        }
        'llm-cooperation;help;logs' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Everything recorded about one run, its receipt included')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'The conversations (chat sessions and continued queries), most recently used first; `query --session ID`, `chat --session ID` and `logs --session ID` take their ids')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete runs by id, or all of them')
            break
        }
        'llm-cooperation;help;logs;show' {
            break
        }
        'llm-cooperation;help;logs;sessions' {
            break
        }
        'llm-cooperation;help;logs;rm' {
            break
        }
        'llm-cooperation;help;models' {
            break
        }
        'llm-cooperation;help;status' {
            break
        }
        'llm-cooperation;help;test' {
            break
        }
        'llm-cooperation;help;cooperate' {
            break
        }
        'llm-cooperation;help;service' {
            break
        }
        'llm-cooperation;help;embed' {
            break
        }
        'llm-cooperation;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
