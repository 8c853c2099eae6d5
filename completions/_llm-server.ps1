
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'llm-server' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'llm-server'
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
        'llm-server' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration directory (holds `config.toml` and `credentials.toml`)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Address to bind (default: `[server] host`, else 127.0.0.1)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to bind (default: `[server] port`, else 8080; 0 picks a free one)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Bearer token clients must send (repeatable, or comma-separated in the variable); none means no authentication. `/health` and `/metrics` then need one too unless `[server] public_health` / `public_metrics` are set')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Where replicas share sessions, cooldowns, counters, rate limits and cached answers: `memory` (default) or `redis://host:port/db` (then also `[server] state`)')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Threads serving HTTP (default: `[server] workers`, else one per core)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
