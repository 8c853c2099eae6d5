
use builtin;
use str;

set edit:completion:arg-completer[llm-server] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'llm-server'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'llm-server'= {
            cand --config 'Configuration directory (holds `config.toml` and `credentials.toml`)'
            cand --color 'When to use colour'
            cand --host 'Address to bind (default: `[server] host`, else 127.0.0.1)'
            cand --port 'Port to bind (default: `[server] port`, else 8080; 0 picks a free one)'
            cand --token 'Bearer token clients must send (repeatable, or comma-separated in the variable); none means no authentication. `/health` and `/metrics` then need one too unless `[server] public_health` / `public_metrics` are set'
            cand --state 'Where replicas share sessions, cooldowns, counters, rate limits and cached answers: `memory` (default) or `redis://host:port/db` (then also `[server] state`)'
            cand --workers 'Threads serving HTTP (default: `[server] workers`, else one per core)'
            cand -v 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand --verbose 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
