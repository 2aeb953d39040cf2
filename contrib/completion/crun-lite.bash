# bash completion for crun-lite: verbs, their options, container ids and images.
# Installed by meson into $datadir/bash-completion/completions/crun-lite.

_crun_lite_ids() {
    local root=()
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == --root ]] && root=(--root "${COMP_WORDS[i + 1]}")
    done
    crun-lite "${root[@]}" list -q 2>/dev/null
}

_crun_lite() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local verbs="create start run exec state kill delete list pause resume ps update events spec features image"
    local globals="--root --log --log-format --debug --rootless --cgroup-manager --systemd-cgroup --help --version"
    local verb="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --root | --log | --log-format | --rootless | --cgroup-manager | --criu) ((i++)) ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $verb ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$globals" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
        fi
        return
    fi
    local opts=""
    case $verb in
        create) opts="--bundle --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds" ;;
        run) opts="--bundle --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds --detach --keep --config" ;;
        exec) opts="--process --env --cwd --user --additional-gids --cap --tty --detach --pid-file --console-socket --preserve-fds --no-new-privs --apparmor --ignore-paused" ;;
        kill) opts="--all" ;;
        delete) opts="--force" ;;
        list) opts="--format --quiet" ;;
        ps) opts="--format" ;;
        update) opts="--resources --memory --memory-reservation --memory-swap --pids-limit --cpu-period --cpu-quota --cpu-share --cpu-rt-period --cpu-rt-runtime --cpuset-cpus --cpuset-mems --blkio-weight" ;;
        events) opts="--stats --interval" ;;
        spec) opts="--bundle --rootless" ;;
        image)
            mapfile -t COMPREPLY < <(compgen -W "load import ls inspect rm prune --store --name --format --quiet" -- "$cur")
            return ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts --help" -- "$cur")
    else
        case $verb in
            start | exec | state | kill | delete | pause | resume | ps | update | events)
                mapfile -t COMPREPLY < <(compgen -W "$(_crun_lite_ids)" -- "$cur") ;;
            *) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        esac
    fi
}

complete -F _crun_lite crun-lite
