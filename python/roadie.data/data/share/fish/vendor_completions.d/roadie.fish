# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_roadie_global_optspecs
    string join \n inventory= F/ssh-config= l/user= p/port= identity= known-hosts= accept-new insecure-ignore-host-key connect-timeout= persist= max-starts= shard= timings confirm= json color= h/help V/version
end

function __fish_roadie_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_roadie_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_roadie_using_subcommand
    set -l cmd (__fish_roadie_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c roadie -n "__fish_roadie_needs_command" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_needs_command" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_needs_command" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_needs_command" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_needs_command" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_needs_command" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_needs_command" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_needs_command" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_needs_command" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_needs_command" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_needs_command" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_needs_command" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_needs_command" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_needs_command" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_needs_command" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_needs_command" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_needs_command" -s V -l version -d 'Print version'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "debug" -d 'Find debugger sessions (remote-pdb, web-pdb) waiting on the hosts (or published there) and tunnel to them; -- pytest ... runs tests wired to one; --publish TARGET -- pytest ... runs them here and publishes their sessions to TARGET'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "diagnose" -d 'Why did something die? OOM kills from the kernel log, memory, cgroup limits, containers killed by OOM, disk space'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "demo" -d 'Show what roadie is for: sandbox hosts, a Django site, sessions, a reset, a refusal'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "run" -d 'Run a command on every host of TARGET'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "hosts" -d 'List the hosts of TARGET as resolved; --check connects to each'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "env" -d 'Read a server\'s .env (secrets masked), or edit it in place'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "logs" -d 'Show server logs (journal or files) from every host; -f follows them across reconnects'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "task" -d 'Run a playbook task (flush, create_session, ...) on every host of TARGET'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "shell" -d 'Open an interactive login shell on one host (a change: --confirm ENV for a protected one)'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "tasks" -d 'List the playbook tasks: shipped ones and those in playbooks/'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "tunnel" -d 'Forward local ports to ports on (or seen from) the hosts; --exec runs a command with the database settings'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "put" -d 'Copy local files and directories to every host of TARGET (SFTP, atomically per file)'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "get" -d 'Copy a file or directory from every host of TARGET'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "persist" -d 'Connections kept for reuse (--persist): status, stop'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "sandbox" -d 'Local OpenSSH servers to try roadie on'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, elvish, powershell) to stdout'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "man" -d 'Print roadie\'s man page (roff) to stdout; --dir writes every subcommand\'s too'
