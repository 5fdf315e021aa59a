# roadie diagnose: gathers the report's items on a host, each as a marked
# section (see sections.rs). Arguments: token, journalctl's --since (empty:
# this boot), pid, name pattern, site directory (empty: none).
# POSIX sh has no local variables: each function has names of its own.
token=$1 since=$2 pid=$3 pattern=$4 site=$5
export LC_ALL=C
mark() { printf '\n==roadie:%s:%s==\n' "$token" "$1"; }
sec() {
  sec_name=$1; shift
  mark "begin $sec_name"; mark "begin $sec_name" >&2
  "$@"
  sec_rc=$?
  mark "end $sec_name rc=$sec_rc"; mark "end $sec_name" >&2
}
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  printf '%s: not installed (not found on PATH)\n' "$1" >&2
  return 127
}
# A tool that hangs (a dead NFS mount, a stuck Docker daemon) must not hold
# up the whole report.
bounded() {
  if command -v timeout >/dev/null 2>&1; then timeout 20 "$@"; else "$@"; fi
}
OOM='invoked oom-killer|oom-kill:|[Oo]ut of memory|Killed process|Kill process|memory: usage|swap: usage|Memory cgroup stats for|killed as a result of limit'
klog() {
  need "$1" || return
  if command -v grep >/dev/null 2>&1; then
    { bounded "$@"; mark "rc $?"; } | grep -E -e "$OOM" -e "^==roadie:$token:rc "
  else
    bounded "$@"; mark "rc $?"
  fi
}
journal() {
  if [ -n "$since" ]; then klog journalctl -k --no-pager -o short-iso --since "$since"
  else klog journalctl -k --no-pager -o short-iso -b; fi
}
show() {
  while IFS= read -r show_line || [ -n "$show_line" ]; do printf '%s\n' "$show_line"; done <"$1"
}
system() {
  printf 'kernel %s\n' "$(uname -r)"
  printf 'now %s\n' "$(date +%s)"
  printf 'utc_offset %s\n' "$(date +%z)"
  read -r sys_up _ </proc/uptime && printf 'uptime %s\n' "$sys_up"
  # sysctl files end where a byte-by-byte read stops early: no status check.
  sys_restrict=
  [ -r /proc/sys/kernel/dmesg_restrict ] && read -r sys_restrict </proc/sys/kernel/dmesg_restrict
  [ -z "$sys_restrict" ] || printf 'dmesg_restrict %s\n' "$sys_restrict"
  printf 'user %s\n' "$(id -un)"
  # --since as the server reads it (for the dmesg fallback and the report).
  [ -z "$since" ] || { sys_since=$(date -d "$since" +%s 2>/dev/null) && printf 'since %s\n' "$sys_since"; }
  return 0
}
processes() {
  if command -v ps >/dev/null 2>&1 && ps -eo pid=,rss=,comm=; then return 0; fi
  printf 'from /proc\n'
  for ps_dir in /proc/[0-9]*; do
    ps_name= ps_rss=
    while read -r ps_key ps_value; do
      case $ps_key in Name:) ps_name=$ps_value ;; VmRSS:) ps_rss=${ps_value%% *}; break ;; esac
    done 2>/dev/null <"$ps_dir/status"
    [ -n "$ps_rss" ] && printf '%s %s %s\n' "${ps_dir#/proc/}" "$ps_rss" "$ps_name"
  done
  return 0
}
group() {
  printf 'group %s\n' "$2"
  for group_file in memory.max memory.high memory.current memory.peak memory.swap.max \
      memory.swap.current memory.limit_in_bytes memory.usage_in_bytes memory.max_usage_in_bytes \
      memory.failcnt; do
    [ -r "$1/$group_file" ] && read -r group_value <"$1/$group_file" &&
      printf '%s %s\n' "$group_file" "$group_value"
  done
  for group_file in memory.events memory.oom_control; do
    [ -r "$1/$group_file" ] || continue
    while read -r group_key group_value; do
      printf '%s.%s %s\n' "$group_file" "$group_key" "$group_value"
    done <"$1/$group_file"
  done
}
walk() {
  walk_path=$1
  while :; do
    [ -d "$root$walk_path" ] && group "$root$walk_path" "$walk_path"
    case $walk_path in /|'') break ;; esac
    walk_path=${walk_path%/*}; [ -n "$walk_path" ] || walk_path=/
  done
}
cgroups() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then mode=v2 root=/sys/fs/cgroup
  elif [ -d /sys/fs/cgroup/memory ]; then mode=v1 root=/sys/fs/cgroup/memory
  else echo 'no cgroup memory controller is mounted under /sys/fs/cgroup' >&2; return 1; fi
  printf 'mode %s\n' "$mode"
  pids=$pid
  if [ -n "$pattern" ]; then
    need grep || return
    printf 'x\n' | grep -E -e "$pattern" >/dev/null
    [ $? -eq 2 ] && return 2
    count=0
    for comm_file in $(grep -l -E -e "$pattern" /proc/[0-9]*/comm 2>/dev/null); do
      named=${comm_file#/proc/}; named=${named%/comm}
      [ "$named" = "$$" ] && continue
      count=$((count + 1)); [ $count -le MAX_NAMED ] || break
      pids="$pids $named"
    done
  fi
  for one in $pids; do
    if ! read -r comm 2>/dev/null </proc/$one/comm; then
      [ -n "$pattern" ] || printf 'gone %s\n' "$one"
      continue
    fi
    printf 'process %s %s\n' "$one" "$comm"
    while IFS=: read -r _ controllers path; do
      case $mode in
        v1) case ,$controllers, in *,memory,*) ;; *) continue ;; esac ;;
        v2) [ -z "$controllers" ] || continue ;;
      esac
      printf 'in %s\n' "$path"
      walk "$path"
    done 2>/dev/null </proc/$one/cgroup
  done
  printf 'limited\n'
  if [ $mode = v2 ]; then limit_file=memory.max; else limit_file=memory.limit_in_bytes; fi
  for dir in "$root" "$root"/*/ "$root"/*/*/ "$root"/*/*/*/ "$root"/*/*/*/*/; do
    [ -r "$dir/$limit_file" ] && read -r limit <"$dir/$limit_file" || continue
    case $mode,$limit in v2,max) continue ;; v1,*) [ ${#limit} -lt 19 ] || continue ;; esac
    rel=${dir#"$root"}; rel=/${rel#/}; rel=${rel%/}
    group "$dir" "${rel:-/}"
  done
  return 0
}
containers() {
  need docker || return
  ids=$(bounded docker ps -a -q --no-trunc --filter status=exited --filter status=dead) || return
  [ -n "$ids" ] || return 0
  bounded docker inspect --format '{{.Id}}|{{.Name}}|{{.State.OOMKilled}}|{{.State.ExitCode}}|{{.State.FinishedAt}}|{{.Config.Image}}|{{.HostConfig.Memory}}' $ids
}
disk() { need df || return; bounded df -P -k -- "$1"; }
sec system system
sec journal journal
sec dmesg klog dmesg
sec meminfo show /proc/meminfo
sec processes processes
sec cgroups cgroups
sec docker containers
[ -z "$site" ] || sec disk-site disk "$site"
sec disk-tmp disk /tmp
sec disk-logs disk /var/log
