complete -c llm-server -l config -d 'Configuration directory (holds `config.toml` and `credentials.toml`)' -r -F
complete -c llm-server -l color -d 'When to use colour' -r -f -a "auto\t'Colour on a terminal, unless `NO_COLOR` is set'
always\t''
never\t''"
complete -c llm-server -l host -d 'Address to bind (default: `[server] host`, else 127.0.0.1)' -r
complete -c llm-server -l port -d 'Port to bind (default: `[server] port`, else 8080; 0 picks a free one)' -r
complete -c llm-server -l token -d 'Bearer token clients must send (repeatable, or comma-separated in the variable); none means no authentication. `/health` and `/metrics` then need one too unless `[server] public_health` / `public_metrics` are set' -r
complete -c llm-server -l state -d 'Where replicas share sessions, cooldowns, counters, rate limits and cached answers: `memory` (default) or `redis://host:port/db` (then also `[server] state`)' -r
complete -c llm-server -l workers -d 'Threads serving HTTP (default: `[server] workers`, else one per core)' -r
complete -c llm-server -s v -l verbose -d 'More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace)'
complete -c llm-server -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llm-server -s V -l version -d 'Print version'