complete -c roadie -n "__fish_roadie_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l publish -d 'Run the test command here (a CI runner) and publish each session that waits to TARGET, a host this one can reach, where `roadie debug TARGET` finds it (ROADIE_DEBUG_PUBLISH=0: just run it)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l interval -d 'How often to look for sessions' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l wait -d 'With a command: how long a failing test waits for a debugger before it carries on unattended (0 waits forever)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l cwd -d 'With a command: the remote directory to run it in (~/ is the remote home)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l local-root -d 'The local checkout of the code a debugpy session runs: its VS Code attach snippet maps the session\'s remote directory to it' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l pid -d 'With --stacks: only this process' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l match -d 'With --stacks: the Python processes whose command line matches PATTERN (a regular expression) instead of pytest\'s' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l slow -d 'With --running: flag tests that have run longer than TIME' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l parallel -d 'Hosts looked at once (`--once`)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand debug" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand debug" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l attach -d 'Connect this terminal to a waiting remote-pdb session (`:help` for switching between several)'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l once -d 'List the waiting sessions once and exit (no tunnels)'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l stacks -d 'Show the current stack of every thread of each test process (pytest and its xdist workers) on the hosts, for a test that hangs (needs py-spy on the host); then exit'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l locals -d 'With --stacks: each frame\'s local variables too'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l running -d 'List every test process on the hosts (pytest-xdist workers included) with the test it is in and for how long, longest first; then exit'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand debug" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l since -d 'OOM kills since then: a duration back (1h, 30m) or a time ("2026-11-20 10:00", server\'s time zone unless one is given). Default: since the server booted' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l pid -d 'Show the cgroup memory limits that apply to this process' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l name -d 'Show the cgroup memory limits of processes whose name matches this extended regular expression (as pgrep matches names)' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand diagnose" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand demo" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand demo" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l keep -d 'Leave the sandbox and the site running afterwards'
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand demo" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand demo" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l cwd -d 'Run in this remote directory (~/ is the remote home)' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -s e -l env -d 'Set a variable for the command (quoted into the command line)' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l watch-memory -d 'Sample the resident memory of the command\'s whole process tree on the server (every 0.5 s, or =INTERVAL), then show its peak, a plot, and, if it was killed, whether the kernel\'s OOM killer did it' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l timeout -d 'Stop the work on a host after this long (e.g. 30, 30s, 5m)' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l parallel -d 'Work on at most this many hosts at once' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l stacks-after -d 'When a command (a test run) has said nothing for TIME, show the stacks of its Python processes once (py-spy on the host), so that a hung job leaves them in its log' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand run" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand run" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand run" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand run" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand run" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand run" -l sudo -d 'Run with sudo (non-interactive; the password, if needed, comes from ROADIE_SUDO_PASSWORD)'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l destroy -d 'The command destroys data (a database reset, say): apply the destroy safeguards (never on a protected environment; server markers checked)'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l check -d 'Check every safeguard and print the commands per host, but run nothing'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand run" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand run" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l check -d 'Connect to each host: show its host key and whether login works'
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand hosts" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand env" -l file -d 'The .env on the server (default: vars.env_file, else ~/sites/HOST/.env)' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l set -d 'Set KEY to VALUE (in place; comments and order kept)' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l unset -d 'Remove KEY' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l ensure-secret -d 'Give KEY a strong random value if it has none (like a first deploy)' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand env" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand env" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand env" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand env" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand env" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand env" -l reveal -d 'Show secret values instead of masking them'
complete -c roadie -n "__fish_roadie_using_subcommand env" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand env" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand env" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand env" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand env" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l unit -d 'A systemd unit\'s journal (journalctl -u UNIT)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l file -d 'A log file (tail)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l since -d 'Only entries since then (journal): a duration back (10m, 2h) or a time journalctl understands ("2026-11-20 10:00")' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l grep -d 'Only lines matching this extended regular expression (grep -E)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -s n -l lines -d 'How many lines to show first' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l parallel -d 'Hosts read from at once (with -f, every host is followed)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand logs" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand logs" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand logs" -s f -l follow -d 'Keep following new lines, across reconnects'
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand logs" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand logs" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand task" -s P -l param -d 'A parameter of the task (repeatable)' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l timeout -d 'Stop the work on a host after this long (e.g. 30, 30s, 5m)' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l parallel -d 'Work on at most this many hosts at once' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l stacks-after -d 'When a command (a test run) has said nothing for TIME, show the stacks of its Python processes once (py-spy on the host), so that a hung job leaves them in its log' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand task" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand task" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand task" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand task" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand task" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand task" -l check -d 'Check every safeguard and print the commands per host, but run nothing'
complete -c roadie -n "__fish_roadie_using_subcommand task" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand task" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand task" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand task" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand task" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand shell" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand shell" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand shell" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand shell" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand tasks" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l bind -d 'The local address to listen on' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l exec -d 'Run COMMAND locally with the server\'s database settings (from its .env) pointed at the tunnel; close the tunnel when it exits and pass its exit code through'
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand tunnel" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand put" -l parallel -d 'Hosts worked on at once' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand put" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand put" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand put" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand put" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand put" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand put" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand put" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand put" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand put" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand put" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand get" -l parallel -d 'Hosts worked on at once' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand get" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand get" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand get" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand get" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand get" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand get" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand get" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand get" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand get" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand get" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -f -a "status" -d 'List the kept connections (of TARGET\'s hosts, or all)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -f -a "stop" -d 'End the kept connections (of TARGET\'s hosts, or all)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -f -a "hold" -d 'The holder itself, started by roadie (reads its request on stdin)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and not __fish_seen_subcommand_from status stop hold help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from hold" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "status" -d 'List the kept connections (of TARGET\'s hosts, or all)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "stop" -d 'End the kept connections (of TARGET\'s hosts, or all)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "hold" -d 'The holder itself, started by roadie (reads its request on stdin)'
complete -c roadie -n "__fish_roadie_using_subcommand persist; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -f -a "up" -d 'Start N sshd servers on 127.0.0.2, 127.0.0.3, ... and write the `sandbox` environment'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -f -a "down" -d 'Stop the sandbox servers (keys and the environment are kept)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -f -a "status" -d 'Show whether the sandbox servers are running'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and not __fish_seen_subcommand_from up down status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l hosts -d 'How many hosts' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l var -d 'Set a var of the `sandbox` environment (kept by later `up`s)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l production -d 'Also start a protected `production` host, pinned by its key and with a login key of its own, to see the safeguards refuse'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from up" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from down" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from help" -f -a "up" -d 'Start N sshd servers on 127.0.0.2, 127.0.0.3, ... and write the `sandbox` environment'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from help" -f -a "down" -d 'Stop the sandbox servers (keys and the environment are kept)'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show whether the sandbox servers are running'
complete -c roadie -n "__fish_roadie_using_subcommand sandbox; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand completions" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand completions" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand completions" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand completions" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand man" -l dir -d 'Write every page (roadie.1, and roadie-SUBCOMMAND.1 for each subcommand) into this directory instead' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand man" -l inventory -d 'Inventory file (default: roadie.yaml here or in a parent directory)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand man" -s F -l ssh-config -d 'Read only this ssh_config file (like ssh -F; `none` reads none)' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand man" -s l -l user -d 'Log in as this user (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -s p -l port -d 'Connect to this port (overrides roadie.yaml and ssh_config)' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -l identity -d 'Offer only this private key' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand man" -l known-hosts -d 'Use this known_hosts file instead of the configured ones' -r -F
complete -c roadie -n "__fish_roadie_using_subcommand man" -l connect-timeout -d 'Give up connecting after this long (e.g. 10, 10s, 1m; default 10s or ssh_config\'s ConnectTimeout)' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -l persist -d 'Keep each connection open this long after its last use (e.g. 60s), so that later invocations reuse it instead of logging in again; 0: never. Wins over `persist:` in roadie.yaml' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -l max-starts -d 'At most this many connections to one server (the jump host, when there is one) may be logging in at once; sshd\'s MaxStartups drops unauthenticated connections past 10 by default' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -l shard -d 'Work on shard I of N of the target\'s hosts: host k (from 0, in target order) is in shard (k mod N) + 1' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -l confirm -d 'Allow changes to this protected environment (name it exactly). Destroy steps stay refused there whatever is given' -r
complete -c roadie -n "__fish_roadie_using_subcommand man" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c roadie -n "__fish_roadie_using_subcommand man" -l accept-new -d 'Trust and record host keys seen for the first time (changed keys are still refused)'
complete -c roadie -n "__fish_roadie_using_subcommand man" -l insecure-ignore-host-key -d 'DANGEROUS: accept any host key, even a changed one'
complete -c roadie -n "__fish_roadie_using_subcommand man" -l timings -d 'Print per host where the time went: start, connect, kex, auth, guard, command'
complete -c roadie -n "__fish_roadie_using_subcommand man" -l json -d 'Print JSON lines instead of text'
complete -c roadie -n "__fish_roadie_using_subcommand man" -s h -l help -d 'Print help'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "debug" -d 'Find debugger sessions (remote-pdb, web-pdb) waiting on the hosts (or published there) and tunnel to them; -- pytest ... runs tests wired to one; --publish TARGET -- pytest ... runs them here and publishes their sessions to TARGET'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "diagnose" -d 'Why did something die? OOM kills from the kernel log, memory, cgroup limits, containers killed by OOM, disk space'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "demo" -d 'Show what roadie is for: sandbox hosts, a Django site, sessions, a reset, a refusal'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "run" -d 'Run a command on every host of TARGET'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "hosts" -d 'List the hosts of TARGET as resolved; --check connects to each'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "env" -d 'Read a server\'s .env (secrets masked), or edit it in place'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "logs" -d 'Show server logs (journal or files) from every host; -f follows them across reconnects'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "task" -d 'Run a playbook task (flush, create_session, ...) on every host of TARGET'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "shell" -d 'Open an interactive login shell on one host (a change: --confirm ENV for a protected one)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "tasks" -d 'List the playbook tasks: shipped ones and those in playbooks/'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "tunnel" -d 'Forward local ports to ports on (or seen from) the hosts; --exec runs a command with the database settings'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "put" -d 'Copy local files and directories to every host of TARGET (SFTP, atomically per file)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "get" -d 'Copy a file or directory from every host of TARGET'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "persist" -d 'Connections kept for reuse (--persist): status, stop'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "sandbox" -d 'Local OpenSSH servers to try roadie on'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "completions" -d 'Print shell completions (bash, zsh, fish, elvish, powershell) to stdout'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "man" -d 'Print roadie\'s man page (roff) to stdout; --dir writes every subcommand\'s too'
complete -c roadie -n "__fish_roadie_using_subcommand help; and not __fish_seen_subcommand_from debug diagnose demo run hosts env logs task shell tasks tunnel put get persist sandbox completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and __fish_seen_subcommand_from persist" -f -a "status" -d 'List the kept connections (of TARGET\'s hosts, or all)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and __fish_seen_subcommand_from persist" -f -a "stop" -d 'End the kept connections (of TARGET\'s hosts, or all)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and __fish_seen_subcommand_from persist" -f -a "hold" -d 'The holder itself, started by roadie (reads its request on stdin)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and __fish_seen_subcommand_from sandbox" -f -a "up" -d 'Start N sshd servers on 127.0.0.2, 127.0.0.3, ... and write the `sandbox` environment'
complete -c roadie -n "__fish_roadie_using_subcommand help; and __fish_seen_subcommand_from sandbox" -f -a "down" -d 'Stop the sandbox servers (keys and the environment are kept)'
complete -c roadie -n "__fish_roadie_using_subcommand help; and __fish_seen_subcommand_from sandbox" -f -a "status" -d 'Show whether the sandbox servers are running'
